"""What every benchmark figure shares: the run context, paired timing, statistics, test data.

Every figure is a ratio measured side by side in one run against the raw library doing the same
work, because absolute times on shared machines are noisy. Runs of omnivec and of the raw library
are interleaved (A B, then B A, ...), so a burst of noise from a neighbour hits both sides alike.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CLIP_AS_SERVICE",
    "BenchContext",
    "FigureResult",
    "Measure",
    "Stats",
    "judge",
    "random_unit_vectors",
    "clustered_vectors",
    "ensure_random_clip_checkpoint",
    "make_jpegs",
    "make_texts",
    "paired",
    "stats",
    "timed",
]

# Published figures for a comparable server (clip-as-service, ViT-B-32 on a TITAN RTX).
CLIP_AS_SERVICE: dict[str, Any] = {"images_per_s": 286.0, "texts_per_s": 1064.0, "gpu": "TITAN RTX", "model": "ViT-B-32"}


@dataclass(frozen=True)
class Stats:
    """Median, min and max of repeated measurements (all values kept for the JSON)."""

    median: float
    min: float
    max: float
    n: int
    values: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "median": _round(self.median), "min": _round(self.min), "max": _round(self.max),
            "n": self.n, "values": [_round(v) for v in self.values],
        }


def _round(x: float) -> float:
    if not math.isfinite(x) or x == 0:
        return x
    digits = max(0, 5 - int(math.floor(math.log10(abs(x)))))
    return round(x, digits)


def stats(values: Sequence[float]) -> Stats:
    vals = [float(v) for v in values]
    if not vals:
        return Stats(math.nan, math.nan, math.nan, 0, ())
    return Stats(statistics.median(vals), min(vals), max(vals), len(vals), tuple(vals))


@dataclass
class Measure:
    """One side of a comparison: a quantity with its unit, over the repeats."""

    label: str  # what ran, e.g. "Engine.index_paths" or "open_clip preprocess + encode_image"
    unit: str  # "images/s", "ms", "s", "QPS"
    stats: Stats

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "unit": self.unit, **self.stats.to_dict()}


@dataclass
class FigureResult:
    """One row of the results table."""

    figure: str  # "fig1", "fig2", ...
    name: str  # "fig1.images"
    title: str
    compared: str  # one sentence: what was compared with what, on which inputs
    omnivec: Measure | None = None
    raw: Measure | None = None
    ratio: Measure | None = None  # omnivec vs raw, per paired repeat, with its definition in unit
    target: str = ""  # e.g. ">= 0.9x"
    status: str = "INFO"  # PASS | GAP | INFO | PENDING | SKIPPED | ERROR
    extra: dict[str, Any] = field(default_factory=dict)  # params, auto-chosen settings, p99, ...
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # wall time the figure took to run

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("omnivec", "raw", "ratio"):
            value = getattr(self, key)
            out[key] = value.to_dict() if value is not None else None
        out["seconds"] = round(self.seconds, 1)
        return out


def judge(value: float, target: float, *, higher_is_better: bool) -> str:
    if not math.isfinite(value):
        return "ERROR"
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "GAP"


@dataclass
class BenchContext:
    """Options and shared resources of one suite run."""

    quick: bool = False
    device: str = "cpu"
    out_dir: Path = Path("benchmarks/results")
    threads: int = field(default_factory=lambda: default_threads())  # torch intra-op (+ CTranslate2)
    faiss_threads: int = field(default_factory=lambda: os.cpu_count() or 1)  # FAISS builds
    decode_workers: int = 2
    repeats: int = 3
    work_dir: Path | None = None
    clip_checkpoint: Path | None = None
    clip_model: str = "ViT-B-32"
    log: Callable[[str], None] = print
    rows: set[str] = field(default_factory=set)  # rows picked by --only fig1.gpu (empty: all)
    shared: dict[str, Any] = field(default_factory=dict)  # resources figures share (a server)
    on_close: list[Callable[[], None]] = field(default_factory=list)
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def __post_init__(self) -> None:
        if self.work_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="omnivec-bench-")
            self.work_dir = Path(self._tmp.name)
        self.work_dir.mkdir(parents=True, exist_ok=True)

    def path(self, *parts: str) -> Path:
        assert self.work_dir is not None
        p = self.work_dir.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def wants(self, row: str) -> bool:
        figure = row.split(".", 1)[0]
        picked = {r for r in self.rows if r.startswith(figure + ".")}
        return not picked or row in picked

    def checkpoint(self) -> Path:
        if self.clip_checkpoint is None:
            self.clip_checkpoint = ensure_random_clip_checkpoint(self.clip_model, log=self.log)
        return self.clip_checkpoint

    def settings(self, name: str, *, use_clip: bool = True, **overrides: Any) -> Any:
        """omnivec Settings for one figure: its own data dir, the bench's thread choices, CLIP
        from the seeded local checkpoint (same path users take for air-gapped weights)."""
        from omnivec.indexer.config import load_settings

        clip_cfg: dict[str, Any] = {"enabled": use_clip}
        if use_clip:
            clip_cfg |= {"model": self.clip_model, "checkpoint": self.checkpoint()}
        clip_cfg |= overrides.pop("clip", {})
        return load_settings(
            data_dir=self.path("data", name),
            offline=True,
            device=self.device,
            torch_threads=self.threads,
            decode_workers=self.decode_workers,
            clip=clip_cfg,
            **overrides,
        )

    def close(self) -> None:
        while self.on_close:
            try:
                self.on_close.pop()()
            except Exception as exc:  # noqa: BLE001 - cleanup never hides the results
                self.log(f"  cleanup failed: {exc}")
        self.shared.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def default_threads() -> int:
    """Half the cores for torch's intra-op pool (at least 1): the other half runs the decode
    workers, the LanceDB writer and the RPC threads, so the pipeline never oversubscribes. On a
    shared 2-core machine 2 intra-op threads measured 4x slower bulk MiniLM and 30x slower single
    queries than 1 (fig1.threads), because each parallel region waits for a preempted thread."""
    return max(1, (os.cpu_count() or 1) // 2)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def paired(
    omnivec: Callable[[int], float], raw: Callable[[int], float], repeats: int
) -> tuple[list[float], list[float]]:
    """Run both sides ``repeats`` times, alternating which goes first; each returns its measure."""
    a: list[float] = []
    b: list[float] = []
    for r in range(repeats):
        if r % 2 == 0:
            a.append(omnivec(r))
            b.append(raw(r))
        else:
            b.append(raw(r))
            a.append(omnivec(r))
    return a, b


def ensure_random_clip_checkpoint(
    model: str = "ViT-B-32", *, cache_dir: Path | None = None, log: Callable[[str], None] = print
) -> Path:
    """A real open_clip architecture with seeded random weights, saved once as a local checkpoint.

    No pretrained CLIP can be downloaded here; throughput does not depend on the weight values,
    so the image/text tower figures use the real architecture with these weights.
    """
    import torch

    root = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "omnivec" / "bench"
    path = root / f"{model.lower()}-seed0.pt"
    if path.is_file():
        return path
    import open_clip

    root.mkdir(parents=True, exist_ok=True)
    log(f"  creating a seeded random {model} checkpoint at {path} (once)")
    torch.manual_seed(0)
    net = open_clip.create_model(model, pretrained=None)
    tmp = path.with_suffix(".tmp")
    torch.save(net.state_dict(), tmp)
    tmp.replace(path)
    return path


# -- test data -----------------------------------------------------------------------------------


def make_jpegs(folder: Path, n: int, *, seed: int = 0, quality: int = 90) -> list[Path]:
    """``n`` distinct JPEG photos (crops and rescales of scikit-image's real photos), ~640x480."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    try:
        from skimage import data

        for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):
            try:
                sources.append(Image.fromarray(getattr(data, name)()).convert("RGB"))
            except Exception:  # noqa: BLE001 - a photo skimage would have to download
                continue
    except ImportError:
        pass
    rng = np.random.default_rng(seed)
    if not sources:  # no scikit-image: smooth random images (decode cost is what matters)
        for _ in range(4):
            small = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
            sources.append(Image.fromarray(small).resize((640, 480), Image.Resampling.BICUBIC))
    paths = []
    for i in range(n):
        src = sources[i % len(sources)]
        w, h = src.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        img = src.crop((x, y, x + cw, y + ch)).resize((640, 480))
        path = folder / f"img_{i:05d}.jpg"
        img.save(path, quality=quality)
        paths.append(path)
    return paths


