"""A closed stdout is normal in a pipeline (`omnivec ... --json | head -1`): exit quietly."""

from __future__ import annotations

import os
import subprocess

from tests.support.paths import OMNIVEC_BIN


def test_a_reader_that_went_away_gets_no_error_message(settings_env: dict[str, str]) -> None:
    proc = subprocess.Popen(
        [str(OMNIVEC_BIN), "models", "list", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        env={**os.environ, **settings_env},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `head -1` exiting before the CLI writes
    stderr = proc.stderr.read().decode()
    code = proc.wait(120)
    assert "BrokenPipe" not in stderr and "internal error" not in stderr, stderr
    assert stderr.strip() == ""
    assert code == 141  # 128 + SIGPIPE: what a shell reports for a CLI stopped by a closed pipe
