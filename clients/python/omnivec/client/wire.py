"""The protobuf conversions that the server and the SDK share: one home for the wire format.

The server (``omnivec.server``) encodes what the engine returns with these functions and the SDK
decodes it with their twins, so both ends read one definition of each message:

- scalars: JSON metadata in a ``Struct``, timestamps, the ``Modality`` and ``ItemStatus`` enums;
- search: the ``SearchMode`` enum, ``Fusion`` weights, ``Span``, ``Hit`` (with the rankings that
  found it), ``SearchResult`` (the embedded engine returns the SDK's own search types, so a hit is
  the same value in process and over the wire);
- evaluation: ``EvaluateProgress`` and ``EvaluateReport``.
- verify reports: ``VerifyReport`` (the engine's ``verify_collection`` returns the SDK's type).

Conventions: an unset ``Timestamp`` is None (and None leaves it unset); a span without times has
None start/end; ``Struct`` numbers are doubles on the wire, so integral numbers come back as int
(JSON cannot tell 1 from 1.0 either). The enum decoders return None for a value they do not know,
and each side raises its own error for it (a bad request on the server, a bad answer in the SDK);
decoders only the SDK runs (a hit, a search result) raise the SDK's OmnivecClientError.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from omnivec.client.errors import OmnivecClientError
from omnivec.client.types import (
    METRICS,
    ConfigurationResult,
    Estimate,
    EvalProgress,
    EvalReport,
    Fusion,
    Hit,
    ItemStatus,
    Match,
    Modality,
    PairedDifference,
    SearchMode,
    SearchResult,
    SpaceTiming,
    Span,
    TuningResult,
    VerifyProblem,
    VerifyReport,
)
from omnivec.v1 import collections_pb2, common_pb2, indexing_pb2, search_pb2

__all__ = [
    "MODALITIES",
    "eval_progress_from_proto",
    "eval_progress_to_proto",
    "eval_report_from_proto",
    "eval_report_to_proto",
    "fusion_from_proto",
    "fusion_to_proto",
    "hit_from_proto",
    "hit_to_proto",
    "item_status_from_proto",
    "item_status_to_proto",
    "json_safe",
    "metadata_from_struct",
    "metadata_to_struct",
    "modality_from_proto",
    "modality_to_proto",
    "search_mode_from_proto",
    "search_mode_to_proto",
    "search_result_from_proto",
    "search_result_to_proto",
    "span_from_proto",
    "span_to_proto",
    "timestamp_from_proto",
    "timestamp_to_proto",
    "verify_report_from_proto",
    "verify_report_to_proto",
]

# --- enums -----------------------------------------------------------------------------------

# One table per enum; the decoding direction is derived from it.
_MODALITY_PAIRS: tuple[tuple[Modality, common_pb2.Modality], ...] = (
    ("image", common_pb2.MODALITY_IMAGE),
    ("text", common_pb2.MODALITY_TEXT),
    ("audio", common_pb2.MODALITY_AUDIO),
)
_MODALITY_TO_PROTO: dict[str, common_pb2.Modality] = dict(_MODALITY_PAIRS)
_MODALITY_FROM_PROTO: dict[int, Modality] = {int(v): k for k, v in _MODALITY_PAIRS}
MODALITIES: tuple[Modality, ...] = tuple(k for k, _ in _MODALITY_PAIRS)

_STATUS_PAIRS: tuple[tuple[ItemStatus, indexing_pb2.ItemStatus], ...] = (
    ("ok", indexing_pb2.ITEM_STATUS_OK),
    ("unchanged", indexing_pb2.ITEM_STATUS_UNCHANGED),
    ("failed", indexing_pb2.ITEM_STATUS_FAILED),
)
_STATUS_TO_PROTO: dict[ItemStatus, indexing_pb2.ItemStatus] = dict(_STATUS_PAIRS)
_STATUS_FROM_PROTO: dict[int, ItemStatus] = {int(v): k for k, v in _STATUS_PAIRS}


_MODE_PAIRS: tuple[tuple[SearchMode, search_pb2.SearchMode], ...] = (
    ("vector", search_pb2.SEARCH_MODE_VECTOR),
    ("keyword", search_pb2.SEARCH_MODE_KEYWORD),
    ("hybrid", search_pb2.SEARCH_MODE_HYBRID),
)
_MODE_TO_PROTO: dict[str, search_pb2.SearchMode] = dict(_MODE_PAIRS)
_MODE_FROM_PROTO: dict[int, SearchMode] = {int(v): k for k, v in _MODE_PAIRS}


def search_mode_to_proto(mode: str | None) -> search_pb2.SearchMode:
    """UNSPECIFIED for None (the server's default) and for a name that is not a mode (callers
    check names first)."""
    return _MODE_TO_PROTO.get(mode or "", search_pb2.SEARCH_MODE_UNSPECIFIED)


def search_mode_from_proto(value: int) -> SearchMode | None:
    """None for UNSPECIFIED and for a value this side does not know."""
    return _MODE_FROM_PROTO.get(value)


def modality_to_proto(modality: str) -> common_pb2.Modality:
    """MODALITY_UNSPECIFIED for a name that is not a modality (callers check names first)."""
    return _MODALITY_TO_PROTO.get(modality, common_pb2.MODALITY_UNSPECIFIED)


def modality_from_proto(value: int) -> Modality | None:
    return _MODALITY_FROM_PROTO.get(value)


def item_status_to_proto(status: ItemStatus) -> indexing_pb2.ItemStatus:
    return _STATUS_TO_PROTO[status]


def item_status_from_proto(value: int) -> ItemStatus | None:
    return _STATUS_FROM_PROTO.get(value)


# --- scalars ---------------------------------------------------------------------------------


def timestamp_to_proto(value: datetime | float | None) -> timestamp_pb2.Timestamp | None:
    """A datetime (naive means UTC) or seconds since the epoch; None stays unset."""
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    if isinstance(value, datetime):
        ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    else:
        ts.FromNanoseconds(int(float(value) * 1e9))
    return ts


def timestamp_from_proto(message: Any, field: str = "created_at") -> datetime | None:
    """The datetime (UTC) in ``message.<field>``, or None when the field is unset."""
    if not message.HasField(field):
        return None
    ts: timestamp_pb2.Timestamp = getattr(message, field)
    value: datetime = ts.ToDatetime(tzinfo=timezone.utc)
    return value


def json_safe(value: Any) -> Any:
    """``value`` with what JSON cannot hold made JSON: non-finite floats become None, tuples
    lists, keys strings, other objects their ``str``. For stored data on its way out, which must
    never fail to encode; what a caller sends is checked strictly by metadata_to_struct."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def metadata_to_struct(metadata: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    """A JSON object as a Struct; None stays None. TypeError for a non-mapping, ValueError for
    a value JSON cannot hold: the SDK reports both as its InvalidArgument."""
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping, not {type(metadata).__name__}")
    struct = struct_pb2.Struct()
    try:
        struct.update(metadata)
        metadata_from_struct(struct)  # what the server reads back: refused here, not there
    except (ValueError, TypeError) as e:
        raise ValueError(f"metadata must be a JSON object: {e}") from e
    return struct


def _restore_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _restore_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_ints(v) for v in value]
    return value


def metadata_from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a JSON object. ValueError for a number JSON cannot hold (a Struct can carry
    Infinity and NaN; JSON, and so stored metadata and filters, cannot)."""
    try:
        result: dict[str, Any] = _restore_ints(json_format.MessageToDict(struct))
    except ValueError as e:  # protobuf's message names the value: "Fail to serialize Infinity"
        raise ValueError(f"{e}; JSON metadata holds only finite numbers") from e
    return result


