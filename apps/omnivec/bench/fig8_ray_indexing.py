"""Figure 7: indexing on Ray (a two-node local cluster) vs the in-process indexer, same cores
and files.

Both index the same folder of JPEGs with CLIP ViT-B-32 (seeded random weights) into a fresh
collection: the in-process ``Engine.index_paths`` with ``ctx.threads`` torch threads and its decode
workers, and ``Engine.index_paths(ray=...)`` on a ``ray.cluster_utils.Cluster`` of two nodes on
this machine, with one encoder actor of ``ctx.threads`` CPUs (the same model threads) and
quarter-CPU read, decode and write tasks. Runs alternate. Each is timed from the call to the
returned report (discovery, hashing, decoding, encoding, commits, ANN flush). The Ray side pays
what every Ray job pays: its encoder actor starts and loads the model, which the in-process side
did once before timing; the cluster itself is started once, like a server. Also reported: the
steady-state rate (items between the first and the last commit, over that time), which is what
the capacity model in the README scales ("items/s per encoder actor"). Opt-in
(``omnivec bench --only fig8``): it needs the ``distributed`` extra and minutes of start-up.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from omnivec.bench.common import (
    BenchContext,
    FigureResult,
    Measure,
    judge,
    make_jpegs,
    paired,
    stats,
)

TARGET = 0.8
# With --device cuda the actor takes the GPU (fp32 here: the pipeline runs no autocast).


def run(ctx: BenchContext) -> list[FigureResult]:
    try:
        import ray
        from ray.cluster_utils import Cluster
    except ImportError:
        return [FigureResult("fig8", "fig8.ray", "Indexing on Ray vs in process", "",
                             status="SKIPPED", notes=["needs the distributed extra: pip install "
                                                      "'omnivec[distributed]'"])]
    from omnivec.indexer.config import RaySettings
    from omnivec.indexer.distributed import RayJob
    from omnivec.indexer.engine import Engine

    gpu = ctx.device.startswith("cuda")
    n = (2048 if gpu else 384) if ctx.quick else (8192 if gpu else 2048)
    batch = 128 if gpu else 32
    cores = os.cpu_count() or 1
    files = make_jpegs(ctx.path("fig8", "jpegs"), n)
    folder = files[0].parent
    warm = ctx.path("fig8", "warm")
    make_jpegs(warm, 8, seed=1)
    ray_settings = RaySettings(actors=1, actor_cpus=float(ctx.threads), batch_items=batch,
                               commit_rows=256, actor_gpus=1.0 if gpu else 0.0)
    settings = ctx.settings("fig8", clip={"batch_size": batch}, ray=ray_settings.model_dump())
    engine = Engine(settings)
    engine.index_paths("warmup", [warm], spaces=["clip"])  # the in-process model load, untimed

    # Two nodes, each with every core as logical CPUs: the cores are this machine's either way,
    # and the actor (ctx.threads CPUs) must fit on one node beside the fractional tasks.
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": cores, "num_gpus": 1 if gpu else 0, "include_dashboard": False})
    cluster.add_node(num_cpus=cores)
    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.WARNING)
    steady: dict[str, list[float]] = {"in_process": [], "ray": []}

    def timed(r: int, label: str, job: Any) -> float:
        stamps: list[float] = []
        started = time.perf_counter()
        report = engine.index_paths(f"{label}{r}", [folder], spaces=["clip"], ray=job,
                                    on_event=lambda e: stamps.append(time.perf_counter()))
        elapsed = time.perf_counter() - started
        if report.indexed != n or report.failed:
            raise RuntimeError(f"{label}: indexed {report.indexed}/{n}: {report.failed[:3]}")
        first = sum(1 for s in stamps if s == stamps[0])  # the first commit's items
        if stamps[-1] > stamps[0]:
            steady[label].append((n - first) / (stamps[-1] - stamps[0]))
        return n / elapsed

    try:
        a, b = paired(lambda r: timed(r, "ray", RayJob(cluster.address)),
                      lambda r: timed(r, "in_process", None), max(2, ctx.repeats - 1))
    finally:
        engine.close()
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]
    ratio = stats([x / y for x, y in zip(a, b)])
    steady_ratio = stats(steady["ray"]).median / stats(steady["in_process"]).median
    return [FigureResult(
        "fig8", "fig8.ray", "Indexing on a two-node local Ray cluster vs in process",
        f"Engine.index_paths(ray=...) on a two-node ray.cluster_utils.Cluster (1 encoder actor "
        f"of {ctx.threads} CPU, quarter-CPU tasks, decode and write tasks capped by "
        f"ray.stage_tasks) vs in-process Engine.index_paths, same {n} "
        f"JPEGs (640x480), {ctx.clip_model} with seeded random weights, batch {batch}, "
        f"{ctx.threads} torch threads, {cores} cores shared by both",
        omnivec=Measure("index --ray (two-node local cluster)", "images/s", stats(a)),
        raw=Measure("index in process", "images/s", stats(b)),
        ratio=Measure("Ray / in-process throughput", "x", ratio),
        target=f">= {TARGET}x", status=judge(ratio.median, TARGET, higher_is_better=True),
        extra={
            "images": n, "batch_items": batch, "encoder_actors": 1, "device": ctx.device,
            "actor_cpus": ctx.threads, "task_cpus": ray_settings.task_cpus,
            "stage_tasks": ray_settings.stage_tasks or "auto (one per actor CPU)",
            "steady_state_images_per_s": {k: stats(v).to_dict() for k, v in steady.items()},
            "steady_state_ratio": round(steady_ratio, 3),
        },
        notes=[
            "end to end: the Ray side includes starting its encoder actor and loading the model "
            "there (a fixed cost per run); steady_state_* is the rate between the first and the "
            "last commit",
        ],
    )]
