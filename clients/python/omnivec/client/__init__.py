"""Typed Python client for the omnivec gRPC service.

    from omnivec.client import Client, Media, UpsertItem

    with Client("localhost:50051", token="...") as client:
        client.create_collection("photos", ["clip", "text"], if_not_exists=True)
        client.upsert("photos", [UpsertItem.from_path("cat.jpg", metadata={"year": 2024})])
        hits = client.search("photos", text="a cat on a sofa", k=5, where="metadata.year > 2020")

Methods return dataclasses and numpy arrays, never protobuf messages, and raise the exceptions
in omnivec.client.errors. AsyncClient offers the same methods on asyncio.
"""

import importlib
from typing import TYPE_CHECKING, Any

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
from omnivec.client.types import (
    KEYWORD_RANKING,
    METRICS,
    SEARCH_MODES,
    Classification,
    ClassifyCollectionProgress,
    ClassMetrics,
    Collection,
    Comparison,
    ConfigurationResult,
    CScore,
    Embeddings,
    EncoderConfig,
    Estimate,
    EvalEvent,
    EvalOptions,
    EvalProgress,
    EvalQuery,
    EvalReport,
    Fusion,
    Hit,
    IndexFailure,
    IndexProgress,
    Interval,
    ItemRef,
    ItemStatus,
    LabelledExample,
    LabelScore,
    LabelSuggestion,
    LabelSuggestions,
    Match,
    Media,
    MediaOrItem,
    Modality,
    PairedDifference,
    ProbeInfo,
    ProbeReport,
    SearchMode,
    SearchQuery,
    SearchResult,
    Snapshot,
    SpaceInfo,
    SpaceTiming,
    Span,
    TrainEvent,
    TrainProgress,
    Transcript,
    TuningResult,
    UpsertItem,
    UpsertResult,
    VerifyProblem,
    VerifyReport,
)

if TYPE_CHECKING:
    from omnivec.client.async_client import AsyncClient
    from omnivec.client.sync_client import Client

# The clients are imported on first use: they load grpc's asyncio layer and the generated stubs
# (a few hundred ms), which the CLI and the engine, who use only the types, never need.
_CLIENTS = {"AsyncClient": "omnivec.client.async_client", "Client": "omnivec.client.sync_client"}


def __getattr__(name: str) -> Any:
    module = _CLIENTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AlreadyExists",
    "AsyncClient",
    "Classification",
    "ClassifyCollectionProgress",
    "ClassMetrics",
    "Client",
    "Collection",
    "ConfigurationResult",
    "CScore",
    "Comparison",
    "DeadlineExceeded",
    "Embeddings",
    "EncoderConfig",
    "Estimate",
    "EvalEvent",
    "EvalOptions",
    "EvalProgress",
    "EvalQuery",
    "EvalReport",
    "FailedPrecondition",
    "Fusion",
    "Hit",
    "IndexFailure",
    "IndexProgress",
    "Interval",
    "InvalidArgument",
    "ItemRef",
    "ItemStatus",
    "KEYWORD_RANKING",
    "LabelScore",
    "LabelSuggestion",
    "LabelSuggestions",
    "LabelledExample",
    "Match",
    "Media",
    "MediaOrItem",
    "METRICS",
    "Modality",
    "NotFound",
    "OmnivecClientError",
    "PairedDifference",
    "PermissionDenied",
    "ProbeInfo",
    "ProbeReport",
    "ResourceExhausted",
    "SEARCH_MODES",
    "SearchMode",
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
    "TuningResult",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "UpsertItem",
    "UpsertResult",
]