# --- search ----------------------------------------------------------------------------------


def fusion_to_proto(fusion: Fusion) -> common_pb2.Fusion:
    return common_pb2.Fusion(
        weights={str(k): float(v) for k, v in fusion.weights.items()},
        route_by_modality=fusion.route_by_modality,
    )


def fusion_from_proto(message: common_pb2.Fusion) -> Fusion:
    return Fusion(dict(message.weights), message.route_by_modality)


def span_to_proto(span: Span) -> common_pb2.Span:
    if span.has_time:
        return common_pb2.Span(
            text=span.text,
            start_seconds=span.start_seconds or 0.0,
            end_seconds=span.end_seconds or 0.0,
            has_time=True,
        )
    return common_pb2.Span(text=span.text)


def span_from_proto(message: common_pb2.Span) -> Span:
    if message.has_time:
        return Span(message.text, message.start_seconds, message.end_seconds)
    return Span(message.text)


def hit_to_proto(hit: Hit) -> search_pb2.Hit:
    return search_pb2.Hit(
        id=hit.id,
        modality=modality_to_proto(hit.modality),
        source_uri=hit.source_uri,
        metadata=metadata_to_struct(json_safe(hit.metadata)),
        span=span_to_proto(hit.span) if hit.span is not None else None,
        space=hit.space,
        score=hit.score,
        fused_score=hit.fused_score,
        rank=hit.rank,
        chunk=hit.chunk,
        matches=[search_pb2.Match(ranking=m.ranking, rank=m.rank, score=m.score) for m in hit.matches],
    )


def hit_from_proto(message: search_pb2.Hit) -> Hit:
    modality = modality_from_proto(message.modality)
    if modality is None:
        raise OmnivecClientError(f"server sent an unknown modality ({message.modality})")
    return Hit(
        id=message.id,
        modality=modality,
        source_uri=message.source_uri,
        metadata=metadata_from_struct(message.metadata),
        span=span_from_proto(message.span) if message.HasField("span") else None,
        space=message.space,
        score=message.score,
        fused_score=message.fused_score,
        rank=message.rank,
        chunk=message.chunk,
        matches=tuple(Match(m.ranking, m.rank, m.score) for m in message.matches),
    )


def search_result_to_proto(result: SearchResult) -> search_pb2.SearchResponse:
    return search_pb2.SearchResponse(
        hits=[hit_to_proto(h) for h in result.hits],
        timings=[
            search_pb2.SpaceTiming(space=t.space, embed_ms=t.embed_ms, search_ms=t.search_ms)
            for t in result.timings
        ],
        query_transcript=result.query_transcript or "",
    )


