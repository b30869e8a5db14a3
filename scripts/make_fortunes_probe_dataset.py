#!/usr/bin/env python3
"""Build the probes' independent check set from Debian's ``fortunes`` (offline).

The few-shot rule and the unlabelled-rows method were designed on the Debian section sets
(``make_debian_probe_dataset.py``) and confirmed there; this set was never used while choosing
anything. Other text, other domain: quotations, jokes and aphorisms, labelled by the fortune file
they come from (its topic). Install the files first: ``apt-get install fortunes`` (they land in
/usr/share/games/fortunes).

Cleaning: entries are split on the ``%`` lines, whitespace collapsed (attributions kept: they are
part of the text), entries outside 40-400 characters dropped (one-word riddles, whole stories),
duplicates dropped case-insensitively across the set. Sampled per topic with
``random.Random(seed)`` from the entries in file order, so the same package gives the same file.

    python scripts/make_fortunes_probe_dataset.py [--per-class 80] [--seed 0] [--out PATH]

Writes JSONL rows ``{"section", "text"}`` (``section``: the topic, the key the probe benchmark
reads) to benchmarks/data/fortunes_topics.jsonl.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORTUNES = Path("/usr/share/games/fortunes")
DEFAULT_OUT = REPO / "benchmarks" / "data" / "fortunes_topics.jsonl"
# Ten topical files with 140+ entries each (the rest are mixed bags: "fortunes", "cookie").
TOPICS = (
    "computers", "education", "food", "kids", "law", "love", "politics", "science", "sports", "work",
)
MIN_CHARS, MAX_CHARS = 40, 400


def entries(path: Path) -> list[str]:
    """The entries of one fortune file, whitespace collapsed."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return [" ".join(chunk.split()) for chunk in text.split("\n%\n") if chunk.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-class", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    missing = [t for t in TOPICS if not (FORTUNES / t).is_file()]
    if missing:
        sys.exit(f"no fortune files {', '.join(missing)} under {FORTUNES}: apt-get install fortunes")
    seen: set[str] = set()
    rows: list[dict[str, str]] = []
    rng = random.Random(args.seed)
    for topic in TOPICS:
        kept = []
        for entry in entries(FORTUNES / topic):
            key = entry.lower()
            if MIN_CHARS <= len(entry) <= MAX_CHARS and key not in seen:
                seen.add(key)
                kept.append(entry)
        if len(kept) < args.per_class:
            sys.exit(f"topic {topic!r} has {len(kept)} usable entries, fewer than {args.per_class}")
        rows.extend({"section": topic, "text": t} for t in rng.sample(kept, args.per_class))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows, {len(TOPICS)} topics x {args.per_class} -> {args.out}")


if __name__ == "__main__":
    main()
