"""Storage: where collections live, locally or on an object store, behind one small interface.

    open_data_root(settings.data_dir, settings.storage) -> DataRoot
        .uri                     "/var/lib/omnivec" or "s3://bucket/prefix" (no secrets)
        .objects                 Objects: read / write (atomic) / create (exclusive) / list / delete
        .connect()               the LanceDB database there (storage_options, read consistency)
        .child(name)             a collection's own DataRoot
    claim_writer(objects, name)  the right to write a collection (flock locally; a writer slot
                                 and its rowid range on an object store)
    storage_fault(exc)           an object-store failure as an error with the right status

A local data directory keeps today's layout and fsync'd atomic files; an object store gets the
same keys under its prefix. Nothing above this package builds paths from a data directory.
"""

from omnivec.indexer.storage.faults import bucket_of, storage_fault
from omnivec.indexer.storage.location import DataRoot, open_data_root
from omnivec.indexer.storage.objects import LocalObjects, Objects, join_key
from omnivec.indexer.storage.writers import (
    SLOT_BITS,
    WriterClaim,
    check_conditional_put,
    claim_writer,
    slot_rowids,
)

__all__ = [
    "SLOT_BITS",
    "DataRoot",
    "LocalObjects",
    "Objects",
    "WriterClaim",
    "bucket_of",
    "check_conditional_put",
    "claim_writer",
    "join_key",
    "open_data_root",
    "slot_rowids",
    "storage_fault",
]
