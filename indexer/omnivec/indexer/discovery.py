"""What to index: files, folders and manifests expanded into :class:`IngestItem` s.

:func:`discover` is the one folder walk of omnivec, used by the CLI and, confined to its index
root, by the server's IndexPath. Hidden entries (names starting with ".") are skipped, files and
folders alike, and linked folders are not descended into (a link loop cannot trap the walk);
linked files are read. A manifest (``.jsonl`` / ``.csv``) becomes one item per line: a text column
makes a text item, a ``uri``/``path`` column a media item, other columns metadata.

With ``confine_to`` nothing outside that folder is read: every path is resolved (``..`` and links
followed) and the resolved path is what gets indexed, so what was checked is what is read. An
entry leading outside is refused and reported, and a manifest listing any file outside is refused
as a whole.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omnivec.indexer.errors import InvalidInputError, MediaError
from omnivec.indexer.media import MediaKind, kind_for_path

__all__ = [
    "MANIFEST_EXTENSIONS",
    "IngestItem",
    "discover",
    "is_inside",
    "load_metadata_file",
]

MANIFEST_EXTENSIONS = frozenset({".jsonl", ".csv"})
TEXT_COLUMN_NAMES = ("text", "content", "body")
URI_COLUMN_NAMES = ("uri", "path", "file")
ID_COLUMN_NAMES = ("id", "item_id")


@dataclass(frozen=True)
class IngestItem:
    """One thing to index: a file, uploaded bytes, or a text, with its metadata."""

    label: str  # how reports name it: a path, a manifest line, or a client sequence number
    modality: MediaKind | None  # None: infer from the file extension / content
    path: Path | None = None
    data: bytes | None = None
    text: str | None = None
    item_id: str | None = None
    source_uri: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    key: Any = None  # opaque caller key echoed in events (gRPC sequence numbers)
    store_media: bool = False  # keep the uploaded bytes with the item (served back by the server)


def is_inside(root: Path, path: Path) -> bool:
    """Whether ``path`` is ``root`` or below it (both already resolved)."""
    return path == root or root in path.parents


def load_metadata_file(path: Path) -> dict[str, dict[str, Any]]:
    """``--metadata FILE``: a JSON object mapping file paths (or "*" for all) to metadata objects."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"metadata file {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"metadata file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InvalidInputError(
            f"metadata file {path} must be a JSON object of {{path: {{key: value}}}} "
            '(use "*" for metadata applied to every file)'
        )
    return {str(Path(k).resolve()) if k != "*" else "*": v for k, v in data.items()}


def discover(
    paths: Sequence[Path],
    *,
    recursive: bool,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    confine_to: Path | None = None,
) -> tuple[list[IngestItem], list[tuple[str, str]]]:
    """Expand files, folders and manifests into items; returns (items, problems found on the way).

    ``confine_to`` (a resolved folder) refuses everything that leads outside it (see above).
    """
    items: list[IngestItem] = []
    problems: list[tuple[str, str]] = []
    meta = metadata or {}
    shared = dict(meta.get("*", {}))

    def file_meta(p: Path) -> dict[str, Any]:
        return {**shared, **meta.get(str(p.resolve()), {})}

    for root in paths:
        if confine_to is not None:
            real = Path(os.path.realpath(root))
            if not is_inside(confine_to, real):
                problems.append((str(root), "is outside the index root; refused"))
                continue
            root = real
        if not root.exists():
            problems.append((str(root), "does not exist"))
            continue
        given_file = not root.is_dir()
        files = [root] if given_file else _walk(root, recursive, confine_to, problems)
        for path in files:
            suffix = path.suffix.lower()
            if suffix in MANIFEST_EXTENSIONS:
                try:
                    found = list(_manifest_items(path, file_meta(path)))
                    if confine_to is not None:
                        _refuse_escapes(found, confine_to, path)
                except MediaError as exc:
                    problems.append((str(path), exc.reason))
                    continue
                items.extend(found)
                continue
            kind = kind_for_path(path)
            if kind is None:
                if given_file:
                    problems.append((str(path), f"unsupported file type {suffix or '(none)'}"))
                continue
            items.append(
                IngestItem(
                    label=str(path), modality=kind, path=path,
                    source_uri=str(path.resolve()), metadata=file_meta(path),
                )
            )
    return items, problems


