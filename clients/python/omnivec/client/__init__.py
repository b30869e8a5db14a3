"""Typed Python client for the omnivec gRPC service.

    from omnivec.client import Client, Media, UpsertItem

    with Client("localhost:50051", token="...") as client:
        client.create_collection("photos", ["clip", "text"], if_not_exists=True)
        client.upsert("photos", [UpsertItem.from_path("cat.jpg", metadata={"year": 2024})])
        hits = client.search("photos", text="a cat on a sofa", k=5, where="metadata.year > 2020")

Methods return dataclasses and numpy arrays, never protobuf messages, and raise the exceptions
in omnivec.client.errors. AsyncClient offers the same methods on asyncio.
"""

from omnivec.client.async_client import AsyncClient
from omnivec.client.auth import TlsOptions
from omnivec.client.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    OmnivecClientError,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)
from omnivec.client.sync_client import Client
from omnivec.client.types import (
    Classification,
    ClassifyCollectionProgress,
    ClassMetrics,
    Collection,
    CScore,
    Embeddings,
    EncoderConfig,
    Hit,
    IndexFailure,
    IndexProgress,
    ItemRef,
    ItemStatus,
    LabelledExample,
    LabelScore,
    Media,
    MediaOrItem,
    Modality,
    ProbeInfo,
    ProbeReport,
    SearchQuery,
    SearchResult,
    Snapshot,
    SpaceInfo,
    SpaceTiming,
    Span,
    TrainEvent,
    TrainProgress,
    Transcript,
    UpsertItem,
    UpsertResult,
    VerifyProblem,
    VerifyReport,
)

__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "ClassMetrics",
    "Classification",
    "ClassifyCollectionProgress",
    "Client",
    "CScore",
    "Collection",
    "DeadlineExceeded",
    "Embeddings",
    "EncoderConfig",
    "FailedPrecondition",
    "Hit",
    "IndexFailure",
    "IndexProgress",
    "InvalidArgument",
    "ItemRef",
    "ItemStatus",
    "LabelScore",
    "LabelledExample",
    "Media",
    "MediaOrItem",
    "Modality",
    "NotFound",
    "OmnivecClientError",
    "PermissionDenied",
    "ProbeInfo",
    "ProbeReport",
    "ResourceExhausted",
    "SearchQuery",
    "SearchResult",
    "Snapshot",
    "VerifyProblem",
    "VerifyReport",
    "SpaceInfo",
    "SpaceTiming",
    "Span",
    "TlsOptions",
    "TrainEvent",
    "TrainProgress",
    "Transcript",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "UpsertItem",
    "UpsertResult",
]
