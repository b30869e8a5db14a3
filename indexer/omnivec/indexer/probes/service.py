"""Probes as a service: train, version, list, delete, classify, label a whole collection.

The engine exposes one :class:`ProbeService` as ``engine.probes``; the gRPC servicer and the CLI
call it. A probe belongs to one collection and one of its spaces and reads that space's vectors:

- **Stored items** (by id) use their stored vectors, **mean-pooled**: an item's chunk vectors in
  the space are averaged and renormalised (:data:`ITEM_POOLING`). A one-chunk item (an image, a
  short text) is its vector; a long document or transcript is represented by all of it rather
  than by its first chunk. Training, Classify and ClassifyCollection all use the same rule.
- **Inline media** (files, bytes, text) are embedded on the fly in the probe's space, chunked and
  pooled the same way (images only in ``clip``; audio is transcribed and embedded as text). Media
  whose exact bytes are already stored in the collection (same content hash) reuse the stored
  vectors and are recorded by item id.

A probe refuses to run (:class:`EncoderMismatchError`) when the collection's encoder for its space
is no longer the one it was trained on, or when the configured encoder differs from the
collection's: the weights only mean something for the vectors of that exact encoder.

ClassifyCollection writes ``label_<probe>`` (top label, NULL when the probe abstains) and
``label_<probe>_confidence`` (its calibrated probability) into the collection's LanceDB table, so
search filters like ``label_topic = 'cats' AND label_topic_confidence >= 0.8`` work. LanceDB 0.40
has no single "add a column with these values" commit without pylance, so the first run adds the
two (nullable, empty) columns with ``add_columns`` and then fills them with one
``merge_insert(on=rowid).when_matched_update_all()`` commit; later runs are the second commit
only. Both steps are idempotent, so an interrupted run is repaired by running it again (until
then the columns are NULL, which no equality filter matches).
"""

from __future__ import annotations

import builtins
import csv
import hashlib
import io
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from omnivec.indexer.classify import MediaInput, embed_media, embed_prompts, format_prompt
from omnivec.indexer.config import Settings
from omnivec.indexer.errors import (
    EncoderMismatchError,
    InvalidInputError,
    NotFoundError,
    OmnivecError,
)
from omnivec.indexer.filters import LABEL_COLUMN_PREFIX
from omnivec.indexer.media import MediaKind
from omnivec.indexer.models import EMBEDDING_SPACES, ModelHub
from omnivec.indexer.probes import ProbeModel, ProbeTrainingConfig, train_probe
from omnivec.indexer.probes.storage import ProbeRecord, ProbeStorage, validate_probe_name
from omnivec.indexer.store import (
    Collection,
    Store,
    column_to_matrix,
    validate_collection_name,
    vector_column,
)

__all__ = [
    "ITEM_POOLING",
    "Classification",
    "ClassifyCollectionResult",
    "LabelledExample",
    "ProbeInfo",
    "ProbeInput",
    "ProbeService",
    "ProgressCallback",
    "label_column_for",
    "load_labels_file",
]

ProgressCallback = Callable[[str, int, int], None]
"""progress(stage, done, total). Stages: "embed", the training stages of ``train_probe``
("select C (plain probe)", "select C (zero-shot prior)", "fit final model"), "save"; for
ClassifyCollection "read", "classify", "write"."""

ITEM_POOLING = "mean"
_IN_BATCH = 500  # values per SQL IN list
_CLASSIFY_BATCH = 4096
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_MAX_LISTED = 20


# --------------------------------------------------------------------------------------------
# Inputs and results
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Classification:
    """A probe's answer for one input: labels with calibrated probabilities, best first."""

    input: str  # how the input is named in messages
    labels: tuple[tuple[str, float], ...]
    abstained: bool
    version: int
    error: str | None = None

    @property
    def label(self) -> str | None:
        """The predicted label; None when the probe abstained or the input failed."""
        if self.error is not None or self.abstained or not self.labels:
            return None
        return self.labels[0][0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "label": self.label,
            "labels": [{"label": lab, "probability": p} for lab, p in self.labels],
            "abstained": self.abstained,
            "version": self.version,
            "error": self.error,
        }


