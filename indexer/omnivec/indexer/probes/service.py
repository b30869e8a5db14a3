"""Probes as a service: train, version, list, delete, classify, label a whole collection.

The engine exposes one :class:`ProbeService` as ``engine.probes``; the gRPC servicer and the CLI
call it. A probe belongs to one collection and one of its spaces and reads that space's vectors:
stored items (by id) mean-pooled, inline media (files, bytes, text) embedded on the fly (images
only in ``clip``; audio is transcribed and embedded as text), media already stored found by
content hash - the rules of :mod:`.vectors`, the same for training and classifying.

A probe refuses to run (:class:`EncoderMismatchError`) when the collection's encoder for its space
is no longer the one it was trained on, or when the configured encoder differs from the
collection's: the weights only mean something for the vectors of that exact encoder.

ClassifyCollection writes ``label_<probe>`` (top label, NULL when the probe abstains) and
``label_<probe>_confidence`` (its calibrated probability) on every row of the collection
(:meth:`Collection.write_label_columns`, which says how that is made safe to interrupt), so search
filters like ``label_topic = 'cats' AND label_topic_confidence >= 0.8`` work.

The collection is read and written through public :class:`Collection` methods only. Around the
service: the inputs and labels files are :mod:`.examples`, the answers :mod:`.results`, the
versions on disk :mod:`.storage`, the math :mod:`.training`.
"""

from __future__ import annotations

import builtins
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.indexer.classify import MediaInput, embed_prompts, format_prompt
from omnivec.indexer.config import Settings
from omnivec.indexer.errors import (
    EncoderMismatchError,
    InvalidInputError,
    NotFoundError,
    OmnivecError,
)
from omnivec.indexer.filters import LABEL_COLUMN_PREFIX
from omnivec.indexer.models import ModelHub
from omnivec.indexer.probes import ProbeModel, ProbeTrainingConfig, ProgressCallback, train_probe
from omnivec.indexer.probes.examples import LabelledExample, ProbeInput
from omnivec.indexer.probes.results import Classification, ClassifyCollectionResult, ProbeInfo
from omnivec.indexer.probes.storage import ProbeRecord, ProbeStorage, validate_probe_name
from omnivec.indexer.probes.vectors import (
    ITEM_POOLING,
    content_hash,
    input_vectors,
    mean_pool,
    training_space,
)
from omnivec.indexer.store import Collection, Store, validate_collection_name

__all__ = ["ProbeService", "label_column_for"]

_CLASSIFY_BATCH = 4096
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_MAX_LISTED = 20


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
# The service
# --------------------------------------------------------------------------------------------


def _listed(values: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in values[:_MAX_LISTED])
    more = len(values) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


class ProbeService:
    """Train, store and serve probes for the collections of one :class:`Store`.

    ``progress(stage, done, total)`` callbacks see the stages "embed", the training stages of
    ``train_probe`` ("select C (plain probe)", "select C (zero-shot prior)", "fit final model")
    and "save" for :meth:`train`; "read", "classify" and "write" for :meth:`classify_collection`.
    """

    def __init__(self, store: Store, models: ModelHub, settings: Settings | None = None) -> None:
        self.store = store
        self.models = models
        self.settings = settings or models.settings
        self._storages: dict[str, ProbeStorage] = {}
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------
    def _collection(self, name: str) -> Collection:
        return self.store.open(validate_collection_name(name))

    def storage(self, collection: Collection) -> ProbeStorage:
        with self._lock:
            storage = self._storages.get(collection.location)
            if storage is None:
                storage = ProbeStorage(collection.root.objects, collection.name)
                self._storages[collection.location] = storage
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
        space_name = training_space(target, space, examples)
        self._check_configured(target, space_name)

        vectors, resolved = input_vectors(self.models, target, space_name, [ex.input for ex in examples], progress)
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
                digest = content_hash(ex.input.media)
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
                    ref["content_hash"] = content_hash(media)
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
        vectors, _ = input_vectors(self.models, target, record.space, items)
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

        if progress is not None:
            progress("read", 0, 1)
        rows = target.row_vectors(record.space)
        if progress is not None:
            progress("read", 1, 1)
        skipped = len(rows.items_without_vector)
        uniq, inverse, pooled = mean_pool(rows.item_ids, rows.vectors)
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
        if progress is not None:
            progress("write", 0, 1)
        lance_version = target.write_label_columns(label_col, conf_col, rows.rowids, row_labels, row_conf)
        if progress is not None:
            progress("write", 1, 1)
        return ClassifyCollectionResult(
            collection=target.name,
            probe=name,
            version=record.version,
            column=label_col,
            confidence_column=conf_col,
            items=n_items,
            rows=len(rows.rowids),
            abstained=int(abstain.sum()),
            skipped=skipped,
            counts=dict(sorted(counts.items())),
            lance_version=lance_version,
        )
