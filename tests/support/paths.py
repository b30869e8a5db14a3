"""Where things are: the repository, its fixtures and samples, the installed console script."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
FIXTURES = REPO / "tests" / "fixtures"
SPEECH = FIXTURES / "speech"
TINY_ARCH_FILE = FIXTURES / "omnivec-tiny-clip.json"
TINY_ARCH = TINY_ARCH_FILE.stem
# The `omnivec` console script of the interpreter running the tests (the venv's).
OMNIVEC_BIN = Path(sys.executable).parent / "omnivec"
