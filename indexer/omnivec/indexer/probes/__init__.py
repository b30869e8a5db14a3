"""Few-shot linear probes over one embedding space: training math (``training``)."""

from __future__ import annotations

from omnivec.indexer.probes.training import (
    DEFAULT_C_GRID,
    ClassMetrics,
    CScore,
    ProbeModel,
    ProbeReport,
    ProbeTrainingConfig,
    ProgressCallback,
    train_probe,
)

__all__ = [
    "DEFAULT_C_GRID",
    "CScore",
    "ClassMetrics",
    "ProbeModel",
    "ProbeReport",
    "ProbeTrainingConfig",
    "ProgressCallback",
    "train_probe",
]
