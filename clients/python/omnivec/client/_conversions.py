"""The SDK's side of the wire: its requests encoded, the server's answers decoded.

Every function here runs in production: encoders of what the client sends (media, upsert items,
labelled examples) and decoders of what the server answers (collections, upsert results,
progress, transcripts, probe reports, ...). What the server also encodes, or also decodes,
lives in the public :mod:`omnivec.client.wire` instead, so each message has one definition.
Conventions are wire's: an empty proto string for an optional value becomes None; an unset
`optional` field becomes None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf import struct_pb2

from omnivec.client import wire
from omnivec.client.errors import InvalidArgument, OmnivecClientError
from omnivec.client.types import (
    Classification,
    ClassifyCollectionProgress,
    ClassMetrics,
    Collection,
    Comparison,
    CScore,
    EncoderConfig,
    EvalEvent,
    FloatMatrix,
    IndexFailure,
    IndexProgress,
    Interval,
    ItemRef,
    ItemStatus,
    LabelledExample,
    LabelScore,
    LabelSuggestion,
    LabelSuggestions,
    Media,
    MediaOrItem,
    Modality,
    ProbeInfo,
    ProbeReport,
    Snapshot,
    SpaceInfo,
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

# --- enums (the server sent a value this SDK does not know: its error, not the caller's) ------


def modality_from_proto(value: int) -> Modality:
    modality = wire.modality_from_proto(value)
    if modality is None:
        raise OmnivecClientError(f"server sent an unknown modality ({value})")
    return modality


def item_status_from_proto(value: int) -> ItemStatus:
    status = wire.item_status_from_proto(value)
    if status is None:
        raise OmnivecClientError(f"server sent an unknown item status ({value})")
    return status


# --- scalars ---------------------------------------------------------------------------------


def _optional_str(value: str) -> str | None:
    return value or None


def metadata_to_struct(metadata: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    """wire's encoder, with a value JSON cannot hold reported as the caller's InvalidArgument."""
    try:
        return wire.metadata_to_struct(metadata)
    except ValueError as e:
        raise InvalidArgument(str(e)) from e


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


def item_or_media_to_proto(value: MediaOrItem) -> common_pb2.ItemOrMedia:
    if isinstance(value, ItemRef):
        return common_pb2.ItemOrMedia(item_id=value.item_id)
    if isinstance(value, Media):
        return common_pb2.ItemOrMedia(media=media_to_proto(value))
    raise TypeError(
        f"expected Media or ItemRef, not {type(value).__name__}; "
        "wrap text as Media(text=...) and stored items as ItemRef('id')"
    )


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


def encoder_from_proto(message: common_pb2.EncoderConfig) -> EncoderConfig:
    return EncoderConfig(
        name=message.name,
        model=message.model,
        pretrained=message.pretrained,
        dim=message.dim,
        normalized=message.normalized,
        config_hash=message.config_hash,
    )


def space_info_from_proto(message: collections_pb2.SpaceInfo) -> SpaceInfo:
    return SpaceInfo(
        space=message.space,
        encoder=encoder_from_proto(message.encoder),
        index_kind=message.index_kind,
        vector_count=message.vector_count,
        index_lance_version=message.index_lance_version,
    )


def snapshot_from_proto(message: collections_pb2.Snapshot) -> Snapshot:
    return Snapshot(
        collection=message.collection,
        tag=message.tag,
        lance_version=message.lance_version,
        created_at=wire.timestamp_from_proto(message),
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
        created_at=wire.timestamp_from_proto(message),
        snapshots=tuple(snapshot_from_proto(s) for s in message.snapshots),
        fusion=wire.fusion_from_proto(message.fusion) if message.HasField("fusion") else None,
    )


# --- indexing --------------------------------------------------------------------------------


def upsert_item_to_proto(item: UpsertItem) -> indexing_pb2.UpsertItem:
    return indexing_pb2.UpsertItem(
        id=item.id or "",
        media=media_to_proto(item.media),
        metadata=metadata_to_struct(item.metadata),
        source_uri=item.source_uri or "",
        store_media=item.store_media,
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


def upsert_result_from_proto(message: indexing_pb2.UpsertResult) -> UpsertResult:
    return UpsertResult(
        sequence=message.sequence,
        id=message.id,
        status=item_status_from_proto(message.status),
        error=_optional_str(message.error),
        chunk_count=message.chunk_count,
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


# --- embed -----------------------------------------------------------------------------------


def transcript_from_proto(message: embed_pb2.TranscribeResponse) -> Transcript:
    return Transcript(
        text=message.text,
        segments=tuple(wire.span_from_proto(s) for s in message.segments),
        language=message.language,
        duration_seconds=message.duration_seconds,
    )


# --- classification and probes ---------------------------------------------------------------


def label_score_from_proto(message: common_pb2.LabelScore) -> LabelScore:
    return LabelScore(message.label, message.probability)


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


def _optional_double(message: Any, field: str) -> float | None:
    """An `optional double` as None when unset; NaN too (servers before the field was optional
    sent NaN for "no estimate")."""
    if not message.HasField(field):
        return None
    value = float(getattr(message, field))
    return None if math.isnan(value) else value


def _interval_from_proto(message: Any) -> Interval:
    return Interval(message.low, message.high, message.level, message.method)


def probe_report_from_proto(message: probes_pb2.ProbeReport) -> ProbeReport:
    held = _optional_double(message, "heldout_accuracy")
    cv = _optional_double(message, "cv_accuracy")
    loo = _optional_double(message, "loo_accuracy")
    if held is not None and message.estimate_method in ("cross-validation", "leave-one-out"):
        # Servers before cv_/loo_accuracy sent out-of-fold estimates as heldout_accuracy.
        cv, loo = (held, loo) if message.estimate_method == "cross-validation" else (cv, held)
        held = None
    return ProbeReport(
        collection=message.collection,
        name=message.name,
        version=message.version,
        space=message.space,
        classes=tuple(message.classes),
        regularization_c=message.regularization_c,
        cv_method=message.cv_method,
        cv_folds=message.cv_folds,
        heldout_accuracy=held,
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
        created_at=wire.timestamp_from_proto(message),
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
        cv_accuracy=cv,
        loo_accuracy=loo,
        accuracy_interval=(
            _interval_from_proto(message.accuracy_interval)
            if message.HasField("accuracy_interval")
            else None
        ),
        comparisons=tuple(
            Comparison(
                baseline=c.baseline,
                probe_accuracy=c.probe_accuracy,
                baseline_accuracy=c.baseline_accuracy,
                difference=c.difference,
                interval=_interval_from_proto(c.interval),
                rows=c.rows,
                verdict=c.verdict,
            )
            for c in message.comparisons
        ),
        c_rule=message.c_rule,
        unlabeled_available=message.unlabeled_available,
        unlabeled_rows=message.unlabeled_rows,
        unlabeled_used=message.unlabeled_used,
        prompt_templates=tuple(message.prompt_templates),
        prompt_set=message.prompt_set,
        # Servers before log_loss sent it as heldout_log_loss whatever the estimate.
        log_loss=_optional_double(message, "log_loss")
        if message.HasField("log_loss")
        else _optional_double(message, "heldout_log_loss"),
    )


def probe_info_from_proto(message: probes_pb2.ProbeInfo) -> ProbeInfo:
    return ProbeInfo(
        name=message.name,
        version=message.version,
        space=message.space,
        classes=tuple(message.classes),
        heldout_accuracy=_optional_double(message, "heldout_accuracy"),
        created_at=wire.timestamp_from_proto(message),
        is_latest=message.is_latest,
        # Servers before ProbeInfo.accuracy sent only heldout_accuracy.
        accuracy=_optional_double(message, "accuracy")
        if message.HasField("accuracy")
        else _optional_double(message, "heldout_accuracy"),
        estimate_method=message.estimate_method,
    )


def label_suggestions_from_proto(message: probes_pb2.SuggestLabelsResponse) -> LabelSuggestions:
    return LabelSuggestions(
        suggestions=tuple(
            LabelSuggestion(
                rank=s.rank,
                item_id=s.item_id,
                modality=s.modality,
                source_uri=s.source_uri,
                text=s.text,
                predicted=s.predicted,
                probability=s.probability,
                margin=s.margin,
                score=s.score,
            )
            for s in message.suggestions
        ),
        version=message.version,
        unlabeled_items=message.unlabeled_items,
        strategy=message.strategy,
    )


def train_event_from_proto(message: probes_pb2.TrainProbeEvent) -> TrainEvent:
    kind = message.WhichOneof("event")
    if kind == "report":
        return probe_report_from_proto(message.report)
    if kind == "progress":
        p = message.progress
        return TrainProgress(p.stage, p.done, p.total)
    raise OmnivecClientError("server sent an empty TrainProbeEvent")


def eval_event_from_proto(message: search_pb2.EvaluateEvent) -> EvalEvent:
    kind = message.WhichOneof("event")
    if kind == "report":
        return wire.eval_report_from_proto(message.report)
    if kind == "progress":
        return wire.eval_progress_from_proto(message.progress)
    raise OmnivecClientError("server sent an empty EvaluateEvent")


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
