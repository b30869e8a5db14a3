"""Running omnivec as a user would: the console script, the CLI app in process, a real server."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from omnivec.server.announce import serving_address
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


def drain(stream: Iterable[str] | None) -> tuple[list[str], threading.Thread]:
    """Reads a child's pipe into a list as it comes, on a daemon thread: a pipe nobody reads
    holds 64 KiB, and a server that logs every RPC then blocks in a log write."""
    lines: list[str] = []
    thread = threading.Thread(target=lambda: lines.extend(stream or ()), name="drain", daemon=True)
    thread.start()
    return lines, thread


@contextlib.contextmanager
def serve_process(env: dict[str, str], data_dir: Path | str) -> Iterator[str]:
    """A real `omnivec serve` subprocess on a free loopback port; yields HOST:PORT."""
    # The log goes to a file, not a pipe: nobody reads a pipe while the tests run, and a server
    # blocked in a log write stops answering. The file is what a failed start shows.
    log = tempfile.NamedTemporaryFile("w+", prefix="omnivec-serve-", suffix=".log")
    proc = subprocess.Popen(
        [str(OMNIVEC_BIN), "serve", "--host", "127.0.0.1", "--port", "0"],
        env={**os.environ, **env, "OMNIVEC_DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE, stderr=log, text=True,
    )
    try:
        assert proc.stdout is not None
        target = None
        for line in proc.stdout:
            target = serving_address(line)
            if target:
                break
        assert target, f"server did not start:\n{_tail(log)}"
        try:
            wait_until_every_encoder_serves(target, {**os.environ, **env})
        except AssertionError as failed:
            proc.send_signal(signal.SIGUSR1)  # every thread's stack into the log (omnivec.server.app)
            time.sleep(2)
            raise AssertionError(f"{failed}\nserver log, stacks last:\n{_tail(log)}") from None
        _warm_text_encoder(target)
        yield target
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def _tail(log: IO[str], lines: int = 200) -> str:
    """The last lines of a server's log file, health checks left out."""
    log.flush()
    text = Path(log.name).read_text(errors="replace").splitlines()
    return "\n".join([line for line in text if "Health/Check" not in line][-lines:])


def wait_until_every_encoder_serves(target: str, env: dict[str, str], budget_s: float = 300) -> None:
    """Health SERVING means the text path is warm; CLIP and Whisper may still be loading (see
    omnivec.server.warm_up). Tests expect a whole server: a first CLIP or Whisper call would
    otherwise wait for its encoder, and the load would compete with the test for the cores."""
    from omnivec.client import Client

    names = [""] + [
        f"omnivec.encoder.{name}" for name in ("text", "clip", "speech")
        if env.get(f"OMNIVEC_{name.upper()}__ENABLED", "true").lower() not in ("0", "false")
    ]
    deadline = time.monotonic() + budget_s
    with Client(target, timeout=30) as client:
        while waiting := [name for name in names if client.health(name) != "SERVING"]:
            assert time.monotonic() < deadline, (
                f"encoders not loaded within {budget_s:.0f} s; not SERVING: {waiting}"
            )
            time.sleep(0.2)


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
