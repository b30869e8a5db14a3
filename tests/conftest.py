"""Shared fixtures: real models loaded once per session, a tiny real CLIP checkpoint.

No test downloads anything. CLIP uses a tiny open_clip architecture (tests/fixtures/
omnivec-tiny-clip.json) whose weights are created here with a fixed seed and saved as a checkpoint,
then loaded through the same `clip.checkpoint` code path users use for local weights.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import TINY_ARCH, TINY_ARCH_FILE
from tests.support.seaweedfs import SeaweedFS
from tests.support.storage import STORAGES, StorageTarget

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: tests never reach a hub

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
        # One thread everywhere: torch's sums differ in the 7th digit with the thread count, and
        # the auto policy (omnivec.indexer.threads) picks counts by batch size and load, so a
        # CLI and a server embedding the same texts could disagree there; the congruence suites
        # compare floats exactly. tests/engine/test_threads.py tests the auto policy itself.
        "OMNIVEC_TORCH_THREADS": "1",
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


@pytest.fixture
def cli_env(settings_env: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {**settings_env, "OMNIVEC_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One real S3 server (SeaweedFS `weed mini` on free ports) for the whole run, started the
    first time a test asks for it."""
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(scope="module", params=STORAGES)
def storage(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> StorageTarget:
    """Local disk, then SeaweedFS: the storage-dependent suites run once on each."""
    folder = tmp_path_factory.mktemp(f"storage-{request.param}")
    if request.param == "s3":
        return StorageTarget("s3", folder, request.getfixturevalue("seaweedfs"))
    return StorageTarget("local", folder)
