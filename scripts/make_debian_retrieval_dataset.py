#!/usr/bin/env python3
"""Build the retrieval benchmark's query/document set from Debian's package index (offline).

Task: "short description -> long description". Each Debian binary package has a one-line
synopsis (the first line of ``Description:``) and a long description (the following lines). The
synopsis is the query; the long description, with that first line removed, is the document; the
one relevant document of a query is its own package's. Thousands of real pairs, written by
people, with the exact words (names, acronyms, formats) that embeddings blur and the paraphrase
that keyword search misses.

Read from ``apt-cache dumpavail`` (package, section, source, synopsis and ``Description-md5``).
Debian's ``Packages`` files carry only the synopsis; the long descriptions live in the
``Translation-en`` files of the same apt lists, keyed by ``Description-md5``, which ``apt-get
update`` fetches when ``Acquire::Languages`` includes ``en`` (Debian container images set it to
``none``). To fetch them without touching the system's lists::

    mkdir -p /tmp/aptlists/partial
    apt-get update -o Dir::State::Lists=/tmp/aptlists -o Acquire::Languages=en
    python scripts/make_debian_retrieval_dataset.py --lists /tmp/aptlists

Cleaning, so that each query has exactly one right answer: transitional/dummy/debug-symbol/
metapackages are dropped; one package per source package (the one named like its source, else
the first by name), since a source's binaries share most of their long description; synopses
and documents are de-duplicated case-insensitively (a document by its first 200 characters, as
library variants differ only in a closing "this package contains ..." sentence); documents need
20+ words. Candidates are sorted by package name and sampled with ``random.Random(seed)``,
separately for short documents (one chunk at omnivec's default ``index.chunk_chars`` = 1000) and
long ones (several chunks), so both kinds can be measured on their own.

    python scripts/make_debian_retrieval_dataset.py [--short 2000] [--long 800] [--seed 0]

Writes two files under benchmarks/data/:

- ``debian_retrieval_docs.jsonl``: ``{"id", "package", "section", "length", "text"}``, an
  ``omnivec index`` manifest (``id`` is the item id; ``length`` is "short" or "long");
- ``debian_retrieval_queries.jsonl``: ``{"query", "relevant"}``, an ``omnivec eval`` file.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "benchmarks" / "data"
DOCS_FILE = "debian_retrieval_docs.jsonl"
QUERIES_FILE = "debian_retrieval_queries.jsonl"
_BOILERPLATE = re.compile(
    r"transitional|dummy package|debug(ging)? symbols|metapackage|meta-package|virtual package",
    re.IGNORECASE,
)
# omnivec's default index.chunk_chars: a document longer than this is indexed as several chunks.
CHUNK_CHARS = 1000
MIN_DOC_WORDS = 20
MAX_BYTES = 3_000_000


def parse_stanzas(text: str) -> list[dict[str, str]]:
    """Stanzas of ``Field: value`` lines; continuation lines (leading space) are kept, joined
    with newlines, with their leading space removed."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, last = {}, ""
            continue
        if line[0] in " \t":
            if last:
                current[last] += "\n" + line[1:]
            continue
        key, _, value = line.partition(":")
        last = key.strip()
        current[last] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def long_description_text(body: str) -> str:
    """A Debian long description as plain text: " ." lines are paragraph breaks, other lines
    are joined with spaces (lines starting with two spaces are verbatim, kept on their own)."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in body.split("\n"):
        if line.strip() == ".":
            if current:
                paragraphs.append(" ".join(current))
            current = []
        elif line.strip():
            current.append(" ".join(line.split()))
    if current:
        paragraphs.append(" ".join(current))
    return "\n\n".join(paragraphs)


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"{' '.join(args[:2])} failed ({exc}); is this a Debian/Ubuntu machine?")


def _apt_options(lists: Path | None) -> list[str]:
    return ["-o", f"Dir::State::Lists={lists}"] if lists else []


def translations(lists: Path | None) -> dict[str, str]:
    """Description-md5 -> long description (body lines only) from the Translation-en files."""
    folder = lists
    if folder is None:
        shell = _run(["apt-config", "shell", "X", "Dir::State::lists/d"])
        folder = Path(shell.split("=", 1)[1].strip().strip("'\""))
    files = sorted(folder.glob("*_i18n_Translation-en*"))
    if not files:
        sys.exit(
            f"no Translation-en files in {folder}: fetch them with `apt-get update -o "
            "Acquire::Languages=en` (see this script's docstring for a private lists folder)"
        )
    out: dict[str, str] = {}
    for path in files:
        text = _run(["/usr/lib/apt/apt-helper", "cat-file", str(path)])
        for stanza in parse_stanzas(text):
            md5, description = stanza.get("Description-md5"), stanza.get("Description-en")
            if md5 and description and "\n" in description:
                out[md5] = description.split("\n", 1)[1]
    return out


def candidates(lists: Path | None) -> list[dict[str, str]]:
    raw = _run(["apt-cache", *_apt_options(lists), "dumpavail"])
    if not raw.strip():
        sys.exit("apt-cache dumpavail printed nothing: run `apt-get update` first")
    long_by_md5 = translations(lists)
    by_source: dict[str, dict[str, str]] = {}
    for pkg in sorted(parse_stanzas(raw), key=lambda p: p.get("Package", "")):
        name = pkg.get("Package", "")
        description = pkg.get("Description", "")
        synopsis = " ".join(description.split("\n", 1)[0].split())
        body = description.split("\n", 1)[1] if "\n" in description else ""
        body = body or long_by_md5.get(pkg.get("Description-md5", ""), "")
        document = long_description_text(body)
        if not name or not synopsis or len(document.split()) < MIN_DOC_WORDS:
            continue
        if _BOILERPLATE.search(synopsis) or _BOILERPLATE.search(document[:200]):
            continue
        source = pkg.get("Source", name).split(" ", 1)[0]
        row = {
            "package": name,
            "section": pkg.get("Section", "").split("/")[-1],
            "query": synopsis,
            "text": document,
        }
        kept = by_source.get(source)
        if kept is None or (name == source and kept["package"] != source):
            by_source[source] = row
    seen_queries: set[str] = set()
    seen_docs: set[str] = set()
    rows: list[dict[str, str]] = []
    for row in sorted(by_source.values(), key=lambda r: r["package"]):
        query_key = row["query"].lower()
        doc_key = " ".join(row["text"].lower().split())[:200]
        if query_key in seen_queries or doc_key in seen_docs:
            continue
        seen_queries.add(query_key)
        seen_docs.add(doc_key)
        rows.append(row)
    return rows


def build(short: int, long: int, seed: int, lists: Path | None) -> list[dict[str, str]]:
    pool = candidates(lists)
    groups = {
        "short": [r for r in pool if len(r["text"]) <= CHUNK_CHARS],
        "long": [r for r in pool if len(r["text"]) > CHUNK_CHARS],
    }
    rng = random.Random(seed)
    chosen: list[dict[str, str]] = []
    for kind, count in (("short", short), ("long", long)):
        if len(groups[kind]) < count:
            sys.exit(f"only {len(groups[kind])} usable {kind} documents (< {count})")
        for row in rng.sample(groups[kind], count):
            chosen.append({**row, "length": kind})
    chosen.sort(key=lambda r: r["package"])
    return chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--short", type=int, default=2000, help="documents of one chunk")
    ap.add_argument("--long", type=int, default=800, help="documents of several chunks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lists", type=Path, help="apt lists folder (default: the system's)")
    ap.add_argument("--out", type=Path, default=DATA)
    args = ap.parse_args()
    rows = build(args.short, args.long, args.seed, args.lists)
    docs = "".join(
        json.dumps(
            {"id": f"deb-{r['package']}", "package": r["package"], "section": r["section"],
             "length": r["length"], "text": r["text"]},
            ensure_ascii=False,
        ) + "\n"
        for r in rows
    ).encode("utf-8")
    queries = "".join(
        json.dumps({"query": r["query"], "relevant": [f"deb-{r['package']}"]}, ensure_ascii=False)
        + "\n"
        for r in rows
    ).encode("utf-8")
    if len(docs) + len(queries) > MAX_BYTES:
        sys.exit(f"{len(docs) + len(queries)} bytes is over the {MAX_BYTES}-byte budget")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / DOCS_FILE).write_bytes(docs)
    (args.out / QUERIES_FILE).write_bytes(queries)
    print(
        f"wrote {len(rows)} documents ({len(docs)} bytes) and {len(rows)} queries to {args.out}"
    )


if __name__ == "__main__":
    main()
