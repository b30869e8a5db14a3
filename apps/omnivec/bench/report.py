"""Results: ``benchmarks/results/<timestamp>.json``, ``latest.json`` and ``latest.md``.

The JSON holds everything (machine, versions, settings, every repeat of every figure); the
Markdown is the table for the README's Performance section.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omnivec.bench.common import FigureResult

__all__ = ["describe_machine", "library_versions", "render_markdown", "write_results"]

LIBRARIES = (
    "omnivec", "torch", "open_clip_torch", "sentence-transformers", "transformers",
    "faster-whisper", "ctranslate2", "faiss-cpu", "lancedb", "pyarrow", "grpcio", "numpy",
    "scikit-learn", "onnxruntime",
)


def describe_machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except Exception:  # noqa: BLE001
        pass
    affinity: int | None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    load = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "usable_cores": affinity, "ram_gib": ram_gib,
        "gpu": gpu, "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "load_average_at_start": load,
    }


def library_versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if value != value:  # nan
        return "nan"
    a = abs(value)
    text = f"{value:.3g}" if a < 100 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def _cell(measure: dict[str, Any] | None) -> str:
    if not measure or not measure.get("n"):
        return "-"
    unit = measure.get("unit", "")
    return (f"{_fmt(measure['median'], unit)} "
            f"<br><sub>[{_fmt(measure['min'])}, {_fmt(measure['max'])}], n={measure['n']}</sub>")


_FACTS: tuple[tuple[str, str, str], ...] = (
    # (extra key, label, unit) shown in the table's "key facts" column when a figure has them
    ("recall_at_10", "recall@10", ""),
    ("bytes_per_vector", "bytes/vector", ""),
    ("build_s", "build", "s"),
    ("n", "n", ""),
    ("p99_ms_grpc", "p99", "ms"),
    ("p99_ms_raw", "raw p99", "ms"),
    ("engine_inprocess_median_ms", "in-process engine", "ms"),
    ("hybrid_grpc_median_ms", "hybrid (default mode)", "ms"),
    ("server_cpu_ms_per_query_concurrent", "server CPU/query", "ms"),
    ("cpu_bound_ceiling_x", "CPU-bound ceiling x", ""),
    ("rpc_floor_health_check_median_ms", "RPC floor", "ms"),
    ("accuracy_diff_points", "accuracy diff", "pt"),
    ("train_16x50x384_s", "16x50x384 train", "s"),
    ("train_16x50x384_with_prompts_s", "with prompts", "s"),
    ("omnivec_to_health_serving_s", "to SERVING", "s"),
    ("raw_all_models_loaded_s", "raw all loaded", "s"),
    ("single_query_ms_1_thread", "1-thread query", "ms"),
    ("single_query_ms_2_threads", "2-thread query", "ms"),
    ("images_vs_clip_as_service", "x clip-as-service img/s", ""),
    ("texts_vs_clip_as_service", "x clip-as-service txt/s", ""),
)


def _facts(extra: dict[str, Any]) -> str:
    out = []
    for key, label, unit in _FACTS:
        if key not in extra or extra[key] is None:
            continue
        value = extra[key]
        if isinstance(value, dict):
            value = value.get("median")
        if isinstance(value, (int, float)):
            out.append(f"{label} {_fmt(float(value), unit)}" if key != "n" else f"n={value:,}")
    return "; ".join(out) or "-"


def render_markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    s = doc["settings"]
    lines = [
        f"# omnivec benchmark results ({doc['mode']})",
        "",
        f"Run {doc['started_at']} in {doc['seconds']:.0f} s. Machine: {m['cpu']}, {m['cores']} cores, "
        f"{m['ram_gib']} GiB RAM, GPU: {m['gpu'] or 'none'}; load average at start "
        f"{m.get('load_average_at_start')}. Device: {s['device']}.",
        "",
        f"Threads: torch intra-op {s['torch_threads']}, decode workers {s['decode_workers']}, "
        f"FAISS OpenMP {s['faiss_threads']} (1 for the single-query ANN figure), CTranslate2 "
        f"{s['torch_threads']}. Repeats per figure: {s['repeats']} (median [min, max]).",
        "",
        "Every figure is a ratio measured side by side in the same run against the raw library "
        "doing the same work (runs alternate), because absolute times on shared machines are noisy.",
        "",
        "| figure | compared | omnivec | raw | ratio | target | status | key facts |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in doc["figures"]:
        ratio = f.get("ratio")
        ratio_cell = _cell(ratio)
        if ratio and ratio.get("label"):
            ratio_cell += f"<br><sub>{ratio['label']}</sub>"
        compared = f["title"]
        lines.append(
            f"| {f['name']} | {compared} | {_cell(f.get('omnivec'))} | {_cell(f.get('raw'))} | "
            f"{ratio_cell} | {f.get('target') or '-'} | **{f['status']}** | "
            f"{_facts(f.get('extra') or {})} |"
        )
    lines += ["", "## Details", ""]
    for f in doc["figures"]:
        lines.append(f"### {f['name']}: {f['title']} ({f['status']}, {f['seconds']} s)")
        lines.append("")
        if f.get("compared"):
            lines.append(f["compared"] + ".")
            lines.append("")
        for key in ("omnivec", "raw"):
            meas = f.get(key)
            if meas:
                lines.append(f"- {key}: {meas['label']}: median {_fmt(meas['median'], meas['unit'])}"
                             f" (min {_fmt(meas['min'])}, max {_fmt(meas['max'])}, n={meas['n']})")
        for key, value in (f.get("extra") or {}).items():
            lines.append(f"- {key}: `{json.dumps(value, default=str)}`")
        for note in f.get("notes") or []:
            lines.append(f"- note: {note}")
        lines.append("")
    lines += [
        "## Versions",
        "",
        ", ".join(f"{k} {v}" for k, v in doc["versions"].items()),
        "",
        "Reproduce: `make bench BENCH_ARGS=--quick` (or `omnivec bench --quick`; full mode: "
        "`make bench`).",
        "",
    ]
    return "\n".join(lines)


def write_results(
    figures: Sequence[FigureResult],
    *,
    out_dir: Path,
    mode: str,
    settings: dict[str, Any],
    started: float,
    machine: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the timestamped JSON plus latest.json / latest.md; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromtimestamp(started, tz=timezone.utc)
    doc = {
        "schema": 1,
        "mode": mode,
        "started_at": stamp.isoformat(timespec="seconds"),
        "seconds": round(time.time() - started, 1),
        "machine": machine or describe_machine(),
        "versions": library_versions(),
        "settings": settings,
        "figures": [f.to_dict() for f in figures],
    }
    text = json.dumps(doc, indent=2, default=str)
    paths = {
        "json": out_dir / f"{stamp.strftime('%Y%m%dT%H%M%SZ')}.json",
        "latest_json": out_dir / "latest.json",
        "latest_md": out_dir / "latest.md",
    }
    for key, path in paths.items():
        content = render_markdown(doc) if key == "latest_md" else text
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)
    return paths