def _walk(
    folder: Path, recursive: bool, confine_to: Path | None, problems: list[tuple[str, str]]
) -> list[Path]:
    """The files under ``folder``, sorted; refused entries are added to ``problems``."""
    files: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        problems.append((str(folder), f"folder cannot be read: {exc.strerror or exc}"))
        return files
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if confine_to is not None and not is_inside(confine_to, Path(os.path.realpath(entry))):
            if entry.exists():  # a dangling link reads nothing: skipped like any non-file
                problems.append((str(entry), "is a link that leads outside the index root; refused"))
            continue
        if entry.is_dir():
            if recursive and not entry.is_symlink():
                files.extend(_walk(entry, recursive, confine_to, problems))
        elif entry.is_file():
            files.append(entry if confine_to is None else Path(os.path.realpath(entry)))
    return sorted(dict.fromkeys(files))


def _refuse_escapes(items: list[IngestItem], confine_to: Path, manifest: Path) -> None:
    outside = [
        item.path for item in items
        if item.path is not None and not is_inside(confine_to, Path(os.path.realpath(item.path)))
    ]
    if outside:
        raise MediaError(
            str(manifest),
            f"manifest lists {len(outside)} file(s) outside the index root "
            f"(first: {outside[0]}); refused",
        )


def _manifest_items(path: Path, base_meta: Mapping[str, Any]) -> Iterator[IngestItem]:
    """JSONL or CSV lines: a text column makes a text item, a uri/path column a media item."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MediaError(str(path), f"manifest cannot be read as UTF-8: {exc}") from exc
    rows: list[tuple[int, Any]]
    if path.suffix.lower() == ".jsonl":
        rows = []
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                rows.append((number, MediaError(f"{path}:{number}", f"invalid JSON: {exc.msg}")))
    else:
        reader = csv.DictReader(io.StringIO(raw))
        rows = [(n, dict(r)) for n, r in enumerate(reader, 2)]
    for number, row in rows:
        label = f"{path}:{number}"
        if isinstance(row, MediaError):
            yield IngestItem(label=label, modality=MediaKind.TEXT, text="", metadata={"_error": row.reason})
            continue
        if not isinstance(row, dict):
            yield IngestItem(label=label, modality=MediaKind.TEXT, text="", metadata={"_error": "line is not a JSON object"})
            continue
        item_id = next((str(row[c]) for c in ID_COLUMN_NAMES if row.get(c) not in (None, "")), None)
        text_col = next((c for c in TEXT_COLUMN_NAMES if isinstance(row.get(c), str)), None)
        uri_col = next((c for c in URI_COLUMN_NAMES if isinstance(row.get(c), str) and row.get(c)), None)
        used = {text_col, uri_col, *ID_COLUMN_NAMES}
        meta = {**base_meta, **{k: v for k, v in row.items() if k not in used}}
        if text_col is not None:
            yield IngestItem(
                label=label, modality=MediaKind.TEXT, text=row[text_col], item_id=item_id,
                source_uri=f"{path.resolve()}#{item_id or number}", metadata=meta,
            )
        elif uri_col is not None:
            target = Path(row[uri_col]).expanduser()
            if not target.is_absolute():
                target = path.parent / target
            yield IngestItem(
                label=label, modality=kind_for_path(target), path=target, item_id=item_id,
                source_uri=str(target.resolve()), metadata=meta,
            )
        else:
            yield IngestItem(
                label=label, modality=MediaKind.TEXT, text="",
                metadata={"_error": f"has no text column ({', '.join(TEXT_COLUMN_NAMES)}) or "
                          f"uri column ({', '.join(URI_COLUMN_NAMES)})"},
            )
