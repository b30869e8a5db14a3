"""The one module that translates between protobuf messages and engine types.

Servicers call these and nothing else touches ``_pb2`` fields. Request messages are checked for
what the proto promises (exactly one oneof member, known enum values) and turned into engine
arguments; engine results become response messages. Business rules stay in the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from omnivec.client import wire
from omnivec.client.types import EvalOptions, EvalQuery, ItemStatus, SearchQuery
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.encoders.speech import Transcript
from omnivec.indexer.errors import InvalidInputError, MediaError
from omnivec.indexer.ingest import IngestItem
from omnivec.indexer.media import MediaKind
from omnivec.indexer.store import CollectionInfo, SnapshotInfo
from omnivec.server.limits import MAX_UPLOAD_TEXT_BYTES, check_query_text, text_size
from omnivec.v1 import (
    collections_pb2,
    common_pb2,
    embed_pb2,
    indexing_pb2,
    search_pb2,
)

__all__ = [
    "DEFAULT_K",
    "collection_to_proto",
    "encoder_to_proto",
    "eval_options_from_proto",
    "eval_queries_from_proto",
    "index_progress",
    "label_scores_to_proto",
    "media_kind",
    "search_query_from_proto",
    "snapshot_to_proto",
    "transcript_to_proto",
    "upsert_item_from_proto",
    "upsert_result",
    "vectors_to_proto",
]

DEFAULT_K = 10

# The engine's words for an item's fate -> the SDK's (the wire enum is named after the latter).
_ITEM_STATUS: dict[str, ItemStatus] = {"indexed": "ok", "unchanged": "unchanged", "failed": "failed"}


def _modality_from_proto(value: int, where: str) -> str:
    modality = wire.modality_from_proto(value)
    if modality is None:
        raise InvalidInputError(
            f"{where} holds an unset or unknown modality ({value}); use MODALITY_IMAGE, "
            "MODALITY_TEXT or MODALITY_AUDIO"
        )
    return modality


# --- media ------------------------------------------------------------------------------------


def media_kind(media: common_pb2.Media, where: str) -> str:
    """"text", "image" or "audio"; INVALID_ARGUMENT for an empty Media."""
    kind = media.WhichOneof("content")
    if kind is None:
        raise InvalidInputError(f"{where} has no content; set exactly one of text, image, audio")
    if kind == "text":
        check_query_text(media.text, where)
    return str(kind)


def media_label(media: common_pb2.Media, fallback: str) -> str:
    return media.filename or fallback


# --- collections ------------------------------------------------------------------------------


def encoder_to_proto(spec: EncoderSpec) -> common_pb2.EncoderConfig:
    return common_pb2.EncoderConfig(
        name=spec.encoder,
        model=spec.model,
        pretrained=spec.weights,
        dim=spec.dim,
        normalized=spec.normalized,
        config_hash=spec.fingerprint,
    )


def snapshot_to_proto(collection: str, snapshot: SnapshotInfo) -> collections_pb2.Snapshot:
    return collections_pb2.Snapshot(
        collection=collection,
        tag=snapshot.tag,
        lance_version=snapshot.version,
        created_at=wire.timestamp_to_proto(snapshot.created_at),
    )


def collection_to_proto(info: CollectionInfo) -> collections_pb2.Collection:
    message = collections_pb2.Collection(
        name=info.name,
        spaces=[
            collections_pb2.SpaceInfo(
                space=status.space,
                encoder=encoder_to_proto(status.spec),
                index_kind=status.index_kind,
                vector_count=status.vectors,
                index_lance_version=status.index_version or 0,
            )
            for _, status in sorted(info.spaces.items())
        ],
        item_count=info.item_count,
        row_count=info.row_count,
        modality_counts=[
            collections_pb2.ModalityCount(modality=wire.modality_to_proto(m), item_count=n)
            for m, n in sorted(info.modality_counts.items())
            if n
        ],
        size_bytes=info.size_bytes,
        lance_version=info.lance_version,
        snapshots=[snapshot_to_proto(info.name, s) for s in info.snapshots],
    )
    if info.fusion is not None:
        message.fusion.CopyFrom(wire.fusion_to_proto(info.fusion))
    created = wire.timestamp_to_proto(info.created_at)
    if created is not None:
        message.created_at.CopyFrom(created)
    return message


# --- indexing ---------------------------------------------------------------------------------


def upsert_item_from_proto(request: indexing_pb2.UpsertRequest) -> IngestItem:
    """An UpsertRequest as the engine's IngestItem; ``key`` carries the sequence number.
    InvalidInputError for an item without content (the servicer reports it as that item's
    FAILED result, so one bad message never ends the stream)."""
    item = request.item
    media = item.media
    kind = media.WhichOneof("content")
    label = media.filename or f"item #{request.sequence}"
    try:
        metadata = wire.metadata_from_struct(item.metadata) if item.HasField("metadata") else {}
    except ValueError as exc:  # this item fails alone, with the reason
        raise MediaError(label, f"metadata is not a JSON object: {exc}") from exc
    common: dict[str, Any] = {
        "label": label,
        "item_id": item.id or None,
        "source_uri": item.source_uri,
        "metadata": metadata,
        "key": request.sequence,
        "store_media": item.store_media,
    }
    if kind == "text":
        size = text_size(media.text, MAX_UPLOAD_TEXT_BYTES)
        if size is not None:
            raise InvalidInputError(
                f"text is {size} bytes, over the server's limit of {MAX_UPLOAD_TEXT_BYTES} bytes "
                "for one uploaded item; split it into several items"
            )
        return IngestItem(modality=MediaKind.TEXT, text=media.text, **common)
    if kind == "image":
        return IngestItem(modality=MediaKind.IMAGE, data=bytes(media.image), **common)
    if kind == "audio":
        return IngestItem(modality=MediaKind.AUDIO, data=bytes(media.audio), **common)
    raise InvalidInputError("has no content; set item.media.text, .image or .audio")


def upsert_result(
    sequence: int, status: str, item_id: str | None, chunks: int = 0, error: str = ""
) -> indexing_pb2.UpsertResult:
    return indexing_pb2.UpsertResult(
        sequence=sequence,
        id=item_id or "",
        status=wire.item_status_to_proto(_ITEM_STATUS[status]),
        error=error if status == "failed" else "",
        chunk_count=chunks if status == "indexed" else 0,
    )


def index_progress(
    *,
    done: int,
    total: int,
    indexed: int,
    unchanged: int,
    failed: int,
    current_path: str = "",
    failures: Iterable[tuple[str, str]] = (),
    is_final: bool = False,
) -> indexing_pb2.IndexProgress:
    return indexing_pb2.IndexProgress(
        done=done, total=total, indexed=indexed, unchanged=unchanged, failed=failed,
        current_path=current_path,
        failures=[indexing_pb2.IndexFailure(path=p, reason=r) for p, r in failures],
        is_final=is_final,
    )


# --- search -----------------------------------------------------------------------------------


def search_query_from_proto(request: search_pb2.SearchRequest) -> SearchQuery:
    """The request as the SearchQuery the engine runs; the oneof and the modalities are checked
    here (what the proto promises), everything else by the engine."""
    kind = request.WhichOneof("query")
    if kind is None:
        raise InvalidInputError("the search has no query; set text, image, audio or item_id")
    if kind == "text":
        check_query_text(request.text, "the search query")
    modalities = [_modality_from_proto(m, "modalities") for m in request.modalities]
    mode = wire.search_mode_from_proto(request.mode)
    if mode is None and request.mode != search_pb2.SEARCH_MODE_UNSPECIFIED:
        raise InvalidInputError(f"mode: unknown search mode {request.mode}")
    return SearchQuery(
        text=request.text if kind == "text" else None,
        image=bytes(request.image) if kind == "image" else None,
        audio=bytes(request.audio) if kind == "audio" else None,
        item_id=request.item_id if kind == "item_id" else None,
        k=request.k or DEFAULT_K,
        where=request.filter or None,
        modalities=tuple(dict.fromkeys(modalities)),  # type: ignore[arg-type]
        spaces=tuple(dict.fromkeys(request.spaces)),
        mode=mode,
        fusion=wire.fusion_from_proto(request.fusion) if request.HasField("fusion") else None,
    )


def eval_queries_from_proto(request: search_pb2.EvaluateRequest) -> list[EvalQuery]:
    """The request's labelled queries; each one's input is checked here (the oneof), the rest
    by the engine."""
    out: list[EvalQuery] = []
    for i, query in enumerate(request.queries):
        kind = query.WhichOneof("query")
        if kind is None:
            raise InvalidInputError(f"queries[{i}] has no query; set text, image or audio")
        if kind == "text":
            check_query_text(query.text, f"queries[{i}]")
        out.append(EvalQuery(
            text=query.text if kind == "text" else None,
            image=bytes(query.image) if kind == "image" else None,
            audio=bytes(query.audio) if kind == "audio" else None,
            relevant=dict(query.relevant),
            id=query.id or f"queries[{i}]",
        ))
    return out


def eval_options_from_proto(request: search_pb2.EvaluateRequest) -> EvalOptions:
    defaults = EvalOptions()
    return EvalOptions(
        tune=request.tune,
        folds=request.folds or defaults.folds,
        objective=request.objective or defaults.objective,
        bootstrap_samples=(
            request.bootstrap_samples if request.HasField("bootstrap_samples")
            else defaults.bootstrap_samples
        ),
        seed=request.seed if request.HasField("seed") else defaults.seed,
        baseline=request.baseline or defaults.baseline,
        fusion=wire.fusion_from_proto(request.fusion) if request.HasField("fusion") else None,
        dry_run=request.dry_run,
    )


# --- embed and classify -----------------------------------------------------------------------


def vectors_to_proto(vectors: Any) -> list[common_pb2.Vector]:
    return [common_pb2.Vector(values=row.tolist()) for row in vectors]


def transcript_to_proto(transcript: Transcript) -> embed_pb2.TranscribeResponse:
    return embed_pb2.TranscribeResponse(
        text=transcript.text,
        segments=[
            common_pb2.Span(text=s.text, start_seconds=s.start, end_seconds=s.end, has_time=True)
            for s in transcript.segments
        ],
        language=transcript.language or "",
        duration_seconds=transcript.duration,
    )


def label_scores_to_proto(scores: Sequence[tuple[str, float]]) -> list[common_pb2.LabelScore]:
    return [common_pb2.LabelScore(label=label, probability=float(p)) for label, p in scores]


# --- probes -----------------------------------------------------------------------------------
# Probe types are imported lazily: the probe engine is optional for the rest of the server.


def probe_input_from_proto(message: common_pb2.ItemOrMedia, where: str) -> Any:
    """An ItemOrMedia as the probe engine's ProbeInput."""
    from omnivec.indexer.classify import MediaInput
    from omnivec.indexer.probes.examples import ProbeInput

    source = message.WhichOneof("source")
    if source == "item_id":
        return ProbeInput.item(message.item_id)
    if source != "media":
        raise InvalidInputError(f"{where} is empty; set item_id or media")
    kind = media_kind(message.media, f"{where}.media")
    name = message.media.filename or None
    if kind == "text":
        return ProbeInput(media=MediaInput(text=message.media.text, name=name))
    data = bytes(getattr(message.media, kind))
    return ProbeInput(media=MediaInput(data=data, modality=kind, name=name))


