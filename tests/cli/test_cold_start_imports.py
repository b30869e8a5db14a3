"""A text-only CLI session loads only the text path: never open_clip nor faster-whisper, and on
the default text backend (its ONNX export) not even torch or transformers.

Each run is a fresh interpreter (what a user's `omnivec` call is), with CLIP and Whisper enabled
and their weights on disk, so nothing but laziness keeps them out of ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import SAMPLES

CLIP_AND_WHISPER = ("open_clip", "faster_whisper", "ctranslate2")

# Runs the real `omnivec` app (typer) for each command in one interpreter, then reports which of
# the heavy libraries were imported.
SESSION = r"""
import json, sys
from typer.testing import CliRunner
from omnivec.cli.main import app
import omnivec.server.app  # what `omnivec serve` runs, before it loads any encoder

heavy, commands = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for args in commands:
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    if result.exit_code != 0:
        sys.exit(f"{args} failed ({result.exit_code}): {result.output}")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def _imported(commands: list[list[str]], env: dict[str, str], heavy: tuple[str, ...]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SESSION, json.dumps(heavy), json.dumps(commands)],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_server_and_cli_modules_import_no_model_library(settings_env: dict[str, str]) -> None:
    found = _imported([["--help"]], settings_env, ("torch", "sentence_transformers",
                                                   *CLIP_AND_WHISPER))
    assert found == []


def test_text_index_probe_search_and_classify_never_load_clip_or_whisper(
    settings_env: dict[str, str], tmp_path: Path,
) -> None:
    labels = tmp_path / "labels.csv"
    tickets = [json.loads(line) for line in (SAMPLES / "texts" / "tickets.jsonl").open()]
    labels.write_text("id,label\n" + "".join(f"{t['id']},{t['priority']}\n" for t in tickets))
    data = ["--data", str(tmp_path / "data")]
    found = _imported([
        [*data, "index", str(SAMPLES / "texts"), "-c", "notes", "--space", "text", "-q"],
        [*data, "probe", "train", "priority", "-c", "notes", "-l", str(labels), "--no-unlabeled"],
    ], settings_env, CLIP_AND_WHISPER)
    assert found == []
    # Once the text encoder's ONNX export exists (the first load above made it if the cache had
    # none: that needs torch once), a query session on the default backend never imports torch,
    # transformers or sentence-transformers: the seconds they cost are most of a cold start.
    found = _imported([
        [*data, "search", "the coffee machine is broken", "-c", "notes", "-k", "2"],
        [*data, "classify", "-c", "notes", "--probe", "priority", "--text", "the pump rattles"],
    ], settings_env, ("torch", "transformers", "sentence_transformers", *CLIP_AND_WHISPER))
    assert found == []
