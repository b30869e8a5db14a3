#!/usr/bin/env python
"""Disk use of a collection fed by small upserts, with and without version retention
(omnivec.indexer.version_retention): COMMITS commits of 3 rows of 384-d vectors (the text space's
size; synthetic vectors, no model), compaction every 64 commits as shipped, and the table's size
on disk every 320 commits. ``--keep-days 0`` keeps every version (as before retention); a tiny
value (1e-6 days, 0.09 s) removes every version past the newest ``index.keep_versions_min`` at
each compaction, which the default 7 days does to a collection written over weeks.

    python scripts/measure_version_retention.py [--commits 1600] [--keep-days 0] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from bench_probes import emit  # noqa: E402

from omnivec.bench.served import synth_table  # noqa: E402
from omnivec.indexer.config import IndexSettings, load_settings  # noqa: E402
from omnivec.indexer.encoders.base import EncoderSpec  # noqa: E402
from omnivec.indexer.store import Store  # noqa: E402

DIM = 384


def _megabytes(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=1600)
    parser.add_argument("--keep-days", type=float, default=0.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    lines = [f"python scripts/measure_version_retention.py --commits {args.commits} "
             f"--keep-days {args.keep_days:g}",
             f"{'commits':>8} {'rows':>6} {'MB on disk':>10} {'vectors MB':>10} {'versions':>8}"]
    with tempfile.TemporaryDirectory(prefix="omnivec-retention-") as folder:
        root = Path(folder)
        index = IndexSettings(compact_every_commits=64, keep_versions_days=args.keep_days)
        store = Store(str(root), index, load_settings().storage)
        collection = store.create("notes", {"text": EncoderSpec("text", "synthetic", "none", DIM)})
        started = time.perf_counter()
        for i in range(args.commits):
            texts = [f"note {3 * i + j}" for j in range(3)]
            collection.add_rows(synth_table(3 * i, 3, {"text": DIM}, seed=i + 1, texts=texts))
            if (i + 1) % 320 == 0 or i + 1 == args.commits:
                collection._compaction.wait(120)  # white box: the background run, if any
                versions = len(collection.lance_table.list_versions())
                lines.append(f"{i + 1:>8} {3 * (i + 1):>6} {_megabytes(root):>10.1f} "
                             f"{3 * (i + 1) * DIM * 4 / 1e6:>10.1f} {versions:>8}")
                print(lines[-1], flush=True)
        store.close()
        lines.append(f"({time.perf_counter() - started:.0f} s)")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
