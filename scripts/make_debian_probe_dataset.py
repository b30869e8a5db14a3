#!/usr/bin/env python3
"""Build the probe benchmark's labelled text set from Debian's package index (offline).

Data set: the one-line descriptions of Debian binary packages (``Description:`` field), labelled
by the package's archive section (``Section:``, component prefix such as ``contrib/`` dropped),
read from ``apt-cache dumpavail`` - the package lists already on this machine (run ``apt-get
update`` first if they are empty). Debian's ``fortunes`` are NOT used (reserved for independent
evaluation).

Cleaning, so that a class is about what the software does and not about packaging boilerplate:
descriptions of transitional/dummy/debug-symbol/metapackages are dropped, descriptions are
de-duplicated case-insensitively across the whole set (library variants often repeat one), and
only descriptions of 3+ words are kept. Candidates are sorted by package name, then sampled per
section with ``random.Random(seed)``, so the same package lists give the same file.

    python scripts/make_debian_probe_dataset.py [--per-class 100] [--seed 0] [--out PATH]

Writes JSONL rows ``{"package", "section", "text"}`` to benchmarks/data/debian_sections.jsonl.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "benchmarks" / "data" / "debian_sections.jsonl"
# Ten sections with hundreds of packages each and distinct subjects.
SECTIONS = (
    "sound", "graphics", "math", "games", "net", "science", "database", "editors", "mail", "fonts",
)
_BOILERPLATE = re.compile(
    r"transitional|dummy package|debug(ging)? symbols|metapackage|meta-package|virtual package",
    re.IGNORECASE,
)
MAX_BYTES = 1_000_000


def parse_dumpavail(text: str) -> list[dict[str, str]]:
    """Stanzas of ``Field: value`` lines (continuation lines start with a space)."""
    packages: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                packages.append(current)
            current, last = {}, ""
            continue
        if line[0] in " \t":
            if last:
                current[last] += "\n" + line.strip()
            continue
        key, _, value = line.partition(":")
        last = key.strip()
        current[last] = value.strip()
    if current:
        packages.append(current)
    return packages


def build(per_class: int, seed: int, sections: tuple[str, ...] = SECTIONS) -> list[dict[str, str]]:
    try:
        raw = subprocess.run(
            ["apt-cache", "dumpavail"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"apt-cache dumpavail failed ({exc}); is this a Debian/Ubuntu machine?")
    if not raw.strip():
        sys.exit("apt-cache dumpavail printed nothing: run `apt-get update` first")
    by_section: dict[str, list[tuple[str, str]]] = defaultdict(list)
    seen: set[str] = set()
    for pkg in sorted(parse_dumpavail(raw), key=lambda p: p.get("Package", "")):
        name = pkg.get("Package")
        section = pkg.get("Section", "").split("/")[-1]
        description = " ".join(pkg.get("Description", "").split("\n", 1)[0].split())
        if not name or section not in sections or not description:
            continue
        if _BOILERPLATE.search(description) or len(description.split()) < 3:
            continue
        key = description.lower()
        if key in seen:
            continue
        seen.add(key)
        by_section[section].append((name, description))
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for section in sections:
        pool = by_section.get(section, [])
        if len(pool) < per_class:
            sys.exit(f"section {section!r} has only {len(pool)} usable packages (< {per_class})")
        for name, description in sorted(rng.sample(pool, per_class)):
            rows.append({"package": name, "section": section, "text": description})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma-separated archive sections (default: the ten of the main benchmark set)",
    )
    args = ap.parse_args()
    sections = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    rows = build(args.per_class, args.seed, sections)
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    if len(data) > MAX_BYTES:
        sys.exit(f"{len(data)} bytes is over the {MAX_BYTES}-byte budget; lower --per-class")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {len(rows)} rows ({len(data)} bytes, {len(sections)} sections) to {args.out}")


if __name__ == "__main__":
    main()