@dataclass(frozen=True)
class ProbeInfo:
    name: str
    version: int
    space: str
    classes: tuple[str, ...]
    heldout_accuracy: float | None
    created_at: float
    is_latest: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "space": self.space,
            "classes": list(self.classes),
            "heldout_accuracy": self.heldout_accuracy,
            "created_at": self.created_at,
            "is_latest": self.is_latest,
        }


@dataclass(frozen=True)
class ClassifyCollectionResult:
    collection: str
    probe: str
    version: int
    column: str
    confidence_column: str
    items: int  # items labelled
    rows: int  # rows written (every chunk of a labelled item)
    abstained: int  # items whose top probability was below the threshold (label NULL)
    skipped: int  # items with no vector in the probe's space (left NULL)
    counts: dict[str, int] = field(default_factory=dict)  # items per predicted label
    lance_version: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "probe": self.probe,
            "version": self.version,
            "column": self.column,
            "confidence_column": self.confidence_column,
            "items": self.items,
            "rows": self.rows,
            "abstained": self.abstained,
            "skipped": self.skipped,
            "counts": dict(self.counts),
            "lance_version": self.lance_version,
        }


def label_column_for(probe_name: str, column: str | None = None) -> str:
    """``label_<probe>`` (lower case, '-' as '_', so it is one SQL identifier), or ``column``
    prefixed with ``label_`` when it is not already."""
    if column is None or column == "":
        name = LABEL_COLUMN_PREFIX + validate_probe_name(probe_name).lower().replace("-", "_")
    else:
        name = column if column.startswith(LABEL_COLUMN_PREFIX) else LABEL_COLUMN_PREFIX + column
    if not _COLUMN.fullmatch(name) or name.endswith("_confidence"):
        raise InvalidInputError(
            f"invalid label column {name!r}: use lower-case letters, digits and '_' (it must not "
            "end in '_confidence', which names the probability column)"
        )
    return name


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


# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _listed(values: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:_MAX_LISTED])
    more = len(values) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _pool_groups(keys: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique keys and the renormalised mean of their rows (mean pooling)."""
    uniq, inverse = np.unique(keys, return_inverse=True)
    sums = np.zeros((len(uniq), matrix.shape[1]), dtype=np.float64)
    np.add.at(sums, inverse, matrix.astype(np.float64))
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    norms[norms <= 1e-12] = 1.0
    return uniq, (sums / norms).astype(np.float32)


class ProbeService:
    """Train, store and serve probes for the collections of one :class:`Store`."""

    def __init__(self, store: Store, models: ModelHub, settings: Settings | None = None) -> None:
        self.store = store
        self.models = models
        self.settings = settings or models.settings
        self._storages: dict[Path, ProbeStorage] = {}
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------
    def _collection(self, name: str) -> Collection:
        return self.store.open(validate_collection_name(name))

    def storage(self, collection: Collection) -> ProbeStorage:
        with self._lock:
            storage = self._storages.get(collection.path)
            if storage is None:
                storage = ProbeStorage(collection.path, collection.name)
                self._storages[collection.path] = storage
            return storage

    def _check_configured(self, collection: Collection, space: str) -> None:
        """The configured encoder must be the collection's (it embeds media and prompts)."""
        collection.check_encoder(space, self.models.embedder(space).spec)

    def _check_probe_encoder(self, collection: Collection, record: ProbeRecord) -> None:
        stored = collection.specs.get(record.space)
        label = f"probe {record.name!r} v{record.version}"
        if stored is None:
            raise EncoderMismatchError(
                f"{label} reads the {record.space!r} space, which collection "
                f"{collection.name!r} no longer has; retrain the probe"
            )
        if stored.fingerprint != record.encoder_fingerprint:
            raise EncoderMismatchError(
                f"{label} was trained on vectors of {record.encoder.describe()} (encoder "
                f"{record.encoder_fingerprint}), but collection {collection.name!r} space "
                f"{record.space!r} is now built with {stored.describe()} (encoder "
                f"{stored.fingerprint}); retrain the probe on this collection"
            )
        current = self.models.embedder(record.space).spec
        if current.fingerprint != record.encoder_fingerprint:
            raise EncoderMismatchError(
                f"{label} was trained on vectors of {record.encoder.describe()}, but the "
                f"configured {record.space} encoder is {current.describe()}; configure the "
                "original encoder or retrain the probe"
            )

    def _item_vectors(
        self, collection: Collection, space: str, item_ids: Sequence[str]
    ) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
        """Mean-pooled stored vectors of ``item_ids`` -> (found, unknown ids, ids with no vector
        in ``space``)."""
        wanted = list(dict.fromkeys(item_ids))
        if not wanted:
            return {}, [], []
        column = vector_column(space)
        dim = collection.specs[space].dim
        ids: list[str] = []
        present: list[bool] = []
        mats: list[np.ndarray] = []
        for start in range(0, len(wanted), _IN_BATCH):
            chunk = wanted[start : start + _IN_BATCH]
            data = (
                collection._table.search()
                .where(f"item_id IN ({', '.join(_sql_str(i) for i in chunk)})")
                .select(["item_id", column])
                .limit(None)
                .to_arrow()
            )
            vec = data.column(column)
            mask = np.asarray(vec.is_valid())
            ids.extend(data.column("item_id").to_pylist())
            present.extend(mask.tolist())
            if mask.any():
                mats.append(column_to_matrix(vec.filter(pa.array(mask)), dim))
        seen = set(ids)
        unknown = [i for i in wanted if i not in seen]
        with_vec = [i for i, ok in zip(ids, present) if ok]
        no_vector = sorted(seen - set(with_vec))
        found: dict[str, np.ndarray] = {}
        if with_vec:
            uniq, pooled = _pool_groups(np.asarray(with_vec, dtype=object), np.concatenate(mats))
            found = {str(k): v for k, v in zip(uniq, pooled)}
        return found, unknown, no_vector

    def _stored_by_hash(
        self, collection: Collection, space: str, hashes: Sequence[str]
    ) -> dict[str, str]:
        """content hash -> item id of a stored item with a vector in ``space``."""
        wanted = list(dict.fromkeys(h for h in hashes if h))
        out: dict[str, str] = {}
        column = vector_column(space)
        for start in range(0, len(wanted), _IN_BATCH):
            chunk = wanted[start : start + _IN_BATCH]
            data = (
                collection._table.search()
                .where(f"content_hash IN ({', '.join(_sql_str(h) for h in chunk)}) AND {column} IS NOT NULL")
                .select(["item_id", "content_hash"])
                .limit(None)
                .to_arrow()
            )
            for item_id, digest in zip(data.column("item_id").to_pylist(), data.column("content_hash").to_pylist()):
                out.setdefault(digest, item_id)
        return out

    @staticmethod
    def _content_hash(media: MediaInput) -> str | None:
        """The indexer's content id of media (sha256 of the bytes, first 32 hex digits)."""
        try:
            if media.text is not None:
                raw = media.text.encode("utf-8")
            elif media.data is not None:
                raw = media.data
            else:
                assert media.path is not None
                raw = media.path.read_bytes()
        except OSError:
            return None  # the embedding step reports the unreadable file precisely
        return hashlib.sha256(raw).hexdigest()[:32] if raw else None

    def _vectors_for(
        self,
        collection: Collection,
        space: str,
        inputs: Sequence[ProbeInput],
        progress: ProgressCallback | None = None,
    ) -> tuple[list[np.ndarray | OmnivecError], list[str | None]]:
        """One vector (or error) per input, and the item id each input resolved to."""
        total = len(inputs)
        out: list[np.ndarray | OmnivecError] = [InvalidInputError("not resolved")] * total
        resolved: list[str | None] = [None] * total
        hashes: dict[int, str | None] = {}
        for i, inp in enumerate(inputs):
            if inp.item_id is not None:
                resolved[i] = inp.item_id
            else:
                assert inp.media is not None
                hashes[i] = self._content_hash(inp.media)
        by_hash = self._stored_by_hash(collection, space, [h for h in hashes.values() if h])
        for i, digest in hashes.items():
            if digest is not None and digest in by_hash:
                resolved[i] = by_hash[digest]
        found, unknown, no_vector = self._item_vectors(
            collection, space, [r for r in resolved if r is not None]
        )
        done = 0
        for i, item_id in enumerate(resolved):
            if item_id is None:
                continue
            if item_id in found:
                out[i] = found[item_id]
            elif item_id in no_vector:
                out[i] = InvalidInputError(
                    f"item {item_id!r} has no vector in the {space!r} space (images are only "
                    "embedded in clip)"
                )
            else:
                out[i] = NotFoundError(f"item {item_id!r} is not in collection {collection.name!r}")
            done += 1
        if progress is not None:
            progress("embed", done, total)
        pending = [i for i in range(total) if resolved[i] is None]
        step = max(1, int(getattr(self.models.embedder(space), "batch_size", 32))) if pending else 1
        for start in range(0, len(pending), step):
            batch = pending[start : start + step]
            results = embed_media(self.models, space, [inputs[i].media for i in batch])  # type: ignore[misc]
            for i, result in zip(batch, results):
                out[i] = result
            done += len(batch)
            if progress is not None:
                progress("embed", done, total)
        return out, resolved

    def _resolve_space(self, collection: Collection, space: str | None, examples: Sequence[LabelledExample]) -> str:
        if space:
            if space not in EMBEDDING_SPACES:
                raise InvalidInputError(f"unknown space {space!r}; use one of: {', '.join(EMBEDDING_SPACES)}")
            if space not in collection.specs:
                raise InvalidInputError(
                    f"collection {collection.name!r} has no {space!r} space (it has: "
                    f"{', '.join(collection.spaces)})"
                )
            return space
        if len(collection.spaces) == 1:
            return collection.spaces[0]
        # Both spaces: images force clip; otherwise texts/transcripts are best in the text space.
        for ex in examples:
            media = ex.input.media
            if media is not None:
                try:
                    if media.kind() is MediaKind.IMAGE:
                        return "clip"
                except OmnivecError:
                    pass
        item_ids = [ex.input.item_id for ex in examples if ex.input.item_id is not None]
        if item_ids:
            sample = item_ids[:_IN_BATCH]
            data = (
                collection._table.search()
                .where(f"item_id IN ({', '.join(_sql_str(i) for i in sample)}) AND modality = 'image'")
                .select(["item_id"])
                .limit(1)
                .to_arrow()
            )
            if data.num_rows:
                return "clip"
        return "text" if "text" in collection.specs else "clip"

    # -- training ---------------------------------------------------------------------------
    def train(
        self,
        collection: str,
        name: str,
        *,
        examples: Sequence[LabelledExample],
        space: str | None = None,
        prompt_template: str | None = None,
        class_names: Mapping[str, str] | None = None,
        abstain_threshold: float | None = None,
        seed: int = 0,
        config: ProbeTrainingConfig | None = None,
        progress: ProgressCallback | None = None,
    ) -> ProbeRecord:
        """Train and store a new version of probe ``name``; returns its record (with the report).

        ``space`` None picks the collection's only space, else ``clip`` when any example is an
        image, else ``text``. The zero-shot prior is used when ``prompt_template`` or
        ``class_names`` is given (template default ``"{}"``; ``class_names`` maps a label to the
        words put in the prompt).
        """
        validate_probe_name(name)
        target = self._collection(collection)
        if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
            raise InvalidInputError("examples must be a list of LabelledExample")
        examples = list(examples)
        if not examples:
            raise InvalidInputError("no training examples; give at least one per class, 2 classes or more")
        for i, ex in enumerate(examples):
            if not isinstance(ex, LabelledExample):
                raise InvalidInputError(f"examples[{i}] is a {type(ex).__name__}, not a LabelledExample")
            if not isinstance(ex.label, str) or not ex.label.strip():
                raise InvalidInputError(f"examples[{i}] ({ex.input.describe()}) has an empty label")
        labels = [ex.label for ex in examples]
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise InvalidInputError(
                f"a probe needs at least 2 classes, but all {len(examples)} examples are labelled "
                f"{classes[0]!r}; add examples of another class"
            )
        names = dict(class_names or {})
        missing = [c for c in names if c not in set(classes)]
        if missing:
            raise InvalidInputError(
                f"label {missing[0]!r} has no examples (it is in class_names); every class needs "
                f"at least one labelled example (labels with examples: {', '.join(classes)})"
            )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidInputError(f"seed must be an integer, got {seed!r}")
        base_config = config or ProbeTrainingConfig()
        cfg = ProbeTrainingConfig(
            c_grid=base_config.c_grid,
            refine_steps=base_config.refine_steps,
            max_iter=base_config.max_iter,
            tol=base_config.tol,
            seed=seed,
            zero_shot_prior=base_config.zero_shot_prior,
            holdout_fraction=base_config.holdout_fraction,
            abstain_threshold=abstain_threshold,
        )
        use_prompts = prompt_template is not None or bool(names)
        template = prompt_template or "{}"
        if use_prompts:
            format_prompt(template, "x")
        space_name = self._resolve_space(target, space, examples)
        self._check_configured(target, space_name)

        vectors, resolved = self._vectors_for(target, space_name, [ex.input for ex in examples], progress)
        unknown = [ex.input.item_id for ex, v in zip(examples, vectors)
                   if isinstance(v, NotFoundError) and ex.input.item_id is not None]
        if unknown:
            raise NotFoundError(
                f"{len(unknown)} training item id(s) are not in collection {target.name!r}: "
                f"{_listed(list(dict.fromkeys(unknown)))}"
            )
        bad = [(ex, v) for ex, v in zip(examples, vectors) if isinstance(v, OmnivecError)]
        if bad:
            details = "; ".join(str(v) for _, v in bad[:_MAX_LISTED])
            more = f" (and {len(bad) - _MAX_LISTED} more)" if len(bad) > _MAX_LISTED else ""
            raise InvalidInputError(f"{len(bad)} training example(s) cannot be used: {details}{more}")

        # One vector per distinct example: duplicates are dropped, contradictions are errors.
        keys: dict[str, int] = {}
        rows: list[int] = []
        for i, ex in enumerate(examples):
            key = f"item:{resolved[i]}" if resolved[i] is not None else f"media:{ex.input.describe()}:{i}"
            if ex.input.media is not None and resolved[i] is None:
                digest = self._content_hash(ex.input.media)
                key = f"sha:{digest}" if digest else key
            if key in keys:
                first = keys[key]
                if examples[first].label != ex.label:
                    raise InvalidInputError(
                        f"{ex.input.describe()} is labelled both {examples[first].label!r} and "
                        f"{ex.label!r}; give each example one label"
                    )
                continue
            keys[key] = i
            rows.append(i)
        X = np.stack([vectors[i] for i in rows]).astype(np.float32)  # type: ignore[misc]
        y = [examples[i].label for i in rows]
        if len(set(y)) < 2:  # duplicates removed can only shrink classes, never empty one
            raise InvalidInputError("a probe needs at least 2 classes")

        prompt_embeddings = None
        if use_prompts:
            prompt_matrix = embed_prompts(self.models, space_name, classes, template, names)
            prompt_embeddings = {c: prompt_matrix[j] for j, c in enumerate(classes)}
        model, report = train_probe(
            X, y, prompt_embeddings=prompt_embeddings, config=cfg, progress=progress
        )
        spec = target.specs[space_name]
        example_refs: list[dict[str, Any]] = []
        for i in rows:
            ex = examples[i]
            ref: dict[str, Any] = {"label": ex.label}
            if resolved[i] is not None:
                ref["item_id"] = resolved[i]
            media = ex.input.media
            if media is not None:
                if media.path is not None:
                    ref["source"] = str(media.path)
                elif media.text is not None:
                    ref["text"] = media.text[:500]
                else:
                    ref["source"] = media.name or "<bytes>"
                if "item_id" not in ref:
                    ref["content_hash"] = self._content_hash(media)
            example_refs.append(ref)
        record = self.storage(target).save(
            name,
            model,
            {
                "space": space_name,
                "encoder": spec.to_dict(),
                "encoder_fingerprint": spec.fingerprint,
                "report": report.to_dict(),
                "examples": example_refs,
                "created_at": time.time(),
                "prompt_template": template if use_prompts else None,
                "class_names": names,
                "pooling": ITEM_POOLING,
                "seed": seed,
            },
        )
        if progress is not None:
            progress("save", 1, 1)
        return record

    # -- versions ---------------------------------------------------------------------------
    def list(
        self, collection: str, name: str | None = None, *, all_versions: bool = False
    ) -> list[ProbeInfo]:
        """Probes of a collection, sorted by name then version (the latest of each name only,
        unless ``all_versions``)."""
        target = self._collection(collection)
        storage = self.storage(target)
        names = [validate_probe_name(name)] if name else storage.names()
        out: list[ProbeInfo] = []
        for probe in names:
            versions = storage.versions(probe)
            if name and not versions:
                storage.resolve(probe)  # NotFoundError
            chosen = versions if all_versions else versions[-1:]
            for number in chosen:
                try:
                    record = storage.record(probe, number)
                except NotFoundError:
                    continue  # deleted meanwhile
                out.append(
                    ProbeInfo(
                        name=probe,
                        version=number,
                        space=record.space,
                        classes=record.classes,
                        heldout_accuracy=record.heldout_accuracy,
                        created_at=record.created_at,
                        is_latest=number == versions[-1],
                    )
                )
        return out

    def get(self, collection: str, name: str, version: int | None = None) -> ProbeRecord:
        """The record of one version (None: the latest)."""
        return self.storage(self._collection(collection)).record(name, version)

    def delete(
        self, collection: str, name: str, *, version: int | None = None, all_versions: bool = False
    ) -> int:
        """Delete one version, or all of them; exactly one of the two must be given."""
        return self.storage(self._collection(collection)).delete(
            name, version, all_versions=all_versions
        )

    # -- serving ----------------------------------------------------------------------------
    def _load(self, collection: Collection, name: str, version: int | None) -> tuple[ProbeRecord, ProbeModel]:
        if version is not None and version == 0:
            version = None  # the proto's "0 means the latest"
        record, model = self.storage(collection).load(name, version)
        self._check_probe_encoder(collection, record)
        return record, model

    def classify(
        self,
        collection: str,
        name: str,
        inputs: Sequence[ProbeInput | MediaInput | Path | str],
        *,
        version: int | None = None,
        top_k: int = 0,
    ) -> builtins.list[Classification]:
        """Classify item ids and/or media with a probe version (None or 0: the latest).

        One result per input, in order; an input that cannot be read or found gets ``error`` set
        and does not fail the others. ``top_k`` 0 returns every class.
        """
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
            raise InvalidInputError(f"top_k must be >= 0 (0 means all classes), got {top_k!r}")
        if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
            raise InvalidInputError("inputs must be a list (of item ids, paths or ProbeInput)")
        if not inputs:
            raise InvalidInputError("nothing to classify: give at least one item id or file")
        target = self._collection(collection)
        record, model = self._load(target, name, version)
        items = [ProbeInput.coerce(v) for v in inputs]
        vectors, _ = self._vectors_for(target, record.space, items)
        ok = [i for i, v in enumerate(vectors) if not isinstance(v, OmnivecError)]
        results: list[Classification | None] = [None] * len(items)
        if ok:
            matrix = np.stack([vectors[i] for i in ok])  # type: ignore[misc]
            proba = model.predict_proba(matrix)
            k = len(model.classes) if top_k == 0 else min(top_k, len(model.classes))
            for row, i in zip(proba, ok):
                order = np.argsort(-row, kind="stable")[:k]
                top = float(row[order[0]])
                threshold = model.abstain_threshold
                results[i] = Classification(
                    input=items[i].describe(),
                    labels=tuple((model.classes[int(j)], float(row[j])) for j in order),
                    abstained=threshold is not None and top < threshold,
                    version=record.version,
                )
        for i, v in enumerate(vectors):
            if isinstance(v, OmnivecError):
                results[i] = Classification(
                    input=items[i].describe(), labels=(), abstained=False,
                    version=record.version, error=str(v),
                )
        return [r for r in results if r is not None]

    def classify_collection(
        self,
        collection: str,
        name: str,
        *,
        version: int | None = None,
        column: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ClassifyCollectionResult:
        """Label every item (mean-pooled vectors) and store the label and its probability in
        ``label_<probe>`` / ``label_<probe>_confidence`` (or ``column``) on every row of the item.
        Re-running overwrites; items the probe abstains on get NULL."""
        target = self._collection(collection)
        record, model = self._load(target, name, version)
        label_col = label_column_for(name, column)
        conf_col = f"{label_col}_confidence"
        space = record.space
        vec_col = vector_column(space)
        dim = target.specs[space].dim

        if progress is not None:
            progress("read", 0, 1)
        data = (
            target._table.search()
            .select(["rowid", "item_id", vec_col])
            .limit(None)
            .to_arrow()
        )
        if progress is not None:
            progress("read", 1, 1)
        vec = data.column(vec_col)
        mask = np.asarray(vec.is_valid(), dtype=bool)
        all_ids = np.asarray(data.column("item_id").to_pylist(), dtype=object)
        rowids = data.column("rowid").to_numpy().astype(np.int64)
        ids_with = all_ids[mask]
        skipped = len(set(all_ids.tolist()) - set(ids_with.tolist()))
        matrix = column_to_matrix(vec.filter(pa.array(mask)), dim) if mask.any() else np.zeros((0, dim), np.float32)
        uniq, inverse = (np.unique(ids_with, return_inverse=True) if len(ids_with) else (np.empty(0, object), np.empty(0, np.intp)))
        pooled_sums = np.zeros((len(uniq), dim), dtype=np.float64)
        if len(uniq):
            np.add.at(pooled_sums, inverse, matrix.astype(np.float64))
            norms = np.linalg.norm(pooled_sums, axis=1, keepdims=True)
            norms[norms <= 1e-12] = 1.0
            pooled = pooled_sums / norms
        else:
            pooled = pooled_sums
        n_items = len(uniq)
        best = np.zeros(n_items, dtype=np.intp)
        conf = np.zeros(n_items, dtype=np.float64)
        for start in range(0, n_items, _CLASSIFY_BATCH):
            proba = model.predict_proba(pooled[start : start + _CLASSIFY_BATCH])
            best[start : start + len(proba)] = np.argmax(proba, axis=1)
            conf[start : start + len(proba)] = proba[np.arange(len(proba)), best[start : start + len(proba)]]
            if progress is not None:
                progress("classify", min(start + _CLASSIFY_BATCH, n_items), n_items)
        if progress is not None and n_items == 0:
            progress("classify", 0, 0)
        threshold = model.abstain_threshold
        abstain = conf < threshold if threshold is not None else np.zeros(n_items, dtype=bool)
        item_labels = [None if abstain[j] else model.classes[int(best[j])] for j in range(n_items)]
        counts: dict[str, int] = {}
        for lab in item_labels:
            if lab is not None:
                counts[lab] = counts.get(lab, 0) + 1
        row_labels = [item_labels[j] for j in inverse] if n_items else []
        row_conf = conf[inverse] if n_items else np.zeros(0)
        update = pa.table(
            {
                "rowid": pa.array(rowids[mask], pa.int64()),
                label_col: pa.array(row_labels, pa.string()),
                conf_col: pa.array(row_conf.astype(np.float32), pa.float32()),
            }
        )
        if progress is not None:
            progress("write", 0, 1)
        lance_version = self._write_labels(target, label_col, conf_col, update)
        if progress is not None:
            progress("write", 1, 1)
        return ClassifyCollectionResult(
            collection=target.name,
            probe=name,
            version=record.version,
            column=label_col,
            confidence_column=conf_col,
            items=n_items,
            rows=update.num_rows,
            abstained=int(abstain.sum()),
            skipped=skipped,
            counts=dict(sorted(counts.items())),
            lance_version=lance_version,
        )

    @staticmethod
    def _write_labels(target: Collection, label_col: str, conf_col: str, update: pa.Table) -> int:
        wanted = {label_col: pa.string(), conf_col: pa.float32()}
        with target._write_lock:
            target._acquire_writer()
            table = target._table
            schema = table.schema
            for col, kind in wanted.items():
                if col in schema.names and not schema.field(col).type.equals(kind):
                    raise InvalidInputError(
                        f"column {col!r} of collection {target.name!r} holds "
                        f"{schema.field(col).type}, not {kind}; choose another column name"
                    )
            missing = [pa.field(col, kind, nullable=True) for col, kind in wanted.items() if col not in schema.names]
            if missing:
                table.add_columns(missing)
            if update.num_rows:
                (
                    table.merge_insert("rowid")
                    .when_matched_update_all()
                    .execute(update)
                )
            return int(table.version)
