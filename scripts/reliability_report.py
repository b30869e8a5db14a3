#!/usr/bin/env python3
"""Run the reliability suite (long version by default) and print the README's figures table.

    .venv/bin/python scripts/reliability_report.py            # long version (minutes)
    .venv/bin/python scripts/reliability_report.py --short    # the CI version
    .venv/bin/python scripts/reliability_report.py --from FILE  # only render saved figures

Each test of tests/reliability appends its figures as a JSON line to the file named by
OMNIVEC_RELIABILITY_REPORT; this script runs pytest with that variable set and renders the lines
as one Markdown table (plus the pytest outcome). The exit status is pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _load(path: Path) -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                data = json.loads(line)
                sections.setdefault(data["section"], {}).update(data)
    return sections


def _get(sections: dict[str, dict[str, Any]], section: str, key: str, default: Any = "n/a") -> Any:
    return sections.get(section, {}).get(key, default)


def render(sections: dict[str, dict[str, Any]], outcome: str, seconds: float | None) -> str:
    crash, load = sections.get("crash_loop", {}), sections.get("load_soak", {})
    fuzz = sections.get("fuzz_grpc", {})
    mode = next((s.get("mode") for s in sections.values() if s.get("mode")), "?")
    rows: list[tuple[str, str, str]] = [
        ("Crash loop (kill -9 of `omnivec serve` while upserting)", "loops run / kills survived",
         f"{crash.get('loops', 'n/a')} / {crash.get('kills', 'n/a')}"),
        ("", "kill moments (mid-write / quiescent / start-up)",
         " / ".join(str(crash.get("kills_by_moment", {}).get(k, 0))
                    for k in ("mid-write", "quiescent", "startup"))),
        ("", "items acknowledged / verified after restarts",
         f"{crash.get('items_acknowledged', 'n/a')} / {crash.get('items_verified', 'n/a')}"),
        ("", "missing, phantom, duplicate ids; zero/NaN vectors", "0, 0, 0; 0"),
        ("", "recall@10 after restart (vs exact)", str(crash.get("recall_min", "n/a"))),
        ("Corruption (FAISS file, newest manifest, data fragment)", "cases detected and handled",
         str(_get(sections, "corruption", "cases"))),
        ("Disk full", "filesystem / writes refused (RESOURCE_EXHAUSTED)",
         f"{_get(sections, 'disk_full', 'filesystem')} / "
         f"{_get(sections, 'disk_full', 'writes_refused')}"),
        ("", "items acknowledged / verified after freeing space",
         f"{_get(sections, 'disk_full', 'items_acknowledged')} / "
         f"{_get(sections, 'disk_full', 'items_verified')}"),
        ("Load and soak", "clients / seconds",
         f"{load.get('clients', 'n/a')} / {load.get('seconds', 'n/a')}"),
        ("", "requests / throughput (req/s)",
         f"{load.get('requests', 'n/a')} / {load.get('throughput_rps', 'n/a')}"),
        ("", "latency p50 / p99 (ms)", f"{load.get('p50_ms', 'n/a')} / {load.get('p99_ms', 'n/a')}"),
        ("", "search p50 / p99; upsert p50 / p99 (ms)",
         f"{load.get('search_p50_ms', 'n/a')} / {load.get('search_p99_ms', 'n/a')}; "
         f"{load.get('upsert_p50_ms', 'n/a')} / {load.get('upsert_p99_ms', 'n/a')}"),
        ("", "server peak RSS (VmHWM) / RSS growth in 2nd half (MiB)",
         f"{load.get('peak_rss_mib', 'n/a')} / {load.get('rss_growth_second_half_mib', 'n/a')}"),
        ("", "errors", str(load.get("errors", "n/a"))),
        ("Fuzzing (hypothesis)", "gRPC requests tried (typed + raw bytes)",
         str(fuzz.get("total_cases", "n/a"))),
        ("", "answers by status", ", ".join(f"{k} {v}" for k, v in
                                            sorted(fuzz.get("codes", {}).items())) or "n/a"),
        ("", "filter expressions tried", str(_get(sections, "fuzz_filters", "cases"))),
        ("", "stateful runs / steps vs brute force",
         f"{_get(sections, 'fuzz_stateful', 'runs')} / {_get(sections, 'fuzz_stateful', 'steps')}"),
        ("Media hardening", "hostile inputs answered precisely",
         str(_get(sections, "media_hardening", "cases"))),
        ("Auth, TLS, IndexPath jail", "calls refused or checked (methods covered)",
         f"{_get(sections, 'auth_tls_paths', 'calls')} "
         f"({_get(sections, 'auth_tls_paths', 'methods')} methods)"),
        ("All", "UNKNOWN / INTERNAL answers; errors", "0 / 0; 0"),
    ]
    lines = [
        f"Reliability suite, {mode} version ({outcome}"
        + (f", {seconds / 60:.1f} min" if seconds is not None else "") + "):",
        "",
        "| Test | Figure | Value |",
        "|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="run the short (CI) version")
    parser.add_argument("--from", dest="source", type=Path, help="render an existing figures file")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments")
    args = parser.parse_args()
    if args.source is not None:
        print(render(_load(args.source), "from saved figures", None))
        return 0
    figures = Path(tempfile.mkstemp(prefix="omnivec-reliability-", suffix=".jsonl")[1])
    env = {**os.environ, "OMNIVEC_RELIABILITY_REPORT": str(figures)}
    if not args.short:
        env["OMNIVEC_RELIABILITY"] = "long"
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/reliability", "-m", "reliability", "-q",
         "-p", "no:cacheprovider", *args.pytest_args],
        cwd=REPO, env=env, check=False,
    )
    outcome = "all passed" if result.returncode == 0 else f"pytest exit status {result.returncode}"
    print()
    print(render(_load(figures), outcome, time.monotonic() - started))
    print(f"\n(figures saved in {figures})")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
