"""A real Ray for the distributed indexing tests: two nodes on this machine.

Each node gets 2 logical CPUs; the pipeline's tasks take a quarter of one each, so the encoder
actors (one CPU each) can never starve the read and write stages. Ray starts its processes with
fork+exec, never a bare fork of this process (lancedb in a forked child has crashed here).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import SAMPLES

pytest.importorskip("ray", reason="the distributed extra (pip install 'omnivec[distributed]')")
pytest.importorskip("lance_ray", reason="the distributed extra (pip install 'omnivec[distributed]')")

NODE = {"num_cpus": 2, "object_store_memory": 256 << 20}


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """A two-node local Ray cluster, this process connected as its driver; yields its address."""
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    cluster.add_node(**NODE)
    ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
    try:
        yield str(cluster.address)
    finally:
        ray.shutdown()
        try:
            cluster.shutdown()
        except ValueError:  # a thread of a failed run reconnected this process: drop it again
            ray.shutdown()
            cluster.shutdown()


@pytest.fixture(scope="session")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind of input once: images, texts, a manifest, speech, a duplicate, two bad files."""
    folder = tmp_path_factory.mktemp("mixed")
    for name in ("astronaut.jpg", "coffee.jpg", "rocket.jpg"):
        shutil.copy(SAMPLES / "images" / name, folder / name)
    for name in ("espresso.txt", "cats.md", "tickets.jsonl", "space_launches.txt"):
        shutil.copy(SAMPLES / "texts" / name, folder / name)
    shutil.copy(SAMPLES / "texts" / "espresso.txt", folder / "espresso_again.txt")
    shutil.copy(SAMPLES / "audio" / "cooking.wav", folder / "cooking.wav")
    (folder / "not_an_image.jpg").write_bytes(b"these bytes are no JPEG")
    (folder / "empty.txt").write_text("   \n")
    return folder


def write_notes(folder: Path, count: int) -> list[Path]:
    """``count`` distinct one-chunk text files."""
    topics = ["rivers", "mountains", "violins", "volcanoes", "bicycles", "glaciers", "orchids"]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"note_{i:04d}.txt"
        path.write_text(f"Note {i} is about {topics[i % len(topics)]}, fact {i * 7 % 13}.")
        paths.append(path)
    return paths