def probe_report_to_proto(record: Any) -> Any:
    """A stored probe version (ProbeRecord with its training report) as a ProbeReport.

    The report's fields and the record's carry the proto's names and are copied as they are. Left
    out: the record's examples and the report's evaluated rows and predictions (which index those
    examples), the encoder spec beyond its hash, the pooling and the weights' digest.
    """
    from omnivec.indexer.probes.report import ProbeReport
    from omnivec.v1 import probes_pb2

    report: ProbeReport = record.report
    message = probes_pb2.ProbeReport(
        collection=record.collection,
        name=record.name,
        version=record.version,
        space=record.space,
        prompt_template=record.prompt_template,
        class_names=dict(record.class_names),
        seed=record.seed,
        prompt_templates=list(record.prompt_templates),
        prompt_set=record.prompt_set or "",
        abstain_threshold=record.abstain_threshold or 0.0,  # the wire's 0 never abstains
        # Wire-only: how many examples, and the encoder's hash (the engine's fingerprint).
        n_examples=len(record.examples),
        encoder_config_hash=record.encoder_fingerprint,
        classes=list(report.classes),
        regularization_c=report.regularization_c,
        # cv_method is the wire's older name of selection_method.
        cv_method=report.selection_method or report.estimate_method,
        selection_method=report.selection_method,
        cv_scores=[
            probes_pb2.CScore(c=s.c, accuracy=s.accuracy, log_loss=s.log_loss)
            for s in report.cv_scores
        ],
        cv_folds=report.cv_folds,
        cv_repetitions=report.cv_repetitions,
        estimate_method=report.estimate_method,
        heldout_accuracy=report.heldout_accuracy,
        cv_accuracy=report.cv_accuracy,
        loo_accuracy=report.loo_accuracy,
        accuracy_interval=_interval_to_proto(report.accuracy_interval),
        comparisons=[
            probes_pb2.Comparison(
                baseline=c.baseline, probe_accuracy=c.probe_accuracy,
                baseline_accuracy=c.baseline_accuracy, difference=c.difference,
                interval=_interval_to_proto(c.interval), rows=c.rows, verdict=c.verdict,
            )
            for c in report.comparisons
        ],
        c_rule=report.c_rule,
        unlabeled_available=report.unlabeled_available,
        unlabeled_rows=report.unlabeled_rows,
        unlabeled_used=report.unlabeled_used,
        zero_shot_accuracy=report.zero_shot_accuracy,
        plain_probe_accuracy=report.plain_probe_accuracy,
        plain_probe_c=report.plain_probe_c,
        class_metrics=[
            probes_pb2.ClassMetrics(
                label=m.label, precision=m.precision, recall=m.recall, f1=m.f1, support=m.support
            )
            for m in report.class_metrics
        ],
        # The wire names each row's true class.
        confusion_matrix=[
            probes_pb2.ConfusionRow(label=label, counts=row)
            for label, row in zip(report.classes, report.confusion_matrix)
        ],
        log_loss=report.log_loss,
        # The older field keeps its meaning: the log loss of a held-out split only.
        heldout_log_loss=report.log_loss if report.estimate_method == "held-out split" else None,
        temperature=report.temperature,
        zero_shot_prior_used=report.zero_shot_prior_used,
        prior_scale=report.prior_scale,
        train_seconds=report.train_seconds,
        n_train=report.n_train,
        n_heldout=report.n_heldout,
        notes=report.notes,
    )
    created = wire.timestamp_to_proto(record.created_at)
    if created is not None:
        message.created_at.CopyFrom(created)
    return message


