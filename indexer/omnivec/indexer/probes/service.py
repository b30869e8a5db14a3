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
import dataclasses
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from omnivec.indexer.classify import MediaInput, embed_prompts
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
from omnivec.indexer.probes.item_pool import unlabeled_items
from omnivec.indexer.probes.results import (
    Classification,
    ClassifyCollectionResult,
    ProbeInfo,
    Suggestion,
    Suggestions,
)
from omnivec.indexer.probes.storage import ProbeRecord, ProbeStorage, validate_probe_name
from omnivec.indexer.probes.suggestion import MAX_SUGGESTIONS, SUGGEST_STRATEGIES, suggest_rows
from omnivec.indexer.probes.training_set import training_set
from omnivec.indexer.probes.unlabeled import MAX_UNLABELED_ROWS
from omnivec.indexer.probes.vectors import (
    ITEM_POOLING,
    input_vectors,
    mean_pool,
    training_space,
)
from omnivec.indexer.prompt_sets import resolve_templates
from omnivec.indexer.store import Collection, Store, validate_collection_name

__all__ = ["ProbeService", "label_column_for"]

_CLASSIFY_BATCH = 4096
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")


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


class ProbeService:
    """Train, store and serve probes for the collections of one :class:`Store`.

    ``progress(stage, done, total)`` callbacks see the stages "embed", the training stages of
    ``train_probe`` ("select C (plain probe)", "select C (zero-shot prior)", "learn from
    unlabeled rows", "select C (unlabeled rows)", "measure learning curve", "fit final model")
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
        prompt_template: str | Sequence[str] | None = None,
        class_names: Mapping[str, str] | None = None,
        abstain_threshold: float | None = None,
        seed: int = 0,
        config: ProbeTrainingConfig | None = None,
        progress: ProgressCallback | None = None,
        prompt_set: str | None = None,
        use_unlabeled: bool = True,
    ) -> ProbeRecord:
        """Train and store a new version of probe ``name``; returns its record (with the report).

        ``space`` None picks the collection's only space, else ``clip`` when any example is an
        image, else ``text``. The zero-shot prior is used when a prompt template (one or several:
        an ensemble), a built-in ``prompt_set`` ("image", "text") or ``class_names`` is given
        (template default ``"{}"``; ``class_names`` maps a label to the words put in the prompt).
        ``use_unlabeled``: learn from the collection's other items in the space too (kept only
        when cross-validation says it helps; the report says how many were read and whether).
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
        if not isinstance(use_unlabeled, bool):
            raise InvalidInputError(f"use_unlabeled must be true or false, got {use_unlabeled!r}")
        base_config = config or ProbeTrainingConfig()
        cfg = dataclasses.replace(
            base_config,
            seed=seed,
            abstain_threshold=abstain_threshold,
            use_unlabeled=base_config.use_unlabeled and use_unlabeled,
        )
        templates = resolve_templates(prompt_template, prompt_set)
        use_prompts = bool(templates) or bool(names)
        if use_prompts and not templates:
            templates = ["{}"]
        space_name = training_space(target, space, examples)
        self._check_configured(target, space_name)

        examples_set = training_set(self.models, target, space_name, examples, progress)
        X, y = examples_set.X, examples_set.labels

        prompt_embeddings = None
        if use_prompts:
            prompt_matrix = embed_prompts(self.models, space_name, classes, templates, names)
            prompt_embeddings = {c: prompt_matrix[j] for j, c in enumerate(classes)}
        unlabeled: np.ndarray | None = None
        unlabeled_count = 0
        if cfg.use_unlabeled:
            if progress is not None:
                progress("read unlabeled rows", 0, 1)
            pool = unlabeled_items(
                target, space_name, examples_set.item_ids, cap=MAX_UNLABELED_ROWS, seed=seed
            )
            unlabeled, unlabeled_count = pool.vectors, pool.total
            if progress is not None:
                progress("read unlabeled rows", 1, 1)
        model, report = train_probe(
            X, y, prompt_embeddings=prompt_embeddings, unlabeled=unlabeled, config=cfg,
            progress=progress,
        )
        if unlabeled is not None and unlabeled_count > len(unlabeled):
            report = dataclasses.replace(
                report,
                unlabeled_available=unlabeled_count,
                notes=(
                    *report.notes,
                    f"{len(unlabeled)} of the collection's {unlabeled_count} unlabeled items "
                    "were read (a seeded random sample)",
                ),
            )
        spec = target.specs[space_name]
        record = self.storage(target).save(
            name,
            model,
            {
                "space": space_name,
                "encoder": spec.to_dict(),
                "encoder_fingerprint": spec.fingerprint,
                "report": report.to_dict(),
                "examples": examples_set.refs,
                "created_at": time.time(),
                "prompt_template": templates[0] if use_prompts else None,
                "prompt_templates": templates if use_prompts else [],
                "prompt_set": prompt_set or None,
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
                        accuracy=record.accuracy,
                        estimate_method=record.report.estimate_method or "none",
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

    def suggest(
        self,
        collection: str,
        name: str,
        *,
        n: int = 20,
        version: int | None = None,
        strategy: str = "margin",
    ) -> Suggestions:
        """The ``n`` unlabelled items whose labels would help probe ``name`` most, best first:
        the items it is least sure about, weighted by how typical they are, diversified along a
        kNN graph so they are not near-duplicates (:mod:`.suggestion`). Items among the probe's
        training examples are never suggested."""
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SUGGESTIONS:
            raise InvalidInputError(f"n must be an integer in 1-{MAX_SUGGESTIONS}, got {n!r}")
        if strategy not in SUGGEST_STRATEGIES:
            raise InvalidInputError(
                f"unknown strategy {strategy!r}; use one of: {', '.join(SUGGEST_STRATEGIES)}"
            )
        target = self._collection(collection)
        record, model = self._load(target, name, version)
        labelled = {str(e["item_id"]) for e in record.examples if e.get("item_id")}
        pool = unlabeled_items(target, record.space, labelled)
        if not len(pool.item_ids):
            return Suggestions(target.name, name, record.version, strategy, 0, ())
        proba = np.concatenate([
            model.predict_proba(pool.vectors[start : start + _CLASSIFY_BATCH])
            for start in range(0, len(pool.vectors), _CLASSIFY_BATCH)
        ])
        picked = suggest_rows(proba, pool.vectors, n, strategy=strategy)
        # Each item is shown by its first row: source, modality, the text of its first chunk.
        shown = target.fetch_rows(
            [int(pool.first_rowids[p.row]) for p in picked],
            ("rowid", "item_id", "modality", "source_uri", "text"),
        )
        suggestions = []
        for rank, p in enumerate(picked, 1):
            row = shown.get(int(pool.first_rowids[p.row]), {})
            suggestions.append(Suggestion(
                rank=rank,
                item_id=str(pool.item_ids[p.row]),
                modality=str(row.get("modality") or ""),
                source_uri=str(row.get("source_uri") or ""),
                text=str(row.get("text") or ""),
                predicted=model.classes[p.predicted],
                probability=p.probability,
                margin=p.margin,
                score=p.score,
            ))
        return Suggestions(
            target.name, name, record.version, strategy, len(pool.item_ids), tuple(suggestions)
        )

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
