"""The one place that converts between protobuf messages and the client's dataclasses.

Every type converts both ways (``x_to_proto`` / ``x_from_proto``) so that round trips are
testable. Conventions: an empty proto string for an optional value becomes None; an unset
`optional` field or Timestamp becomes None (and None leaves it unset); a Span without time has
None start/end; Struct numbers are doubles on the wire, so integral numbers come back as int
(JSON cannot tell 1 from 1.0 either).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from omnivec.client.errors import InvalidArgument, OmnivecClientError
from omnivec.client.types import (
    Classification,
    ClassifyCollectionProgress,
    ClassMetrics,
    Collection,
    CScore,
    EncoderConfig,
    FloatMatrix,
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
)
from omnivec.v1 import (
    collections_pb2,
    common_pb2,
    embed_pb2,
    indexing_pb2,
    probes_pb2,
    search_pb2,
)

# --- enums -----------------------------------------------------------------------------------

_MODALITY_TO_PROTO: dict[Modality, common_pb2.Modality] = {
    "image": common_pb2.MODALITY_IMAGE,
    "text": common_pb2.MODALITY_TEXT,
    "audio": common_pb2.MODALITY_AUDIO,
}
_MODALITY_FROM_PROTO: dict[common_pb2.Modality, Modality] = {
    v: k for k, v in _MODALITY_TO_PROTO.items()
}

_STATUS_TO_PROTO: dict[ItemStatus, indexing_pb2.ItemStatus] = {
    "ok": indexing_pb2.ITEM_STATUS_OK,
    "unchanged": indexing_pb2.ITEM_STATUS_UNCHANGED,
    "failed": indexing_pb2.ITEM_STATUS_FAILED,
}
_STATUS_FROM_PROTO: dict[indexing_pb2.ItemStatus, ItemStatus] = {
    v: k for k, v in _STATUS_TO_PROTO.items()
}


def modality_to_proto(modality: Modality) -> common_pb2.Modality:
    try:
        return _MODALITY_TO_PROTO[modality]
    except KeyError:
        raise InvalidArgument(
            f"unknown modality {modality!r}; expected one of {sorted(_MODALITY_TO_PROTO)}"
        ) from None


def modality_from_proto(value: common_pb2.Modality) -> Modality:
    try:
        return _MODALITY_FROM_PROTO[value]
    except KeyError:
        raise OmnivecClientError(f"server sent an unknown modality ({value})") from None


def item_status_to_proto(status: ItemStatus) -> indexing_pb2.ItemStatus:
    return _STATUS_TO_PROTO[status]


def item_status_from_proto(value: indexing_pb2.ItemStatus) -> ItemStatus:
    try:
        return _STATUS_FROM_PROTO[value]
    except KeyError:
        raise OmnivecClientError(f"server sent an unknown item status ({value})") from None


# --- scalars ---------------------------------------------------------------------------------


def _optional_str(value: str) -> str | None:
    return value or None


def timestamp_to_proto(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    return ts


def timestamp_from_proto(message: Any, field: str = "created_at") -> datetime | None:
    """The datetime (UTC) in ``message.<field>``, or None when the field is unset."""
    if not message.HasField(field):
        return None
    ts: timestamp_pb2.Timestamp = getattr(message, field)
    value: datetime = ts.ToDatetime(tzinfo=timezone.utc)
    return value


def _restore_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _restore_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_ints(v) for v in value]
    return value


def metadata_to_struct(metadata: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    if metadata is None:
        return None
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping, not {type(metadata).__name__}")
    struct = struct_pb2.Struct()
    try:
        struct.update(metadata)
    except (ValueError, TypeError) as e:
        raise InvalidArgument(f"metadata must be a JSON object: {e}") from e
    return struct


def metadata_from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    result: dict[str, Any] = _restore_ints(json_format.MessageToDict(struct))
    return result


# --- media -----------------------------------------------------------------------------------


def media_to_proto(media: Media) -> common_pb2.Media:
    message = common_pb2.Media(filename=media.filename or "")
    if media.text is not None:
        message.text = media.text
    elif media.image is not None:
        message.image = media.image
    elif media.audio is not None:
        message.audio = media.audio
    return message


def media_from_proto(message: common_pb2.Media) -> Media:
    kind = message.WhichOneof("content")
    filename = _optional_str(message.filename)
    if kind == "text":
        return Media(text=message.text, filename=filename)
    if kind == "image":
        return Media(image=message.image, filename=filename)
    if kind == "audio":
        return Media(audio=message.audio, filename=filename)
    raise InvalidArgument("Media has no content")


def item_or_media_to_proto(value: MediaOrItem) -> common_pb2.ItemOrMedia:
    if isinstance(value, ItemRef):
        return common_pb2.ItemOrMedia(item_id=value.item_id)
    if isinstance(value, Media):
        return common_pb2.ItemOrMedia(media=media_to_proto(value))
    raise TypeError(
        f"expected Media or ItemRef, not {type(value).__name__}; "
        "wrap text as Media(text=...) and stored items as ItemRef('id')"
    )


def item_or_media_from_proto(message: common_pb2.ItemOrMedia) -> MediaOrItem:
    kind = message.WhichOneof("source")
    if kind == "item_id":
        return ItemRef(message.item_id)
    if kind == "media":
        return media_from_proto(message.media)
    raise InvalidArgument("ItemOrMedia has neither item_id nor media")


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


def vectors_to_proto(vectors: FloatMatrix) -> list[common_pb2.Vector]:
    return [common_pb2.Vector(values=row.tolist()) for row in np.asarray(vectors, np.float32)]


def vectors_from_proto(messages: Sequence[common_pb2.Vector], dim: int) -> FloatMatrix:
    """Stacks vectors into an (n, dim) float32 array; (0, dim) when there are none."""
    matrix = np.zeros((len(messages), dim), dtype=np.float32)
    for i, vector in enumerate(messages):
        if len(vector.values) != dim:
            raise OmnivecClientError(
                f"server sent a vector of dimension {len(vector.values)}, expected {dim}"
            )
        matrix[i] = vector.values
    return matrix


# --- collections -----------------------------------------------------------------------------


def encoder_to_proto(encoder: EncoderConfig) -> common_pb2.EncoderConfig:
    return common_pb2.EncoderConfig(
        name=encoder.name,
        model=encoder.model,
        pretrained=encoder.pretrained,
        dim=encoder.dim,
        normalized=encoder.normalized,
        config_hash=encoder.config_hash,
    )


def encoder_from_proto(message: common_pb2.EncoderConfig) -> EncoderConfig:
    return EncoderConfig(
        name=message.name,
        model=message.model,
        pretrained=message.pretrained,
        dim=message.dim,
        normalized=message.normalized,
        config_hash=message.config_hash,
    )


def space_info_to_proto(space: SpaceInfo) -> collections_pb2.SpaceInfo:
    return collections_pb2.SpaceInfo(
        space=space.space,
        encoder=encoder_to_proto(space.encoder),
        index_kind=space.index_kind,
        vector_count=space.vector_count,
        index_lance_version=space.index_lance_version,
    )


def space_info_from_proto(message: collections_pb2.SpaceInfo) -> SpaceInfo:
    return SpaceInfo(
        space=message.space,
        encoder=encoder_from_proto(message.encoder),
        index_kind=message.index_kind,
        vector_count=message.vector_count,
        index_lance_version=message.index_lance_version,
    )


def snapshot_to_proto(snapshot: Snapshot) -> collections_pb2.Snapshot:
    return collections_pb2.Snapshot(
        collection=snapshot.collection,
        tag=snapshot.tag,
        lance_version=snapshot.lance_version,
        created_at=timestamp_to_proto(snapshot.created_at),
    )


def snapshot_from_proto(message: collections_pb2.Snapshot) -> Snapshot:
    return Snapshot(
        collection=message.collection,
        tag=message.tag,
        lance_version=message.lance_version,
        created_at=timestamp_from_proto(message),
    )


def collection_to_proto(collection: Collection) -> collections_pb2.Collection:
    return collections_pb2.Collection(
        name=collection.name,
        spaces=[space_info_to_proto(s) for s in collection.spaces],
        item_count=collection.item_count,
        row_count=collection.row_count,
        modality_counts=[
            collections_pb2.ModalityCount(modality=modality_to_proto(m), item_count=n)
            for m, n in collection.modality_counts.items()
        ],
        size_bytes=collection.size_bytes,
        lance_version=collection.lance_version,
        created_at=timestamp_to_proto(collection.created_at),
        snapshots=[snapshot_to_proto(s) for s in collection.snapshots],
    )


def collection_from_proto(message: collections_pb2.Collection) -> Collection:
    return Collection(
        name=message.name,
        spaces=tuple(space_info_from_proto(s) for s in message.spaces),
        item_count=message.item_count,
        row_count=message.row_count,
        modality_counts={
            modality_from_proto(c.modality): c.item_count for c in message.modality_counts
        },
        size_bytes=message.size_bytes,
        lance_version=message.lance_version,
        created_at=timestamp_from_proto(message),
        snapshots=tuple(snapshot_from_proto(s) for s in message.snapshots),
    )


# --- indexing --------------------------------------------------------------------------------


def upsert_item_to_proto(item: UpsertItem) -> indexing_pb2.UpsertItem:
    return indexing_pb2.UpsertItem(
        id=item.id or "",
        media=media_to_proto(item.media),
        metadata=metadata_to_struct(item.metadata),
        source_uri=item.source_uri or "",
    )


def upsert_item_from_proto(message: indexing_pb2.UpsertItem) -> UpsertItem:
    return UpsertItem(
        media=media_from_proto(message.media),
        id=_optional_str(message.id),
        metadata=metadata_from_struct(message.metadata) if message.HasField("metadata") else None,
        source_uri=_optional_str(message.source_uri),
    )


def upsert_request(collection: str, sequence: int, item: UpsertItem) -> indexing_pb2.UpsertRequest:
    """One message of an upsert stream; `sequence` is the item's position in the caller's items."""
    if not isinstance(item, UpsertItem):
        raise TypeError(
            f"upsert items must be UpsertItem, got {type(item).__name__} at position "
            f"{sequence}; e.g. UpsertItem(Media(text='...'))"
        )
    return indexing_pb2.UpsertRequest(
        collection=collection, sequence=sequence, item=upsert_item_to_proto(item)
    )


def upsert_requests(
    collection: str, items: Iterable[UpsertItem]
) -> Iterable[indexing_pb2.UpsertRequest]:
    """The request stream of an upsert: one message per item, numbered from 0."""
    for sequence, item in enumerate(items):
        yield upsert_request(collection, sequence, item)


def upsert_result_to_proto(result: UpsertResult) -> indexing_pb2.UpsertResult:
    return indexing_pb2.UpsertResult(
        sequence=result.sequence,
        id=result.id,
        status=item_status_to_proto(result.status),
        error=result.error or "",
        chunk_count=result.chunk_count,
    )


def upsert_result_from_proto(message: indexing_pb2.UpsertResult) -> UpsertResult:
    return UpsertResult(
        sequence=message.sequence,
        id=message.id,
        status=item_status_from_proto(message.status),
        error=_optional_str(message.error),
        chunk_count=message.chunk_count,
    )


def index_progress_to_proto(progress: IndexProgress) -> indexing_pb2.IndexProgress:
    return indexing_pb2.IndexProgress(
        done=progress.done,
        total=progress.total,
        indexed=progress.indexed,
        unchanged=progress.unchanged,
        failed=progress.failed,
        current_path=progress.current_path,
        failures=[
            indexing_pb2.IndexFailure(path=f.path, reason=f.reason) for f in progress.failures
        ],
        is_final=progress.is_final,
    )


def index_progress_from_proto(message: indexing_pb2.IndexProgress) -> IndexProgress:
    return IndexProgress(
        done=message.done,
        total=message.total,
        indexed=message.indexed,
        unchanged=message.unchanged,
        failed=message.failed,
        current_path=message.current_path,
        failures=tuple(IndexFailure(f.path, f.reason) for f in message.failures),
        is_final=message.is_final,
    )


# --- search ----------------------------------------------------------------------------------


def hit_to_proto(hit: Hit) -> search_pb2.Hit:
    return search_pb2.Hit(
        id=hit.id,
        modality=modality_to_proto(hit.modality),
        source_uri=hit.source_uri,
        metadata=metadata_to_struct(hit.metadata),
        span=span_to_proto(hit.span) if hit.span is not None else None,
        space=hit.space,
        score=hit.score,
        fused_score=hit.fused_score,
        rank=hit.rank,
    )


def hit_from_proto(message: search_pb2.Hit) -> Hit:
    return Hit(
        id=message.id,
        modality=modality_from_proto(message.modality),
        source_uri=message.source_uri,
        metadata=metadata_from_struct(message.metadata),
        span=span_from_proto(message.span) if message.HasField("span") else None,
        space=message.space,
        score=message.score,
        fused_score=message.fused_score,
        rank=message.rank,
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
        query_transcript=_optional_str(message.query_transcript),
    )


# --- embed -----------------------------------------------------------------------------------


def transcript_to_proto(transcript: Transcript) -> embed_pb2.TranscribeResponse:
    return embed_pb2.TranscribeResponse(
        text=transcript.text,
        segments=[span_to_proto(s) for s in transcript.segments],
        language=transcript.language,
        duration_seconds=transcript.duration_seconds,
    )


def transcript_from_proto(message: embed_pb2.TranscribeResponse) -> Transcript:
    return Transcript(
        text=message.text,
        segments=tuple(span_from_proto(s) for s in message.segments),
        language=message.language,
        duration_seconds=message.duration_seconds,
    )


# --- classification and probes ---------------------------------------------------------------


def label_score_to_proto(score: LabelScore) -> common_pb2.LabelScore:
    return common_pb2.LabelScore(label=score.label, probability=score.probability)


def label_score_from_proto(message: common_pb2.LabelScore) -> LabelScore:
    return LabelScore(message.label, message.probability)


def classification_to_proto(result: Classification) -> probes_pb2.Classification:
    return probes_pb2.Classification(
        labels=[label_score_to_proto(s) for s in result.labels],
        abstained=result.abstained,
        error=result.error or "",
    )


def classification_from_proto(message: probes_pb2.Classification) -> Classification:
    return Classification(
        labels=tuple(label_score_from_proto(s) for s in message.labels),
        abstained=message.abstained,
        error=_optional_str(message.error),
    )


def labelled_example_to_proto(example: LabelledExample) -> probes_pb2.LabelledExample:
    if not isinstance(example, LabelledExample):
        raise TypeError(
            f"examples must be LabelledExample, not {type(example).__name__}; "
            "e.g. LabelledExample(ItemRef('id'), 'cat')"
        )
    return probes_pb2.LabelledExample(
        input=item_or_media_to_proto(example.input), label=example.label
    )


def labelled_example_from_proto(message: probes_pb2.LabelledExample) -> LabelledExample:
    return LabelledExample(item_or_media_from_proto(message.input), message.label)


def _optional_double(message: Any, field: str) -> float | None:
    """An `optional double` as None when unset; NaN too (servers before the field was optional
    sent NaN for "no estimate")."""
    if not message.HasField(field):
        return None
    value = float(getattr(message, field))
    return None if math.isnan(value) else value


def probe_report_to_proto(report: ProbeReport) -> probes_pb2.ProbeReport:
    return probes_pb2.ProbeReport(
        collection=report.collection,
        name=report.name,
        version=report.version,
        space=report.space,
        classes=list(report.classes),
        regularization_c=report.regularization_c,
        cv_method=report.cv_method,
        cv_folds=report.cv_folds,
        heldout_accuracy=report.heldout_accuracy,
        zero_shot_accuracy=report.zero_shot_accuracy,
        plain_probe_accuracy=report.plain_probe_accuracy,
        class_metrics=[
            probes_pb2.ClassMetrics(
                label=m.label, precision=m.precision, recall=m.recall, f1=m.f1, support=m.support
            )
            for m in report.class_metrics
        ],
        confusion_matrix=[  # empty when nothing could be estimated, else one row per class
            probes_pb2.ConfusionRow(label=label, counts=list(row))
            for label, row in zip(
                report.classes, report.confusion_matrix, strict=bool(report.confusion_matrix)
            )
        ],
        temperature=report.temperature,
        train_seconds=report.train_seconds,
        n_examples=report.n_examples,
        encoder_config_hash=report.encoder_config_hash,
        created_at=timestamp_to_proto(report.created_at),
        abstain_threshold=report.abstain_threshold,
        prompt_template=report.prompt_template,
        class_names=dict(report.class_names),
        seed=report.seed,
        selection_method=report.selection_method,
        estimate_method=report.estimate_method,
        cv_repetitions=report.cv_repetitions,
        cv_scores=[
            probes_pb2.CScore(c=s.c, accuracy=s.accuracy, log_loss=s.log_loss)
            for s in report.cv_scores
        ],
        plain_probe_c=report.plain_probe_c,
        heldout_log_loss=report.heldout_log_loss,
        zero_shot_prior_used=report.zero_shot_prior_used,
        prior_scale=report.prior_scale,
        n_train=report.n_train,
        n_heldout=report.n_heldout,
        notes=list(report.notes),
    )


def probe_report_from_proto(message: probes_pb2.ProbeReport) -> ProbeReport:
    return ProbeReport(
        collection=message.collection,
        name=message.name,
        version=message.version,
        space=message.space,
        classes=tuple(message.classes),
        regularization_c=message.regularization_c,
        cv_method=message.cv_method,
        cv_folds=message.cv_folds,
        heldout_accuracy=_optional_double(message, "heldout_accuracy"),
        zero_shot_accuracy=_optional_double(message, "zero_shot_accuracy"),
        plain_probe_accuracy=_optional_double(message, "plain_probe_accuracy"),
        class_metrics=tuple(
            ClassMetrics(m.label, m.precision, m.recall, m.f1, m.support)
            for m in message.class_metrics
        ),
        confusion_matrix=tuple(tuple(row.counts) for row in message.confusion_matrix),
        temperature=message.temperature,
        train_seconds=message.train_seconds,
        n_examples=message.n_examples,
        encoder_config_hash=message.encoder_config_hash,
        created_at=timestamp_from_proto(message),
        abstain_threshold=message.abstain_threshold,
        prompt_template=(
            message.prompt_template if message.HasField("prompt_template") else None
        ),
        class_names=dict(message.class_names),
        seed=message.seed,
        selection_method=message.selection_method,
        estimate_method=message.estimate_method,
        cv_repetitions=message.cv_repetitions,
        cv_scores=tuple(CScore(s.c, s.accuracy, s.log_loss) for s in message.cv_scores),
        plain_probe_c=_optional_double(message, "plain_probe_c"),
        heldout_log_loss=_optional_double(message, "heldout_log_loss"),
        zero_shot_prior_used=message.zero_shot_prior_used,
        prior_scale=_optional_double(message, "prior_scale"),
        n_train=message.n_train,
        n_heldout=message.n_heldout,
        notes=tuple(message.notes),
    )


def probe_info_to_proto(info: ProbeInfo) -> probes_pb2.ProbeInfo:
    return probes_pb2.ProbeInfo(
        name=info.name,
        version=info.version,
        space=info.space,
        classes=list(info.classes),
        heldout_accuracy=info.heldout_accuracy,
        created_at=timestamp_to_proto(info.created_at),
        is_latest=info.is_latest,
    )


def probe_info_from_proto(message: probes_pb2.ProbeInfo) -> ProbeInfo:
    return ProbeInfo(
        name=message.name,
        version=message.version,
        space=message.space,
        classes=tuple(message.classes),
        heldout_accuracy=_optional_double(message, "heldout_accuracy"),
        created_at=timestamp_from_proto(message),
        is_latest=message.is_latest,
    )


def train_event_to_proto(event: TrainEvent) -> probes_pb2.TrainProbeEvent:
    if isinstance(event, ProbeReport):
        return probes_pb2.TrainProbeEvent(report=probe_report_to_proto(event))
    return probes_pb2.TrainProbeEvent(
        progress=probes_pb2.TrainProgress(stage=event.stage, done=event.done, total=event.total)
    )


def train_event_from_proto(message: probes_pb2.TrainProbeEvent) -> TrainEvent:
    kind = message.WhichOneof("event")
    if kind == "report":
        return probe_report_from_proto(message.report)
    if kind == "progress":
        p = message.progress
        return TrainProgress(p.stage, p.done, p.total)
    raise OmnivecClientError("server sent an empty TrainProbeEvent")


def classify_collection_progress_to_proto(
    progress: ClassifyCollectionProgress,
) -> probes_pb2.ClassifyCollectionProgress:
    return probes_pb2.ClassifyCollectionProgress(
        done=progress.done,
        total=progress.total,
        abstained=progress.abstained,
        column=progress.column,
        version=progress.version,
        is_final=progress.is_final,
    )


def classify_collection_progress_from_proto(
    message: probes_pb2.ClassifyCollectionProgress,
) -> ClassifyCollectionProgress:
    return ClassifyCollectionProgress(
        done=message.done,
        total=message.total,
        abstained=message.abstained,
        column=message.column,
        version=message.version,
        is_final=message.is_final,
    )
