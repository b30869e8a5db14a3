"""What the probe service answers: a :class:`Classification` per input, a :class:`ProbeInfo` per
listed version, and a :class:`ClassifyCollectionResult` for a labelled collection.

Plain dataclasses with their JSON form (what the CLI's ``--json`` prints), shared by the service
and the CLI's remote backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Classification", "ClassifyCollectionResult", "ProbeInfo"]


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
    """One stored probe version, as listed."""

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
