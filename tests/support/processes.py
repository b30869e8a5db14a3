"""Running omnivec as a user would: the console script, the CLI app in process, a real server."""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from omnivec.server.announce import SERVING, serving_address
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
    """A real `omnivec serve` subprocess on a free loopback port, every encoder loaded; yields
    HOST:PORT."""
    with tempfile.TemporaryDirectory(prefix="omnivec-serve-") as folder:
        server = ServerProcess(
            {**os.environ, **env, "OMNIVEC_DATA_DIR": str(data_dir)}, Path(folder) / "serve.log"
        )
        server.start()
        try:
            server.wait_every_encoder()
            _warm_text_encoder(server.target)
            yield server.target
        finally:
            server.terminate()


class ServerProcess:
    """One `omnivec serve --host 127.0.0.1 --port 0` subprocess; its log goes to a file (a pipe
    nobody reads while the tests run fills, and a server blocked in a log write stops
    answering). Restartable: each start appends to the same log."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[str] | None = None
        self.target = ""
        self._log: IO[str] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 120.0) -> str:
        """Starts the server and returns HOST:PORT once it has printed its address."""
        self._log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in stop
        self._log.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n")
        self._log.flush()
        self.process = subprocess.Popen(
            [str(OMNIVEC_BIN), "serve", "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE, stderr=self._log, stdin=subprocess.DEVNULL, text=True,
            env=self.env,
        )
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = ""
        try:
            while time.monotonic() < deadline:
                if selector.select(timeout=0.5):
                    line = self.process.stdout.readline()
                    break
                if self.process.poll() is not None:
                    break
        finally:
            selector.close()
        address = serving_address(line)
        if not line.startswith(SERVING) or address is None:
            self.kill()
            raise AssertionError(f"server did not start: {line!r}\n{self.log_tail()}")
        self.target = address
        return self.target

    def wait_serving(self, timeout: float = 180.0) -> None:
        from omnivec.client import Client, OmnivecClientError

        deadline = time.monotonic() + timeout
        with Client(self.target, retries=0, timeout=5) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise AssertionError(f"server exited early\n{self.log_tail()}")
                try:
                    if client.health() == "SERVING":
                        return
                except OmnivecClientError:
                    pass
                time.sleep(0.1)
        raise AssertionError(f"server not SERVING after {timeout} s\n{self.log_tail()}")

    def wait_every_encoder(self, budget_s: float = 300) -> None:
        """Waits until the server and each enabled encoder are SERVING; otherwise fails with
        the encoders still waiting, and the log with every thread's stack (SIGUSR1)."""
        try:
            wait_until_every_encoder_serves(self.target, self.env, budget_s)
        except AssertionError as failed:
            self.send_signal(signal.SIGUSR1)  # the stacks into the log (omnivec.server.app)
            time.sleep(2)
            lines = [line for line in self.log_text().splitlines() if "Health/Check" not in line]
            log = "\n".join(lines[-300:])  # the health polls left out: they would fill it
            raise AssertionError(f"{failed}\nserver log, stacks last:\n{log}") from None

    def send_signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """The exit status once the process ends by itself (after a signal sent earlier)."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        finally:
            self._reap()

    def kill(self) -> None:
        """SIGKILL (kill -9): no shutdown hook, no flush."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self._reap()

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM: the graceful path; returns the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def _reap(self) -> None:
        if self.process is not None:
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
            if self.process.stdout is not None:
                self.process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        """The whole log so far."""
        return self.log_tail(chars=0)

    def log_tail(self, chars: int = 4000) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-chars:] if chars else text


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
