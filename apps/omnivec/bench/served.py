"""A served collection for the gRPC figures: N synthetic rows, an `omnivec serve` subprocess.

Rows are synthesised straight through ``Collection.add_rows`` (a pyarrow table shaped like the one
``ingest.Ingestor._embed`` builds) with random normalised vectors, so a 100k collection takes
seconds instead of an hour of MiniLM. The server runs in its own process, as in production, so its
threads never share a GIL with the benchmark's clients.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.bench.common import BenchContext, random_unit_vectors
from omnivec.server.announce import SERVING, serving_address

COLLECTION = "bench"
_TIMELINE_LINES = 200  # start-up lines kept with their times (milestones)


def synth_table(
    start: int, count: int, dims: dict[str, int], *, seed: int, texts: list[str] | None = None,
    vectors: dict[str, np.ndarray] | None = None,
) -> Any:
    """Rows like the indexer writes for texts: one chunk per item, metadata JSON, one vector per
    space (``dims``: space -> dimension; random unit vectors unless ``vectors`` gives them);
    ``texts`` (else ``synthetic row N``) for the keyword index."""
    import pyarrow as pa

    from omnivec.indexer.store import vector_column

    ids = [f"item{start + i:08d}" for i in range(count)]
    arrays: dict[str, Any] = {
        "item_id": pa.array(ids),
        "chunk": pa.array(np.zeros(count, dtype=np.int32), pa.int32()),
        "modality": pa.array(["text"] * count),
        "source_uri": pa.array([None] * count, pa.string()),
        "content_hash": pa.array(ids),
        "text": pa.array(texts if texts is not None else [f"synthetic row {start + i}" for i in range(count)]),
        "start_s": pa.array([None] * count, pa.float64()),
        "end_s": pa.array([None] * count, pa.float64()),
        "metadata": pa.array([json.dumps({"n": start + i}) for i in range(count)], pa.json_(pa.utf8())),
    }
    for k, (space, dim) in enumerate(sorted(dims.items())):
        given = (vectors or {}).get(space)
        matrix = given if given is not None else random_unit_vectors(count, dim, seed=seed * 7 + k)
        flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1), pa.float32())
        arrays[vector_column(space)] = pa.FixedSizeListArray.from_arrays(flat, dim)
    return pa.table(arrays)


def build_collection(settings: Any, n: int, *, spaces: tuple[str, ...] = ("text",),
                     batch: int = 20_000) -> dict[str, Any]:
    """Create COLLECTION with ``n`` synthetic rows and a flushed ANN index; returns timings."""
    from omnivec.indexer.engine import Engine

    engine = Engine(settings)
    try:
        if engine.store.exists(COLLECTION):
            engine.delete_collection(COLLECTION)
        collection = engine.create_collection(COLLECTION, list(spaces))
        t0 = time.perf_counter()
        for start in range(0, n, batch):
            count = min(batch, n - start)
            dims = {space: collection.specs[space].dim for space in spaces}
            collection.add_rows(synth_table(start, count, dims, seed=start + 1))
        t1 = time.perf_counter()
        collection.flush_ann()
        t2 = time.perf_counter()
        kinds = {s: collection.ann(s).params.to_dict() for s in spaces}
    finally:
        engine.close()
    return {"rows": n, "write_s": round(t1 - t0, 2), "ann_build_s": round(t2 - t1, 2), "ann": kinds}


def settings_env(settings: Any) -> dict[str, str]:
    """OMNIVEC_* variables that make a subprocess load exactly these settings."""
    env = {
        "OMNIVEC_DATA_DIR": str(settings.data_dir),
        "OMNIVEC_OFFLINE": "1" if settings.offline else "0",
        "OMNIVEC_DEVICE": settings.device,
        "OMNIVEC_TORCH_THREADS": str(settings.torch_threads),
        "OMNIVEC_DECODE_WORKERS": str(settings.decode_workers),
        "OMNIVEC_CLIP__ENABLED": "1" if settings.clip.enabled else "0",
        "OMNIVEC_SPEECH__ENABLED": "1" if settings.speech.enabled else "0",
    }
    if settings.clip.enabled:
        env["OMNIVEC_CLIP__MODEL"] = settings.clip.model
        if settings.clip.checkpoint is not None:
            env["OMNIVEC_CLIP__CHECKPOINT"] = str(settings.clip.checkpoint)
        if settings.clip.architecture_file is not None:
            env["OMNIVEC_CLIP__ARCHITECTURE_FILE"] = str(settings.clip.architecture_file)
    return env


def serve_command() -> list[str]:
    """``omnivec serve --port 0`` through the CLI module (works without the console script)."""
    return [sys.executable, "-m", "omnivec.cli.main", "serve", "--host", "127.0.0.1", "--port", "0"]


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    address: str
    started_at: float  # perf_counter when Popen was called
    announced_at: float
    log_lines: list[str] = field(default_factory=list)
    timeline: list[tuple[float, str]] = field(default_factory=list)  # (s since Popen, line)

    def milestones(self) -> dict[str, float]:
        """Seconds since Popen at which the server logged each start-up step (when it did)."""
        marks = {
            "port_bound": SERVING, "text_loaded": "encoder text: loaded",
            "clip_loaded": "encoder clip: loaded", "speech_loaded": "encoder speech: loaded",
            "health_serving": "ready: health SERVING",
        }
        out: dict[str, float] = {}
        for key, needle in marks.items():
            for t, line in self.timeline:
                if needle in line:
                    out[key] = round(t, 2)
                    break
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(settings: Any, *, timeout: float = 300.0,
                 extra_env: dict[str, str] | None = None) -> ServerProcess:
    env = {**os.environ, **settings_env(settings), "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", **(extra_env or {})}
    env.pop("OMNIVEC_CONFIG", None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        serve_command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
        stdin=subprocess.DEVNULL,
    )
    lines: list[str] = []
    timeline: list[tuple[float, str]] = []
    found: dict[str, Any] = {}
    ready = threading.Event()

    def pump() -> None:
        """Reads the server's output in chunks, not a line per call: the server logs a line per
        RPC, and a line-by-line reader in the benchmark process took the GIL and a core from the
        client it times. Lines are looked at only until the start-up milestones are seen."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        partial = b""
        while chunk := os.read(fd, 1 << 16):
            *complete, partial = (partial + chunk).split(b"\n")
            if len(timeline) >= _TIMELINE_LINES and "address" in found:
                lines[:] = [*lines, *(c.decode(errors="replace") for c in complete[-50:])][-500:]
                continue
            for raw in complete:
                line = raw.decode(errors="replace").rstrip()
                lines.append(line)
                if len(timeline) < _TIMELINE_LINES:
                    timeline.append((time.perf_counter() - started, line))
                address = serving_address(line)
                if address and "address" not in found:
                    found["address"] = address
                    found["at"] = time.perf_counter()
                    ready.set()
            del lines[:-500]
        ready.set()

    threading.Thread(target=pump, name="serve-log", daemon=True).start()
    if not ready.wait(timeout) or "address" not in found:
        proc.kill()
        raise RuntimeError("omnivec serve did not announce its port; last output:\n" + "\n".join(lines[-20:]))
    return ServerProcess(proc, found["address"], started, found["at"], lines, timeline)


