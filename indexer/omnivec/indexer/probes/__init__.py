"""Few-shot linear probes over one embedding space.

The training math is numpy in, numpy out and is what this package exports:

- :mod:`.training` - :func:`train_probe`, the orchestration;
- :mod:`.config` - :class:`ProbeTrainingConfig` and the default C grid;
- :mod:`.model` - the served :class:`ProbeModel` and its storage form;
- :mod:`.report` - :class:`ProbeReport` (field names of ``omnivec.v1.ProbeReport``) and its parts;
- :mod:`.solver`, :mod:`.selection`, :mod:`.numerics`, :mod:`.progress` - the pieces.

Storage and serving (LanceDB, encoders) are imported from their modules, so importing this
package stays light: :mod:`.storage` (versioned probes on disk), :mod:`.examples` (inputs,
labelled examples, labels files), :mod:`.vectors` (the vectors a probe reads), :mod:`.results`
(what the service answers) and :mod:`.service` (the engine's ``ProbeService``).
"""

from __future__ import annotations

from omnivec.indexer.probes.config import DEFAULT_C_GRID, ProbeTrainingConfig
from omnivec.indexer.probes.model import ProbeModel, validate_abstain_threshold
from omnivec.indexer.probes.progress import ProgressCallback
from omnivec.indexer.probes.report import ClassMetrics, CScore, ProbeReport
from omnivec.indexer.probes.training import train_probe

__all__ = [
    "DEFAULT_C_GRID",
    "CScore",
    "ClassMetrics",
    "ProbeModel",
    "ProbeReport",
    "ProbeTrainingConfig",
    "ProgressCallback",
    "train_probe",
    "validate_abstain_threshold",
]
