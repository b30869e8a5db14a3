"""Running omnivec as a user would: the console script, the CLI app in process, a real server."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.paths import OMNIVEC_BIN


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the installed `omnivec` console script, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(OMNIVEC_BIN), *args], capture_output=True, text=True, env=full_env, cwd=cwd,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )


def invoke_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The same `omnivec` app in this process (typer's CliRunner): the console script's code
    without paying interpreter start and model loading per command. Use run_cli where the
    process boundary itself is under test (exit codes of the real script, offline, signals)."""
    from typer.testing import CliRunner

    from omnivec.cli.main import app

    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


@contextlib.contextmanager
def serve_process(env: dict[str, str], data_dir: Path | str) -> Iterator[str]:
    """A real `omnivec serve` subprocess on a free loopback port; yields HOST:PORT."""
    proc = subprocess.Popen(
        [str(OMNIVEC_BIN), "serve", "--host", "127.0.0.1", "--port", "0"],
        env={**os.environ, **env, "OMNIVEC_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        target = None
        for line in proc.stdout:
            match = re.search(r"omnivec serving on (\S+)", line)
            if match:
                target = match.group(1)
                break
        assert target, "server did not start"
        _warm_text_encoder(target)
        yield target
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _warm_text_encoder(target: str) -> None:
    """Loads the server's text encoder with a long deadline before any test call.

    The first call that needs MiniLM loads it; on a loaded 2-core machine that alone can pass the
    SDK's 30 s default deadline, which then fails whichever test happens to call first."""
    from omnivec.client import Client

    with Client(target, timeout=300) as client:
        client.embed(texts=["warm-up"], space="text")


def unshare_available() -> bool:
    """Whether `unshare -n` can run a command without network here (root, util-linux)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return probe.returncode == 0
