"""Joining a Ray cluster, or starting one on this machine, for one indexing run."""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from omnivec.indexer.config import RaySettings
from omnivec.indexer.distributed.job import DISTRIBUTED_EXTRA_HINT, RayJob
from omnivec.indexer.errors import FailedPreconditionError

__all__ = ["encoder_actor_count", "ray_connection", "require_ray", "stage_task_limit"]

log = logging.getLogger("omnivec.distributed")


def require_ray() -> ModuleType:
    """The ``ray`` module, or a FailedPreconditionError naming the extra to install."""
    try:
        import lance  # noqa: F401 - lance-ray's fragment writer and the commit need it
        import lance_ray  # noqa: F401
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise FailedPreconditionError(
            f"indexing with --ray needs Ray and lance-ray ({exc.name} is missing); "
            f"{DISTRIBUTED_EXTRA_HINT}"
        ) from exc
    return ray


@contextmanager
def ray_connection(job: RayJob, settings: RaySettings) -> Iterator[None]:
    """Connected to Ray for the block. A connection the caller already made (a notebook, a test)
    is used as it is and left open; otherwise ``local`` starts a Ray on this machine and stops it
    afterwards, and any other address is joined and left."""
    ray = require_ray()
    if ray.is_initialized():
        _quiet_ray_data()
        yield
        return
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
    # Ray starts its processes with fork+exec; lancedb warns about any fork of a process that
    # loaded it, but the exec replaces the child before lancedb's runtime could be used there.
    warnings.filterwarnings("ignore", message="lancedb fork support", category=RuntimeWarning)
    try:
        if job.address == "local":
            # address="local" always starts a new Ray (a bare ray.init() would join one that
            # `ray start` left running on this machine).
            ray.init(address="local", num_cpus=settings.local_cpus or os.cpu_count() or 1, **quiet)
        else:
            # include_dashboard only applies to a Ray this call starts.
            quiet.pop("include_dashboard")
            ray.init(address=job.address, **quiet)
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
        raise FailedPreconditionError(
            f"cannot reach a Ray cluster at {job.address!r}: {exc}; start one (`ray start "
            "--head`) or index with --ray local"
        ) from exc
    _quiet_ray_data()
    try:
        yield
    finally:
        ray.shutdown()


def _quiet_ray_data() -> None:
    """The run reports its own progress; Ray Data's bars and plan dumps would interleave."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for name in ("ray.data", "ray._private", "ray"):
        logging.getLogger(name).setLevel(logging.WARNING)


def encoder_actor_count(settings: RaySettings) -> int:
    """How many encoder actors the run starts (``ray.actors``, or what the cluster holds)."""
    import ray

    if settings.actors:
        return settings.actors
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    if settings.actor_gpus > 0:
        fit = int(resources.get("GPU", 0) / settings.actor_gpus)
    else:
        fit = int(max(resources.get("CPU", 1) - 1, 0) / settings.actor_cpus)
    return max(1, fit)


def stage_task_limit(settings: RaySettings, actors: int) -> int | None:
    """How many decode (and write) tasks may run at once; None: as many as Ray fits.

    One decode task decodes and preprocesses images faster than one CPU encodes them (a 640x480
    JPEG to a CLIP tensor: ~30/s against ViT-B-32's ~11/s per core), so one per actor CPU keeps
    CPU actors fed. More only start worker processes that each import torch, which on 2 cores
    stretched the encoder actor's model load from 5 s to 15 s. A GPU actor encodes hundreds of
    images a second and needs many decoders: no limit there unless ``stage_tasks`` sets one.
    """
    if settings.stage_tasks:
        return settings.stage_tasks
    if settings.actor_gpus > 0:
        return None
    return max(1, actors * math.ceil(settings.actor_cpus))
