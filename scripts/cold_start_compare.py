"""Cold start before and after, side by side: two omnivec installs, runs alternating.

    python scripts/cold_start_compare.py --before /work/main/.venv/bin/python \
        --after .venv/bin/python --repeats 5 --cli-repeats 3

Measures, for each interpreter (each with its own omnivec code), in alternating runs on the same
data and settings (MiniLM, Whisper tiny.en, CLIP ViT-B-32 from the benchmark's seeded local
checkpoint, so every encoder is available and loads):

- server: seconds from ``Popen(omnivec serve --port 0)`` to the first answered text query
  (``spaces=["text"]``) over gRPC, and to health SERVING;
- CLI: seconds per call of ``omnivec search`` and ``omnivec classify --probe`` (a text probe) on
  a small text collection (samples/texts).

Absolute times on a shared 2-core machine are noisy: the load average is recorded around each
run, and the before/after ratio of the paired medians is what to read. Writes
``benchmarks/results/cold_start.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from omnivec.server.announce import serving_address

REPO = Path(__file__).resolve().parents[1]
QUERY = "the coffee machine is broken"


def _env(data: Path, checkpoint: Path) -> dict[str, str]:
    env = {**os.environ, "OMNIVEC_DATA_DIR": str(data), "OMNIVEC_OFFLINE": "1",
           "OMNIVEC_CLIP__MODEL": "ViT-B-32", "OMNIVEC_CLIP__CHECKPOINT": str(checkpoint),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("OMNIVEC_CONFIG", None)
    return env


def _cli(python: str, args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([python, "-m", "omnivec.cli.main", *args], env=env, text=True,
                          capture_output=True, stdin=subprocess.DEVNULL, timeout=900)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{args} failed: {done.stderr[-1500:]}")
    return seconds


def _server(python: str, env: dict[str, str]) -> dict[str, float]:
    from omnivec.client import Client

    started = time.perf_counter()
    proc = subprocess.Popen(
        [python, "-m", "omnivec.cli.main", "serve", "--host", "127.0.0.1", "--port", "0"],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        address = None
        for line in proc.stdout:
            address = serving_address(line)
            if address:
                break
        if address is None:
            raise RuntimeError("the server did not announce its port")
        bound = time.perf_counter() - started
        with Client(address, timeout=600, retries=0) as client:
            if not client.search("notes", text=QUERY, k=3, spaces=["text"]):
                raise RuntimeError("the first text query came back empty")
            first_text = time.perf_counter() - started
            while client.health(timeout=5) != "SERVING":
                time.sleep(0.05)
            serving = time.perf_counter() - started
        return {"port_bound_s": bound, "first_text_query_s": first_text,
                "health_serving_s": serving}
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _prepare(python: str, work: Path, checkpoint: Path) -> dict[str, str]:
    data = work / "data"
    env = _env(data, checkpoint)
    labels = work / "labels.csv"
    tickets = [json.loads(line) for line in (REPO / "samples/texts/tickets.jsonl").open()]
    labels.write_text("id,label\n" + "".join(f"{t['id']},{t['priority']}\n" for t in tickets))
    if not (data / "notes").exists():
        _cli(python, ["index", str(REPO / "samples/texts"), "-c", "notes", "--space", "text",
                      "-q"], env)
        _cli(python, ["probe", "train", "priority", "-c", "notes", "-l", str(labels),
                      "--no-unlabeled"], env)
    return env


def _summary(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
            "max": round(max(values), 2), "n": len(values), "values": [round(v, 2) for v in values]}


def _write_report(results: dict[str, dict[str, list[float]]], loads: list[float],
                  started: float, out: Path) -> None:
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine_cores": os.cpu_count(),
        "load_average_1min_per_run": _summary(loads),
        "before": {k: _summary(v) for k, v in results["before"].items()},
        "after": {k: _summary(v) for k, v in results["after"].items()},
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        "# Cold start, before and after (alternating runs, same data and settings)", "",
        f"Run {report['when']}, {os.cpu_count()} cores; 1-minute load average per run: "
        f"{report['load_average_1min_per_run'] or 'not recorded'}.", "",
        "| measure (seconds) | before: median [min, max] | after: median [min, max] | after / before |",
        "|---|---|---|---|",
    ]
    for key, before in report["before"].items():
        after = report["after"].get(key)
        if before is None or after is None:
            continue
        lines.append(f"| {key} (n={before['n']}) | {before['median']} [{before['min']}, "
                     f"{before['max']}] | {after['median']} [{after['min']}, {after['max']}] | "
                     f"{after['median'] / before['median']:.2f}x |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _from_log(log: Path, cli_repeats: int) -> tuple[dict[str, dict[str, list[float]]], list[float]]:
    """The per-run values a (possibly interrupted) run printed: ``repeat N NAME: key value, ...``.
    CLI measures past ``cli_repeats`` are skipped (an earlier version of this script repeated
    the last CLI values on those lines)."""
    results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    loads: list[float] = []
    for line in log.read_text().splitlines():
        found = re.match(r"repeat (\d+) (before|after): (.*)", line)
        if not found:
            continue
        repeat, name = int(found.group(1)), found.group(2)
        for part in found.group(3).split(", "):
            key, value = part.rsplit(" ", 1)
            if key == "load":
                loads.append(float(value))
            elif key.startswith("cli_") and repeat > cli_repeats:
                continue
            else:
                results[name].setdefault(key, []).append(float(value))
    return results, loads


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="python of the install measured first")
    ap.add_argument("--after", default=sys.executable, help="python of the install to compare")
    ap.add_argument("--repeats", type=int, default=5, help="server cold starts per install")
    ap.add_argument("--cli-repeats", type=int, default=3, help="CLI calls per command, install")
    ap.add_argument("--work", type=Path, default=Path("/tmp/omnivec-cold-start"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/cold_start")
    ap.add_argument("--summarize", type=Path, default=None,
                    help="write the report from the log of an interrupted run and stop")
    args = ap.parse_args()
    if args.summarize is not None:
        logged, logged_loads = _from_log(args.summarize, args.cli_repeats)
        _write_report(logged, logged_loads, args.summarize.stat().st_mtime, args.out)
        return 0

    from omnivec.bench.common import ensure_random_clip_checkpoint

    checkpoint = ensure_random_clip_checkpoint("ViT-B-32")
    args.work.mkdir(parents=True, exist_ok=True)
    env = _prepare(args.after, args.work, checkpoint)
    installs = {"before": args.before, "after": args.after}
    results: dict[str, dict[str, list[float]]] = {k: {} for k in installs}
    loads: list[float] = []
    started = time.time()
    commands = {
        "cli_search_s": ["search", QUERY, "-c", "notes", "-k", "3"],
        "cli_classify_probe_s": ["classify", "-c", "notes", "--probe", "priority", "--text",
                                 "the pump rattles and no coffee comes out"],
    }
    for r in range(max(args.repeats, args.cli_repeats)):
        for name, python in installs.items():
            loads.append(os.getloadavg()[0])
            taken: dict[str, float] = {}
            if r < args.repeats:
                taken.update(_server(python, env))
            if r < args.cli_repeats:
                taken.update({key: _cli(python, command, env) for key, command in commands.items()})
            for key, value in taken.items():
                results[name].setdefault(key, []).append(value)
            print(f"repeat {r + 1} {name}: load {loads[-1]:.2f}, " + ", ".join(
                f"{k} {v:.1f}" for k, v in taken.items()), flush=True)
    _write_report(results, loads, started, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