def wait_serving(client: Any, timeout: float = 300.0) -> float:
    """Poll health until SERVING (all encoders warmed); returns perf_counter when it was."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        try:
            if client.health(timeout=2) == "SERVING":
                return time.perf_counter()
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.05)
    raise RuntimeError("server never reported SERVING")


@dataclass
class ServedCollection:
    """Shared by figures 2 and 3: the synthetic collection, its server, and the raw baseline."""

    n: int
    settings: Any
    server: ServerProcess
    build: dict[str, Any]
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for fn in reversed(self.closers):
            try:
                fn()
            except Exception:  # noqa: BLE001
                pass
        self.server.stop()


def served_collection(ctx: BenchContext) -> ServedCollection:
    """Build (once per suite run) the 100k (quick: 20k) text collection and serve it."""
    cached = ctx.shared.get("served")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    n = 20_000 if ctx.quick else 100_000
    settings = ctx.settings("served", use_clip=False, speech={"enabled": False})
    ctx.log(f"  synthesising {n:,} rows and serving them ...")
    build = build_collection(settings, n)
    server = start_server(settings)
    served = ServedCollection(n, settings, server, build)
    ctx.shared["served"] = served
    ctx.on_close.append(served.close)
    return served


def ann_path(settings: Any, space: str = "text") -> Path:
    return Path(settings.data_dir) / COLLECTION / "ann" / f"{space}.faiss"