_WORDS = (
    "the a quick brown fox jumps over lazy dog search engine vector image audio text model "
    "retrieval photo cat sofa rocket launch coffee cup morning weather report rain sunny city "
    "street night music lecture science history kitchen recipe garden flower mountain river "
    "ocean beach train station airport ticket price market stock news sports football team"
).split()


def make_texts(n: int, *, seed: int = 0, min_words: int = 6, max_words: int = 16) -> list[str]:
    """``n`` distinct short sentences (numbered, so content hashes never collide)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(min_words, max_words + 1))
        words = rng.choice(_WORDS, size=k)
        out.append(f"{' '.join(words)} {i}")
    return out


def clustered_vectors(
    n: int,
    dim: int,
    *,
    centres: int,
    spread: float = 0.75,
    seed: int = 0,
    centre_matrix: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A normalised Gaussian mixture: ``n`` points around ``centres`` random unit centres.

    Each point is centre + isotropic noise of expected norm ``spread``, then L2-normalised, so two
    points of one cluster have cosine ~1/(1+spread^2) (0.64 at 0.75) and points of different
    clusters ~0: clustered like real embeddings, not isotropic noise. Returns (vectors, centres).
    """
    rng = np.random.default_rng(seed)
    if centre_matrix is None:
        centre_matrix = rng.standard_normal((centres, dim)).astype(np.float32)
        centre_matrix /= np.linalg.norm(centre_matrix, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    step = 65_536
    for start in range(0, n, step):
        m = min(step, n - start)
        which = rng.integers(0, centre_matrix.shape[0], size=m)
        block = rng.standard_normal((m, dim), dtype=np.float32) * np.float32(spread / math.sqrt(dim))
        block += centre_matrix[which]
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start : start + m] = block
    return out, centre_matrix


def random_unit_vectors(n: int, dim: int, *, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((n, dim), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out
