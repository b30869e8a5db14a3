"""The JSON shapes of the HTTP API (they make the OpenAPI document at ``/openapi.json``).

Field names follow the proto's (and the SDK's dataclasses, used as they are where the shapes
agree: ``EncoderConfig``, ``ClassMetrics``, ``LabelScore``) where a message has one (``fused_score``, ``regularization_c``,
``class_metrics``...), with two deliberate differences for JSON clients: modalities and item
statuses are plain words (``"image"``, ``"ok"``) rather than enum names, and times are seconds.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The SDK's own dataclasses where the JSON shape is exactly theirs (pydantic reads dataclasses).
from omnivec.client.types import (
    ClassMetrics,
    Comparison,
    EncoderConfig,
    Interval,
    LabelScore,
    Match,
    SearchMode,
    VerifyProblem,
)

__all__ = [
    "ApplyProbeIn", "ApplyProbeOut", "ClassificationOut", "ClassifyIn", "ClassifyOut",
    "CollectionIn", "CollectionOut", "DeleteItemsIn", "DeleteItemsOut", "DeleteOut",
    "DeleteProbeOut", "EmbedIn", "EmbedOut", "ExampleIn", "FusionIn", "HitOut", "ItemChunkOut",
    "ItemOut", "Modality", "ProbeClassifyIn", "ProbeClassifyOut", "ProbeInfoOut",
    "ProbeReportOut", "RestoreIn", "SearchIn", "SearchOut", "SnapshotIn", "SnapshotOut",
    "SpaceOut", "SpanOut", "TimingOut", "TrainProbeIn", "TranscriptOut", "UpsertItemIn",
    "UpsertJsonIn", "UpsertOut", "UpsertResultOut", "VerifyOut",
]

Modality = Literal["image", "text", "audio"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored


# -- collections -------------------------------------------------------------------------------


class SpaceOut(BaseModel):
    space: str
    encoder: EncoderConfig
    index_kind: str
    vector_count: int


class SnapshotOut(BaseModel):
    tag: str
    lance_version: int
    created_at: float = Field(description="seconds since the epoch when that version was written")


class CollectionOut(BaseModel):
    name: str
    spaces: list[SpaceOut]
    item_count: int
    row_count: int
    modality_counts: dict[str, int]
    size_bytes: int
    lance_version: int
    created_at: float
    snapshots: list[SnapshotOut]


class CollectionIn(_In):
    name: str
    spaces: list[str] = Field(default_factory=list, description="empty: every available space")
    if_not_exists: bool = False


class DeleteOut(BaseModel):
    deleted: bool


class SnapshotIn(_In):
    tag: str


class RestoreIn(_In):
    tag: str | None = None
    version: int | None = None


# -- search --------------------------------------------------------------------------------------


class FusionIn(_In):
    """Weighted reciprocal rank fusion: a ranking (``clip``, ``text``, ``keyword``) not named
    weighs 1, weight 0 leaves it out."""

    weights: dict[str, float] = Field(default_factory=dict)
    route_by_modality: bool = Field(
        False, description="rank images by clip only, texts and transcripts by text and keyword"
    )


class SearchIn(_In):
    """Exactly one of ``text`` or ``item_id`` (images and audio: POST .../search/media)."""

    text: str | None = None
    item_id: str | None = None
    k: int = Field(10, ge=1, le=1000)
    where: str | None = Field(None, description="filter, e.g. \"priority = 'high'\"")
    modalities: list[Modality] = Field(default_factory=list)
    spaces: list[str] = Field(default_factory=list)
    mode: SearchMode | None = Field(
        None, description="vector, keyword or hybrid (the default); keyword needs a text query"
    )
    fusion: FusionIn | None = Field(
        None, description="this query's fusion weights; empty means the collection's stored ones "
        "(set by `omnivec eval --tune`), else equal weights",
    )


class SpanOut(BaseModel):
    text: str
    start_s: float | None = None
    end_s: float | None = None


class HitOut(BaseModel):
    rank: int
    id: str
    modality: str
    source_uri: str
    metadata: dict[str, Any]
    span: SpanOut | None
    space: str = Field(description="the ranking that weighs most in fused_score")
    score: float = Field(description="raw score in that ranking: cosine, or BM25 for keyword")
    fused_score: float
    chunk: int
    matches: list[Match] = Field(
        default_factory=list, description="every ranking that found the item"
    )
    thumbnail_url: str | None = Field(None, description="images: GET it for a small preview")
    audio_url: str | None = Field(None, description="audio: GET it to play (range requests work)")


class TimingOut(BaseModel):
    space: str
    embed_ms: float
    search_ms: float


class SearchOut(BaseModel):
    hits: list[HitOut]
    timings: list[TimingOut]
    query_transcript: str | None = None


# -- items ---------------------------------------------------------------------------------------


class UpsertItemIn(_In):
    text: str | None = None
    data_base64: str | None = Field(None, description="image or audio bytes, base64")
    filename: str | None = None
    id: str | None = None
    source_uri: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    store_media: bool = Field(False, description="keep the bytes so the server can play them back")


class UpsertJsonIn(_In):
    items: list[UpsertItemIn]


class UpsertResultOut(BaseModel):
    index: int = Field(description="position of the item in the request")
    id: str
    status: Literal["ok", "unchanged", "failed"]
    error: str | None = None
    chunk_count: int = 0


class UpsertOut(BaseModel):
    results: list[UpsertResultOut]
    indexed: int
    unchanged: int
    failed: int


class DeleteItemsIn(_In):
    ids: list[str] = Field(default_factory=list)
    source_uris: list[str] = Field(default_factory=list)


class DeleteItemsOut(BaseModel):
    deleted: int


class ItemChunkOut(BaseModel):
    chunk: int
    text: str | None
    start_s: float | None
    end_s: float | None


class ItemOut(BaseModel):
    id: str
    modality: str
    source_uri: str
    metadata: dict[str, Any]
    chunks: list[ItemChunkOut]
    labels: dict[str, Any] = Field(description="label_* columns written by applied probes")
    thumbnail_url: str | None = None
    audio_url: str | None = None


# -- embed and zero-shot classify ------------------------------------------------------------------


class EmbedIn(_In):
    texts: list[str]
    space: str = "text"


class EmbedOut(BaseModel):
    vectors: list[list[float]]
    dim: int
    encoder: EncoderConfig


class TranscriptOut(BaseModel):
    text: str
    segments: list[SpanOut]
    language: str | None
    duration_s: float


class ClassifyIn(_In):
    """Zero-shot: exactly one of ``text`` or ``item_id`` (with ``collection``)."""

    labels: list[str]
    text: str | None = None
    item_id: str | None = None
    collection: str | None = None
    prompt_template: str = "{}"
    space: str = "clip"
    top_k: int = Field(0, ge=0)


class ClassifyOut(BaseModel):
    labels: list[LabelScore]
    space: str


# -- probes --------------------------------------------------------------------------------------


class ExampleIn(_In):
    """A stored item (``item_id``) or a text, with its label."""

    item_id: str | None = None
    text: str | None = None
    label: str


class TrainProbeIn(_In):
    examples: list[ExampleIn]
    space: str | None = None
    prompt_template: str | None = Field(None, description="e.g. 'a photo of a {}': enables the zero-shot prior")
    prompt_templates: list[str] = Field(
        default_factory=list,
        description="more prompts after prompt_template: a prompt ensemble (mean per class)",
    )
    prompt_set: str | None = Field(
        None, description='a built-in template set added to the ensemble: "image" or "text"'
    )
    class_names: dict[str, str] = Field(default_factory=dict)
    abstain_threshold: float | None = Field(None, gt=0, lt=1)
    seed: int = 0
    use_unlabeled: bool = Field(
        True, description="learn from the collection's unlabelled items too (kept only when "
        "cross-validation on the same folds says it helps; the report's unlabeled_* say so)",
    )


class ProbeReportOut(BaseModel):
    collection: str
    name: str
    version: int
    space: str
    created_at: float
    classes: list[str]
    n_examples: int
    prompt_template: str | None
    prompt_templates: list[str] = Field(default_factory=list, description="every prompt used")
    prompt_set: str | None = None
    class_names: dict[str, str]
    abstain_threshold: float | None
    regularization_c: float
    selection_method: str
    estimate_method: str = Field(description="how the accuracies were estimated")
    accuracy: float | None = Field(
        None, description="the probe's accuracy, whichever estimate_method gave it: held out, "
        "cross-validated or leave-one-out (None: too few examples to estimate it)",
    )
    accuracy_title: str = Field("", description='"held-out accuracy", "cross-validated accuracy", ...')
    accuracy_interval: Interval | None = Field(
        None, description="the interval of accuracy over n_evaluated rows (its level and method inside)"
    )
    heldout_accuracy: float | None
    heldout_accuracy_interval: list[float] | None = Field(
        None, description="[low, high] of accuracy_interval when the estimate is a held-out split"
    )
    cv_accuracy: float | None = None
    loo_accuracy: float | None = None
    comparisons: list[Comparison] = Field(
        default_factory=list,
        description="the probe against each baseline on the same rows: difference, interval, verdict",
    )
    n_evaluated: int
    zero_shot_accuracy: float | None
    plain_probe_accuracy: float | None
    plain_probe_c: float | None
    class_metrics: list[ClassMetrics]
    confusion_matrix: list[list[int]] = Field(
        description="rows: true class, columns: predicted class, both in the order of classes"
    )
    temperature: float
    zero_shot_prior_used: bool
    train_seconds: float
    n_train: int
    n_heldout: int
    notes: list[str]
    label_column: str = Field(description="the column `apply` writes, usable in `where`")
    unlabeled_available: int = Field(0, description="unlabelled items of the space it could read")
    unlabeled_rows: int = Field(0, description="how many of them it read")
    unlabeled_used: bool = Field(
        False, description="it kept what they taught (it won on the same cross-validation folds)"
    )


class ProbeInfoOut(BaseModel):
    name: str
    version: int
    space: str
    classes: list[str]
    heldout_accuracy: float | None
    created_at: float
    is_latest: bool


class DeleteProbeOut(BaseModel):
    deleted_versions: int


class ProbeClassifyIn(_In):
    item_ids: list[str] = Field(default_factory=list)
    texts: list[str] = Field(default_factory=list)
    version: int = Field(0, ge=0, description="0: the latest")
    top_k: int = Field(0, ge=0)


class ClassificationOut(BaseModel):
    input: str
    label: str | None
    labels: list[LabelScore]
    abstained: bool
    error: str | None = None


class ProbeClassifyOut(BaseModel):
    results: list[ClassificationOut]
    version: int


class SuggestIn(_In):
    n: int = Field(20, description="how many items to suggest (1-1000)")
    version: int = Field(0, ge=0, description="0: the latest")
    strategy: str = Field("margin", description="margin, entropy or random")


class ApplyProbeIn(_In):
    version: int = Field(0, ge=0, description="0: the latest")
    column: str | None = None


class ApplyProbeOut(BaseModel):
    column: str
    confidence_column: str
    version: int
    items: int
    rows: int
    abstained: int
    skipped: int
    counts: dict[str, int]


# -- verify --------------------------------------------------------------------------------------


class VerifyOut(BaseModel):
    collection: str
    lance_version: int
    rows_read: int
    data_files_checked: int
    data_files_unrecorded: int = Field(description="files with no recorded checksum: read only")
    probes_checked: int
    problems: list[VerifyProblem]
    recovery: str = Field(description="the command that recovers the damage; empty when none")
    ok: bool = Field(description="the current version is intact")
