"""Indexing on a Ray cluster: the in-process indexer's pipeline, on Ray Data.

    driver: discover ─► identify tasks ─► decide ─► decode tasks ─► encoder actors ─► write tasks
                        (read, hash,     (unchanged,  (chunks,        (one ModelHub     (Lance
                         id)              duplicate,   CLIP tensors,   each, CPU or      fragments,
                                          new)         audio samples)  GPU)              lance-ray)
            ◄── fragments ── commit every ``ray.commit_rows`` rows / ``commit_seconds`` ─► reported

Every step of an item is a function of :mod:`omnivec.indexer.item_rows`, shared with the
in-process indexer, so a folder indexed either way holds the same ids, rows and vectors. Only
this package imports Ray and lance-ray (the ``distributed`` extra); :class:`RayJob` is importable
without them. Modules: :mod:`.job` (what a run asks for), :mod:`.cluster` (joining or starting
Ray), :mod:`.records` (items and batches as Arrow rows between stages), :mod:`.stages` (the
tasks and actors), :mod:`.pipeline` (the driver).
"""

from omnivec.indexer.distributed.job import DISTRIBUTED_EXTRA_HINT, RayJob

__all__ = ["DISTRIBUTED_EXTRA_HINT", "RayJob"]
