"""What probes are trained on and asked about: :class:`ProbeInput` (a stored item or inline
media), :class:`LabelledExample`, and labels files (:func:`load_labels_file`, and
:func:`write_labels_to_fill` for the items ``probe suggest`` lists).

Apart from the service so that the CLI and the server can build and parse inputs without it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnivec.indexer.classify import MediaInput
from omnivec.indexer.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from omnivec.indexer.probes.results import Suggestion

__all__ = ["LABELS_TO_FILL_COLUMNS", "LabelledExample", "ProbeInput", "load_labels_file",
           "require_new_labels_file", "write_labels_to_fill"]


@dataclass(frozen=True)
class ProbeInput:
    """An item of the collection (by id) or inline media."""

    item_id: str | None = None
    media: MediaInput | None = None

    def __post_init__(self) -> None:
        if (self.item_id is None) == (self.media is None):
            raise InvalidInputError("an input is exactly one of an item id or media")
        if self.item_id is not None and (not isinstance(self.item_id, str) or not self.item_id):
            raise InvalidInputError(f"item id must be a non-empty string, got {self.item_id!r}")

    @classmethod
    def item(cls, item_id: str) -> ProbeInput:
        return cls(item_id=item_id)

    @classmethod
    def file(cls, path: Path | str, modality: str | None = None) -> ProbeInput:
        return cls(media=MediaInput(path=Path(path), modality=modality))

    @classmethod
    def raw(cls, data: bytes, modality: str | None = None, name: str | None = None) -> ProbeInput:
        return cls(media=MediaInput(data=data, modality=modality, name=name))

    @classmethod
    def of_text(cls, text: str) -> ProbeInput:
        return cls(media=MediaInput(text=text))

    @classmethod
    def coerce(cls, value: ProbeInput | MediaInput | Path | str) -> ProbeInput:
        """``Path`` is a file, ``str`` an item id (use :meth:`of_text` for text)."""
        if isinstance(value, ProbeInput):
            return value
        if isinstance(value, MediaInput):
            return cls(media=value)
        if isinstance(value, Path):
            return cls.file(value)
        if isinstance(value, str):
            return cls.item(value)
        raise InvalidInputError(
            f"cannot classify a {type(value).__name__}; give an item id, a Path or a ProbeInput"
        )

    def describe(self) -> str:
        if self.item_id is not None:
            return f"item {self.item_id}"
        assert self.media is not None
        return self.media.describe()


@dataclass(frozen=True)
class LabelledExample:
    """A training example: an item id or media, with its class label."""

    input: ProbeInput
    label: str

    @classmethod
    def item(cls, item_id: str, label: str) -> LabelledExample:
        return cls(ProbeInput.item(item_id), label)

    @classmethod
    def file(cls, path: Path | str, label: str, modality: str | None = None) -> LabelledExample:
        return cls(ProbeInput.file(path, modality), label)

    @classmethod
    def raw(cls, data: bytes, label: str, modality: str | None = None, name: str | None = None) -> LabelledExample:
        return cls(ProbeInput.raw(data, modality, name), label)

    @classmethod
    def of_text(cls, text: str, label: str) -> LabelledExample:
        return cls(ProbeInput.of_text(text), label)


# --------------------------------------------------------------------------------------------
# Labels files
# --------------------------------------------------------------------------------------------

_PATH_KEYS = ("path", "file", "uri")
_ID_KEYS = ("id", "item_id")
_TEXT_KEYS = ("text", "content")


def _example_from_fields(row: Mapping[str, Any], where: str, base: Path) -> LabelledExample:
    label = row.get("label")
    if not isinstance(label, str) or not label.strip():
        raise InvalidInputError(f"{where}: missing or empty label")
    label = label.strip()
    for key in _ID_KEYS:
        value = row.get(key)
        if value not in (None, ""):
            return LabelledExample.item(str(value), label)
    for key in _PATH_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value:
            target = Path(value).expanduser()
            return LabelledExample.file(target if target.is_absolute() else base / target, label)
    for key in _TEXT_KEYS:
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return LabelledExample.of_text(value, label)
    raise InvalidInputError(
        f"{where}: needs an item id ({'/'.join(_ID_KEYS)}), a file ({'/'.join(_PATH_KEYS)}) or a "
        f"text ({'/'.join(_TEXT_KEYS)}) next to its label"
    )


def load_labels_file(path: Path) -> list[LabelledExample]:
    """Read ``path,label`` / ``id,label`` / ``text,label`` rows from CSV or JSONL.

    JSONL: one object per line with ``label`` and one of ``id``/``item_id``, ``path``/``file``/
    ``uri`` or ``text``. CSV: a header naming those columns, or no header and two columns
    ``source,label`` where the source is a file when it exists (relative paths are relative to the
    labels file) or has a media extension, and an item id otherwise.
    """
    from omnivec.indexer.media import kind_for_path

    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise NotFoundError(f"labels file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"labels file {path} cannot be read as UTF-8: {exc}") from exc
    base = path.resolve().parent
    examples: list[LabelledExample] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{where}: invalid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise InvalidInputError(f"{where}: each line must be a JSON object")
            examples.append(_example_from_fields(row, where, base))
    else:
        rows = [r for r in csv.reader(io.StringIO(raw)) if any(c.strip() for c in r)]
        if not rows:
            raise InvalidInputError(f"labels file {path} has no rows")
        header = [c.strip().lower() for c in rows[0]]
        known = {*_PATH_KEYS, *_ID_KEYS, *_TEXT_KEYS}
        if "label" in header and any(h in known for h in header):
            for number, row in enumerate(rows[1:], 2):
                fields = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
                if "text" in fields and len(row) > header.index("text"):
                    fields["text"] = row[header.index("text")]
                examples.append(_example_from_fields(fields, f"{path}:{number}", base))
        else:
            for number, row in enumerate(rows, 1):
                where = f"{path}:{number}"
                if len(row) != 2:
                    raise InvalidInputError(
                        f"{where}: expected 2 columns (path or id, label), got {len(row)}; or add "
                        "a header such as 'path,label' / 'id,label' / 'text,label'"
                    )
                source, label = row[0].strip(), row[1].strip()
                if not source:
                    raise InvalidInputError(f"{where}: empty path or id")
                target = Path(source).expanduser()
                target = target if target.is_absolute() else base / target
                if target.is_file() or kind_for_path(target) is not None:
                    examples.append(_example_from_fields({"path": str(target), "label": label}, where, base))
                else:
                    examples.append(_example_from_fields({"id": source, "label": label}, where, base))
    if not examples:
        raise InvalidInputError(f"labels file {path} has no examples")
    return examples


# A labels file with its label column empty, for the items ``probe suggest`` lists: load_labels_file
# reads it as ``id,label`` (the other columns are there to label by, and are ignored).
LABELS_TO_FILL_COLUMNS = ("id", "label", "guess", "probability", "source", "text")


def require_new_labels_file(path: Path) -> None:
    """Refuse a path that exists, before the suggestions are computed rather than after."""
    if Path(path).exists():
        raise _exists(Path(path))


def _exists(path: Path) -> InvalidInputError:
    return InvalidInputError(f"{path} already exists (it may hold labels filled in): give a new file name")


def _as_shown(cell: str) -> str:
    """A cell that is only there to be read, made inert for spreadsheets: one starting with = + -
    or @ would be run as a formula by the program a user labels in (CSV injection), so it gets a
    leading apostrophe. The loader never reads these columns."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def write_labels_to_fill(path: Path, suggestions: Sequence[Suggestion]) -> None:
    """Write ``suggestions`` to ``path`` as a labels file to fill in: one row per item, its id, an
    empty label, the probe's guess and probability, and its source and text to label it by.

    An existing file is never overwritten: it may hold labels already filled in."""
    path = Path(path)
    try:
        with path.open("x", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(LABELS_TO_FILL_COLUMNS)
            for s in suggestions:
                writer.writerow([s.item_id, "", s.predicted, f"{s.probability:.4f}",
                                 _as_shown(s.source_uri), _as_shown(s.text)])
    except FileExistsError:
        raise _exists(path) from None
    except OSError as exc:
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
