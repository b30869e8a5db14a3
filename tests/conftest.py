"""Shared fixtures: real models loaded once per session, a tiny real CLIP checkpoint.

No test downloads anything. CLIP uses a tiny open_clip architecture (tests/fixtures/
omnivec-tiny-clip.json) whose weights are created here with a fixed seed and saved as a checkpoint,
then loaded through the same `clip.checkpoint` code path users use for local weights.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: tests never reach a hub

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SPEECH = FIXTURES / "speech"
TINY_ARCH_FILE = FIXTURES / "omnivec-tiny-clip.json"
TINY_ARCH = TINY_ARCH_FILE.stem
OMNIVEC_BIN = Path(sys.executable).parent / "omnivec"

sys.path.insert(0, str(REPO / "tests"))


@pytest.fixture(scope="session")
def tiny_clip_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded tiny CLIP saved as a plain state-dict checkpoint file."""
    import open_clip
    import torch

    open_clip.add_model_config(TINY_ARCH_FILE)
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_ARCH, pretrained=None)
    path = tmp_path_factory.mktemp("clip") / "tiny_clip.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def settings_env(tiny_clip_checkpoint: Path) -> dict[str, str]:
    """Environment variables that configure omnivec for tests (used by subprocess CLI tests too)."""
    return {
        "OMNIVEC_OFFLINE": "1",
        "OMNIVEC_CLIP__MODEL": TINY_ARCH,
        "OMNIVEC_CLIP__ARCHITECTURE_FILE": str(TINY_ARCH_FILE),
        "OMNIVEC_CLIP__CHECKPOINT": str(tiny_clip_checkpoint),
        "OMNIVEC_SPEECH__BEAM_SIZE": "1",
    }


@pytest.fixture(scope="session")
def settings(settings_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from omnivec.indexer.config import load_settings

    old = {k: os.environ.get(k) for k in settings_env}
    os.environ.update(settings_env)
    try:
        return load_settings(data_dir=tmp_path_factory.mktemp("data"))
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def models(settings):  # type: ignore[no-untyped-def]
    from omnivec.indexer.models import ModelHub

    hub = ModelHub(settings)
    yield hub
    hub.close()


@pytest.fixture(scope="session")
def engine(settings, models):  # type: ignore[no-untyped-def]
    from omnivec.indexer.engine import Engine

    return Engine(settings, models)


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real photos from scikit-image saved as files."""
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    out = {}
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
        array = getattr(data, name)()
        path = folder / f"{name}.png"
        Image.fromarray(array).save(path)
        out[name] = path
    return out


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
def serve_process(env: dict[str, str], data_dir: Path) -> Iterator[str]:
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
        yield target
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def unshare_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture
def cli_env(settings_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {**settings_env, "OMNIVEC_DATA_DIR": str(tmp_path / "data")}
