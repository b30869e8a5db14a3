"""Engine results as the HTTP API's JSON shapes (:mod:`omnivec.server.http.schemas`).

The gRPC twin of this module is :mod:`omnivec.server.conversions`; both read the same engine
types, so the two edges answer with the same values.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from omnivec.client.types import (
    ClassMetrics,
    EncoderConfig,
    Hit,
    LabelScore,
    LabelSuggestion,
    LabelSuggestions,
    SearchResult,
)
from omnivec.indexer.encoders.base import EncoderSpec
from omnivec.indexer.item_media import ItemView
from omnivec.indexer.probes.results import (
    Classification,
    ClassifyCollectionResult,
    ProbeInfo,
    Suggestions,
)
from omnivec.indexer.probes.service import label_column_for
from omnivec.indexer.probes.storage import ProbeRecord
from omnivec.indexer.store import CollectionInfo, SnapshotInfo
from omnivec.server.http import schemas as s

__all__ = [
    "apply_result", "audio_url", "classification", "collection", "encoder", "hit", "item",
    "probe_info", "probe_report", "search_result", "snapshot", "suggestions", "thumbnail_url",
]


def thumbnail_url(collection: str, item_id: str) -> str:
    return f"/api/collections/{quote(collection, safe='')}/thumbnail?id={quote(item_id, safe='')}"


def audio_url(collection: str, item_id: str) -> str:
    return f"/api/collections/{quote(collection, safe='')}/audio?id={quote(item_id, safe='')}"


def _media_urls(collection: str, item_id: str, modality: str) -> dict[str, str | None]:
    return {
        "thumbnail_url": thumbnail_url(collection, item_id) if modality == "image" else None,
        "audio_url": audio_url(collection, item_id) if modality == "audio" else None,
    }


def encoder(spec: EncoderSpec) -> EncoderConfig:
    return EncoderConfig(
        name=spec.encoder, model=spec.model, pretrained=spec.weights, dim=spec.dim,
        normalized=spec.normalized, config_hash=spec.fingerprint,
    )


def snapshot(info: SnapshotInfo) -> s.SnapshotOut:
    return s.SnapshotOut(tag=info.tag, lance_version=info.version, created_at=info.created_at)


def collection(info: CollectionInfo) -> s.CollectionOut:
    return s.CollectionOut(
        name=info.name,
        spaces=[
            s.SpaceOut(space=st.space, encoder=encoder(st.spec), index_kind=st.index_kind,
                       vector_count=st.vectors)
            for _, st in sorted(info.spaces.items())
        ],
        item_count=info.item_count,
        row_count=info.row_count,
        modality_counts={m: n for m, n in sorted(info.modality_counts.items()) if n},
        size_bytes=info.size_bytes,
        lance_version=info.lance_version,
        created_at=info.created_at,
        snapshots=[snapshot(x) for x in info.snapshots],
    )


def hit(collection_name: str, value: Hit) -> s.HitOut:
    span = None
    if value.span is not None:
        span = s.SpanOut(
            text=value.span.text, start_s=value.span.start_seconds, end_s=value.span.end_seconds
        )
    return s.HitOut(
        rank=value.rank, id=value.id, modality=value.modality, source_uri=value.source_uri,
        metadata=dict(value.metadata), span=span, space=value.space, score=value.score,
        fused_score=value.fused_score, chunk=value.chunk, matches=list(value.matches),
        **_media_urls(collection_name, value.id, value.modality),
    )


def search_result(collection_name: str, result: SearchResult) -> s.SearchOut:
    return s.SearchOut(
        hits=[hit(collection_name, h) for h in result.hits],
        timings=[s.TimingOut(space=t.space, embed_ms=t.embed_ms, search_ms=t.search_ms)
                 for t in result.timings],
        query_transcript=result.query_transcript,
    )


def item(collection_name: str, view: ItemView) -> s.ItemOut:
    return s.ItemOut(
        id=view.id, modality=view.modality, source_uri=view.source_uri, metadata=view.metadata,
        chunks=[s.ItemChunkOut(chunk=c.chunk, text=c.text, start_s=c.start_s, end_s=c.end_s)
                for c in view.chunks],
        labels=dict(view.labels),
        **_media_urls(collection_name, view.id, view.modality),
    )


def probe_report(record: ProbeRecord) -> s.ProbeReportOut:
    report = record.report
    evaluated = len(report.evaluated_rows) or report.n_heldout
    interval = report.accuracy_interval  # the engine's, so every edge shows the same numbers
    return s.ProbeReportOut(
        collection=record.collection, name=record.name, version=record.version,
        space=record.space, created_at=record.created_at, classes=list(report.classes),
        n_examples=len(record.examples), prompt_template=record.prompt_template,
        class_names=dict(record.class_names), abstain_threshold=record.abstain_threshold,
        regularization_c=_finite(report.regularization_c),
        selection_method=report.selection_method, estimate_method=report.estimate_method,
        accuracy=report.accuracy, accuracy_title=report.accuracy_title, accuracy_interval=interval,
        heldout_accuracy=report.heldout_accuracy,
        heldout_accuracy_interval=(
            [interval.low, interval.high]
            if interval is not None and report.heldout_accuracy is not None else None
        ),
        cv_accuracy=report.cv_accuracy, loo_accuracy=report.loo_accuracy,
        comparisons=list(report.comparisons),
        n_evaluated=evaluated, zero_shot_accuracy=report.zero_shot_accuracy,
        plain_probe_accuracy=report.plain_probe_accuracy, plain_probe_c=report.plain_probe_c,
        class_metrics=[
            ClassMetrics(label=m.label, precision=m.precision, recall=m.recall, f1=m.f1,
                         support=m.support)
            for m in report.class_metrics
        ],
        confusion_matrix=[list(row) for row in report.confusion_matrix],
        temperature=report.temperature, zero_shot_prior_used=report.zero_shot_prior_used,
        train_seconds=report.train_seconds, n_train=report.n_train, n_heldout=report.n_heldout,
        notes=list(report.notes), label_column=label_column_for(record.name),
        prompt_templates=list(record.prompt_templates), prompt_set=record.prompt_set,
        unlabeled_available=report.unlabeled_available, unlabeled_rows=report.unlabeled_rows,
        unlabeled_used=report.unlabeled_used,
    )


def _finite(value: float) -> float:
    return 0.0 if math.isnan(value) else value  # JSON has no NaN (format-1 probes lack C)


def probe_info(info: ProbeInfo) -> s.ProbeInfoOut:
    return s.ProbeInfoOut(
        name=info.name, version=info.version, space=info.space, classes=list(info.classes),
        # Only a held-out estimate is called held out (ProbeInfo.accuracy may be out-of-fold).
        heldout_accuracy=info.accuracy if info.estimate_method == "held-out split" else None,
        created_at=info.created_at,
        is_latest=info.is_latest,
    )


def classification(result: Classification) -> s.ClassificationOut:
    return s.ClassificationOut(
        input=result.input, label=result.label,
        labels=[LabelScore(label=label, probability=p) for label, p in result.labels],
        abstained=result.abstained, error=result.error,
    )


def apply_result(result: ClassifyCollectionResult) -> s.ApplyProbeOut:
    return s.ApplyProbeOut(
        column=result.column, confidence_column=result.confidence_column,
        version=result.version, items=result.items, rows=result.rows,
        abstained=result.abstained, skipped=result.skipped, counts=dict(result.counts),
    )


def suggestions(result: Suggestions) -> LabelSuggestions:
    """The engine's suggestions as the SDK's type (the gRPC answer converts to the same)."""
    return LabelSuggestions(
        suggestions=tuple(
            LabelSuggestion(
                rank=x.rank, item_id=x.item_id, modality=x.modality, source_uri=x.source_uri,
                text=x.text, predicted=x.predicted, probability=x.probability, margin=x.margin,
                score=x.score,
            )
            for x in result.suggestions
        ),
        version=result.version, unlabeled_items=result.unlabeled_items, strategy=result.strategy,
    )


def label_scores(scores: Any) -> list[LabelScore]:
    return [LabelScore(label=label, probability=float(p)) for label, p in scores]