def search_result_from_proto(message: search_pb2.SearchResponse) -> SearchResult:
    return SearchResult(
        hits=tuple(hit_from_proto(h) for h in message.hits),
        timings=tuple(SpaceTiming(t.space, t.embed_ms, t.search_ms) for t in message.timings),
        query_transcript=message.query_transcript or None,
    )


# --- verify reports ------------------------------------------------------------------------------


def verify_report_to_proto(report: VerifyReport) -> collections_pb2.VerifyCollectionResponse:
    return collections_pb2.VerifyCollectionResponse(
        collection=report.collection,
        lance_version=report.lance_version,
        rows_read=report.rows_read,
        data_files_checked=report.data_files_checked,
        data_files_unrecorded=report.data_files_unrecorded,
        probes_checked=report.probes_checked,
        problems=[
            collections_pb2.VerifyProblem(
                kind=p.kind, message=p.message, fragment=p.fragment,
                damages_current=p.damages_current,
            )
            for p in report.problems
        ],
        recovery=report.recovery,
        ok=report.ok,
    )


def verify_report_from_proto(message: collections_pb2.VerifyCollectionResponse) -> VerifyReport:
    return VerifyReport(
        collection=message.collection,
        lance_version=int(message.lance_version),
        rows_read=int(message.rows_read),
        data_files_checked=int(message.data_files_checked),
        data_files_unrecorded=int(message.data_files_unrecorded),
        probes_checked=int(message.probes_checked),
        problems=tuple(
            VerifyProblem(p.kind, p.message, p.fragment, p.damages_current)
            for p in message.problems
        ),
        recovery=message.recovery,
    )


# --- evaluation ------------------------------------------------------------------------------


def eval_progress_to_proto(progress: EvalProgress) -> search_pb2.EvaluateProgress:
    return search_pb2.EvaluateProgress(stage=progress.stage, done=progress.done, total=progress.total)


def eval_progress_from_proto(message: search_pb2.EvaluateProgress) -> EvalProgress:
    return EvalProgress(message.stage, message.done, message.total)


def _estimate_to_proto(value: Estimate) -> search_pb2.Estimate:
    return search_pb2.Estimate(value=value.value, low=value.low, high=value.high)


def _estimate_from_proto(message: search_pb2.Estimate) -> Estimate:
    return Estimate(message.value, message.low, message.high)


def eval_report_to_proto(report: EvalReport) -> search_pb2.EvaluateReport:
    message = search_pb2.EvaluateReport(
        collection=report.collection,
        queries=report.queries,
        configurations=[
            search_pb2.ConfigurationResult(
                name=c.name, description=c.description, queries=c.queries,
                metrics={k: _estimate_to_proto(v) for k, v in c.metrics.items()},
            )
            for c in report.configurations
        ],
        baseline=report.baseline,
        differences=[
            search_pb2.PairedDifference(
                configuration=d.configuration, baseline=d.baseline, metric=d.metric,
                difference=_estimate_to_proto(d.difference), better=d.better, worse=d.worse,
            )
            for d in report.differences
        ],
        fusion=fusion_to_proto(report.fusion),
        bootstrap_samples=report.bootstrap_samples,
        seed=report.seed,
        seconds=report.seconds,
        notes=list(report.notes),
    )
    if report.tuning is not None:
        t = report.tuning
        message.tuning.CopyFrom(search_pb2.TuningResult(
            fusion=fusion_to_proto(t.fusion), objective=t.objective, folds=t.folds,
            candidates=t.candidates, stored=t.stored, reason=t.reason,
        ))
    return message


def eval_report_from_proto(message: search_pb2.EvaluateReport) -> EvalReport:
    tuning = None
    if message.HasField("tuning"):
        t = message.tuning
        tuning = TuningResult(
            fusion_from_proto(t.fusion), t.objective, t.folds, t.candidates, t.stored, t.reason
        )
    return EvalReport(
        collection=message.collection,
        queries=message.queries,
        configurations=tuple(
            ConfigurationResult(
                c.name, c.description,
                # The proto map has no order: the figures come back in the SDK's order.
                {k: _estimate_from_proto(c.metrics[k]) for k in _metric_order(c.metrics)},
                c.queries,
            )
            for c in message.configurations
        ),
        baseline=message.baseline,
        differences=tuple(
            PairedDifference(
                d.configuration, d.baseline, d.metric, _estimate_from_proto(d.difference),
                d.better, d.worse,
            )
            for d in message.differences
        ),
        tuning=tuning,
        fusion=fusion_from_proto(message.fusion),
        bootstrap_samples=message.bootstrap_samples,
        seed=message.seed,
        seconds=message.seconds,
        notes=tuple(message.notes),
    )


def _metric_order(metrics: Mapping[str, Any]) -> list[str]:
    known = [m for m in METRICS if m in metrics]
    return known + sorted(k for k in metrics if k not in METRICS)
