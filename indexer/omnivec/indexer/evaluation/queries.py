"""Labelled queries: the JSONL file ``omnivec eval`` reads, and the checks every query passes.

One JSON object per line (blank lines are skipped)::

    {"query": "convert an address book to vCard", "relevant": ["deb-2vcard"]}
    {"image": "queries/cat.jpg", "relevant": {"cat-1": 2, "cat-2": 1}, "id": "cat"}
    {"audio": "queries/weather.wav", "relevant": ["weather"]}

- exactly one of ``query`` (text), ``image`` or ``audio`` (a file path, relative to the queries
  file's folder);
- ``relevant``: the ids of the items that answer it, as a list (grade 1 each) or as an object of
  id -> grade (a number >= 0; 0 is "judged not relevant"); at least one grade above 0;
- ``id`` (optional): a name for messages.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from omnivec.client.types import EvalQuery
from omnivec.indexer.errors import InvalidInputError

__all__ = ["MAX_QUERIES", "check_queries", "load_queries", "query_label"]

MAX_QUERIES = 100_000
_KEYS = ("query", "image", "audio", "relevant", "id")


def query_label(query: EvalQuery, position: int) -> str:
    return query.id or f"query {position + 1}"


def _relevant(value: Any, where: str) -> dict[str, float]:
    if isinstance(value, list):
        grades: dict[str, float] = {}
        for item in value:
            if not isinstance(item, str) or not item:
                raise InvalidInputError(f"{where}: relevant ids must be non-empty strings, got {item!r}")
            grades[item] = 1.0
        return grades
    if isinstance(value, Mapping):
        out: dict[str, float] = {}
        for item, grade in value.items():
            if isinstance(grade, bool) or not isinstance(grade, (int, float)):
                raise InvalidInputError(f"{where}: the grade of {item!r} must be a number, got {grade!r}")
            out[str(item)] = float(grade)
        return out
    raise InvalidInputError(
        f"{where}: 'relevant' must be a list of item ids or an object of id -> grade, "
        f"got {type(value).__name__}"
    )


def load_queries(path: Path) -> list[EvalQuery]:
    """The labelled queries of a JSONL file, checked (see the module docstring)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InvalidInputError(f"queries file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read queries file {path}: {exc}") from exc
    folder = Path(path).parent
    queries: list[EvalQuery] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InvalidInputError(f"{where}: expected a JSON object, got {type(row).__name__}")
        unknown = sorted(set(row) - set(_KEYS))
        if unknown:
            raise InvalidInputError(
                f"{where}: unknown key(s) {', '.join(unknown)}; a query line has "
                f"{', '.join(_KEYS)}"
            )
        if "relevant" not in row:
            raise InvalidInputError(f"{where}: no 'relevant' ids")
        text = row.get("query")
        if text is not None and not isinstance(text, str):
            raise InvalidInputError(f"{where}: 'query' must be a string")
        media: dict[str, Path] = {}
        for key in ("image", "audio"):
            value = row.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value:
                raise InvalidInputError(f"{where}: {key!r} must be a file path")
            media[key] = folder / value
        query_id = row.get("id")
        queries.append(
            EvalQuery(
                text=text,
                image=media.get("image"),
                audio=media.get("audio"),
                relevant=_relevant(row["relevant"], where),
                id=str(query_id) if query_id is not None else f"line {number}",
            )
        )
    if not queries:
        raise InvalidInputError(f"queries file {path} holds no queries")
    return check_queries(queries)


def check_queries(queries: Sequence[EvalQuery]) -> list[EvalQuery]:
    """The queries, each with exactly one input and at least one relevant id; else the error
    names the query and what is wrong."""
    if len(queries) == 0:
        raise InvalidInputError("give at least one labelled query")
    if len(queries) > MAX_QUERIES:
        raise InvalidInputError(f"at most {MAX_QUERIES} queries per evaluation, got {len(queries)}")
    for position, query in enumerate(queries):
        label = query_label(query, position)
        given = [name for name in ("text", "image", "audio") if getattr(query, name) is not None]
        if len(given) != 1:
            raise InvalidInputError(
                f"{label}: give exactly one of a text query, an image or an audio file, got "
                f"{', '.join(given) or 'none'}"
            )
        if query.text is not None and not query.text.strip():
            raise InvalidInputError(f"{label}: the text query is empty")
        for item, grade in query.relevant.items():
            if not isinstance(item, str) or not item:
                raise InvalidInputError(f"{label}: relevant ids must be non-empty strings")
            if not math.isfinite(grade) or grade < 0:
                raise InvalidInputError(f"{label}: the grade of {item!r} must be >= 0, got {grade}")
        if not any(grade > 0 for grade in query.relevant.values()):
            raise InvalidInputError(f"{label}: no relevant item (an id with a grade above 0)")
    return list(queries)
