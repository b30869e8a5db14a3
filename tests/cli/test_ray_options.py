"""`omnivec index --ray`: wrong options give one clear error before any work (no Ray started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.processes import invoke_cli


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (["--ray", "not an address"], "is not a Ray address"),
        (["--ray", "local", "--ray-actors", "0"], "--ray-actors must be >= 1"),
        (["--ray", "local", "--ray-actor-cpus", "0"], "--ray-actor-cpus must be > 0"),
        (["--ray-actors", "2"], "need --ray"),
        (["--server", "127.0.0.1:1", "--ray", "local"], "drop one of the two options"),
    ],
    ids=["bad-address", "no-actors", "no-cpus", "without-ray", "with-server"],
)
def test_bad_ray_options_are_refused(
    tmp_path: Path, cli_env: dict[str, str], options: list[str], reason: str
) -> None:
    (tmp_path / "note.txt").write_text("a note")
    server = options[:2] if options[0] == "--server" else []
    rest = options[2:] if server else options
    result = invoke_cli(*server, "index", str(tmp_path), "-c", "notes", *rest, env=cli_env)
    assert result.returncode == 2, result.stderr + result.stdout
    assert reason in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (Path(cli_env["OMNIVEC_DATA_DIR"]) / "notes").exists(), "nothing was written"


@pytest.mark.parametrize(
    ("ray", "actors", "limit"),
    [
        ({}, 1, 1),  # one CPU actor: one decode task feeds it
        ({"actor_cpus": 2.0}, 3, 6),  # one per actor CPU
        ({"actor_cpus": 0.5}, 2, 2),  # at least one per actor
        ({"actor_gpus": 1.0}, 4, None),  # GPU actors need many decoders: Ray's own limit
        ({"actor_gpus": 1.0, "stage_tasks": 12}, 4, 12),  # an explicit limit always holds
        ({"stage_tasks": 3}, 1, 3),
    ],
    ids=["one-cpu-actor", "per-actor-cpu", "fractional-actor", "gpu", "gpu-explicit", "explicit"],
)
def test_stage_task_limit_follows_the_encoder_actors(
    ray: dict[str, float], actors: int, limit: int | None
) -> None:
    """Decode and write tasks are capped by the actors they feed (``ray.stage_tasks`` = 0)."""
    from omnivec.indexer.config import RaySettings
    from omnivec.indexer.distributed.cluster import stage_task_limit

    assert stage_task_limit(RaySettings(**ray), actors) == limit
