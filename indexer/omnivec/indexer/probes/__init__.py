"""Few-shot linear probes over one embedding space.

The training math is numpy in, numpy out and is what this package exports:

- :mod:`.training` - :func:`train_probe`, the orchestration;
- :mod:`.config` - :class:`ProbeTrainingConfig` and the default C grid;
- :mod:`.model` - the served :class:`ProbeModel` and its storage form;
- :mod:`.report` - :class:`ProbeReport` (field names of ``omnivec.v1.ProbeReport``) and its parts;
- :mod:`.families` - the families one training compares (plain, zero-shot prior, unlabelled rows)
  and the rules that pick one; :mod:`.unlabeled` - learning class means from the unlabelled rows;
- :mod:`.estimates`, :mod:`.intervals` - the report's accuracies, intervals and paired comparisons;
- :mod:`.suggestion` - which unlabelled rows to label next;
- :mod:`.solver`, :mod:`.selection`, :mod:`.numerics`, :mod:`.progress` - the pieces.

Storage and serving (LanceDB, encoders) are imported from their modules, so importing this
package stays light: :mod:`.storage` (versioned probes on disk), :mod:`.examples` (inputs,
labelled examples, labels files), :mod:`.vectors` (the vectors a probe reads), :mod:`.results`
(what the service answers), :mod:`.training_set` and :mod:`.item_pool` (the labelled and the
unlabelled items of a collection as vectors) and :mod:`.service` (the engine's ``ProbeService``).
"""

from __future__ import annotations

from omnivec.indexer.probes.config import DEFAULT_C_GRID, ProbeTrainingConfig
from omnivec.indexer.probes.model import ProbeModel, validate_abstain_threshold
from omnivec.indexer.probes.progress import ProgressCallback
from omnivec.indexer.probes.report import ClassMetrics, Comparison, CScore, Interval, ProbeReport
from omnivec.indexer.probes.training import train_probe

__all__ = [
    "DEFAULT_C_GRID",
    "CScore",
    "ClassMetrics",
    "Comparison",
    "Interval",
    "ProbeModel",
    "ProbeReport",
    "ProbeTrainingConfig",
    "ProgressCallback",
    "train_probe",
    "validate_abstain_threshold",
]