def _interval_to_proto(interval: Any) -> Any:
    from omnivec.v1 import probes_pb2

    if interval is None:
        return None
    return probes_pb2.Interval(
        low=interval.low, high=interval.high, level=interval.level, method=interval.method
    )


def probe_info_to_proto(info: Any) -> Any:
    from omnivec.indexer.probes.results import ProbeInfo
    from omnivec.v1 import probes_pb2

    probe: ProbeInfo = info
    held_out = probe.estimate_method == "held-out split"
    message = probes_pb2.ProbeInfo(
        name=probe.name, version=probe.version, space=probe.space, classes=list(probe.classes),
        heldout_accuracy=probe.accuracy if held_out else None, accuracy=probe.accuracy,
        estimate_method=probe.estimate_method, is_latest=probe.is_latest,
    )
    created = wire.timestamp_to_proto(probe.created_at)
    if created is not None:
        message.created_at.CopyFrom(created)
    return message


def classification_to_proto(result: Any) -> Any:
    from omnivec.v1 import probes_pb2

    return probes_pb2.Classification(
        labels=label_scores_to_proto(result.labels),
        abstained=result.abstained,
        error=result.error or "",
    )


def suggestions_to_proto(result: Any) -> Any:
    """The engine's Suggestions as a SuggestLabelsResponse."""
    from omnivec.indexer.probes.results import Suggestions
    from omnivec.v1 import probes_pb2

    answer: Suggestions = result
    return probes_pb2.SuggestLabelsResponse(
        suggestions=[
            probes_pb2.Suggestion(
                rank=s.rank, item_id=s.item_id, modality=s.modality, source_uri=s.source_uri,
                text=s.text, predicted=s.predicted, probability=s.probability, margin=s.margin,
                score=s.score,
            )
            for s in answer.suggestions
        ],
        version=answer.version,
        unlabeled_items=answer.unlabeled_items,
        strategy=answer.strategy,
    )
