"""What the probe service answers: a :class:`Classification` per input, a :class:`ProbeInfo` per
listed version, and a :class:`ClassifyCollectionResult` for a labelled collection.

Plain dataclasses with their JSON form (what the CLI's ``--json`` prints), shared by the service
and the CLI's remote backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omnivec.indexer.probes.report import ACCURACY_KEYS

__all__ = ["Classification", "ClassifyCollectionResult", "ProbeInfo", "Suggestion", "Suggestions"]


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
    """One stored probe version, as listed. ``accuracy`` is the report's estimate and
    ``estimate_method`` how it was made ("held-out split", "cross-validation", "leave-one-out";
    "none" without an estimate)."""

    name: str
    version: int
    space: str
    classes: tuple[str, ...]
    accuracy: float | None
    estimate_method: str
    created_at: float
    is_latest: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form; the accuracy's key names how it was estimated (``heldout_accuracy``,
        ``cv_accuracy``, ``loo_accuracy``), as in the report."""
        key = ACCURACY_KEYS.get(self.estimate_method, ("accuracy", ""))[0]
        return {
            "name": self.name,
            "version": self.version,
            "space": self.space,
            "classes": list(self.classes),
            key: self.accuracy,
            "estimate_method": self.estimate_method,
            "created_at": self.created_at,
            "is_latest": self.is_latest,
        }


@dataclass(frozen=True)
class ClassifyCollectionResult:
    """What labelling a whole collection with a probe wrote."""

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


@dataclass(frozen=True)
class Suggestion:
    """An unlabelled item worth labelling next (``ProbeService.suggest``), best first."""

    rank: int  # 1 = most useful
    item_id: str
    modality: str
    source_uri: str
    text: str  # the item's (first chunk's) text or transcript; "" for images
    predicted: str  # the probe's best guess
    probability: float  # its probability
    margin: float  # p1 - p2: how close the probe is to its second guess
    score: float  # what the items were ranked by (uncertainty x typicality)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "item_id": self.item_id,
            "modality": self.modality,
            "source_uri": self.source_uri,
            "text": self.text,
            "predicted": self.predicted,
            "probability": self.probability,
            "margin": self.margin,
            "score": self.score,
        }


@dataclass(frozen=True)
class Suggestions:
    """What ``ProbeService.suggest`` answers: the items to label, and what they were drawn from."""

    collection: str
    probe: str
    version: int
    strategy: str
    unlabeled_items: int  # items scored (the collection's items minus the probe's examples)
    suggestions: tuple[Suggestion, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "probe": self.probe,
            "version": self.version,
            "strategy": self.strategy,
            "unlabeled_items": self.unlabeled_items,
            "suggestions": [s.to_dict() for s in self.suggestions],
        }
