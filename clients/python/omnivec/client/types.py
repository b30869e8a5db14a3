"""Plain, immutable values the client takes and returns; never raw protobuf messages.

Modalities, statuses and spaces are plain strings (``"image"``, ``"ok"``, ``"clip"``) so that they
print, compare and serialise without an import. Vectors are numpy float32 arrays.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import numpy.typing as npt

from omnivec.client.errors import InvalidArgument

Modality = Literal["image", "text", "audio"]
ItemStatus = Literal["ok", "unchanged", "failed"]
HealthStatus = Literal["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"]
PathLike = Union[str, "os.PathLike[str]"]
FloatMatrix = npt.NDArray[np.float32]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac"})
TEXT_SUFFIXES = frozenset({".txt", ".md", ".text"})


def modality_of_path(path: PathLike) -> Modality:
    """The modality a file's extension implies; InvalidArgument for an unknown extension."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in TEXT_SUFFIXES:
        return "text"
    raise InvalidArgument(
        f"cannot tell the modality of {os.fspath(path)!r} from its extension; "
        "pass modality='image' | 'text' | 'audio'"
    )


@dataclass(frozen=True)
class Media:
    """One piece of content sent inline: exactly one of text, image bytes or audio bytes."""

    text: str | None = None
    image: bytes | None = field(default=None, repr=False)
    audio: bytes | None = field(default=None, repr=False)
    filename: str | None = None
    """Original file name, a decoding hint for the server."""

    def __post_init__(self) -> None:
        given = [name for name in ("text", "image", "audio") if getattr(self, name) is not None]
        if len(given) != 1:
            raise InvalidArgument(
                f"Media needs exactly one of text, image, audio; got {given or 'none'}"
            )
        if self.text is not None and not isinstance(self.text, str):
            raise TypeError(f"Media.text must be str, not {type(self.text).__name__}")
        for name in ("image", "audio"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bytes):
                raise TypeError(
                    f"Media.{name} must be the file's bytes, not {type(value).__name__}; "
                    "use Media.from_path(path) to read a file"
                )

    @property
    def modality(self) -> Modality:
        if self.text is not None:
            return "text"
        return "image" if self.image is not None else "audio"

    @classmethod
    def from_path(cls, path: PathLike, modality: Modality | None = None) -> Media:
        """Reads a file; the modality comes from the extension unless given."""
        kind = modality or modality_of_path(path)
        p = Path(path)
        if kind == "text":
            return cls(text=p.read_text(encoding="utf-8"), filename=p.name)
        if kind == "image":
            return cls(image=p.read_bytes(), filename=p.name)
        return cls(audio=p.read_bytes(), filename=p.name)


@dataclass(frozen=True)
class ItemRef:
    """An item already stored in a collection, by id."""

    item_id: str


MediaOrItem = Media | ItemRef


@dataclass(frozen=True)
class UpsertItem:
    """An item to write. Without an id the server uses the content hash."""

    media: Media
    id: str | None = None
    metadata: Mapping[str, Any] | None = None
    source_uri: str | None = None
    store_media: bool = False
    """Keep the image or audio bytes on the server, which can then serve them back."""

    def __post_init__(self) -> None:
        if not isinstance(self.media, Media):
            raise TypeError(
                f"UpsertItem.media must be a Media, not {type(self.media).__name__}; "
                "e.g. UpsertItem(Media(text='...'))"
            )

    @classmethod
    def from_path(
        cls,
        path: PathLike,
        *,
        id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        modality: Modality | None = None,
    ) -> UpsertItem:
        """Reads a file into an item whose source URI is the path."""
        return cls(Media.from_path(path, modality), id, metadata, os.fspath(path))


@dataclass(frozen=True)
class UpsertResult:
    sequence: int
    """Position of the item in the iterable given to upsert (0-based)."""
    id: str
    status: ItemStatus
    error: str | None
    chunk_count: int

    @property
    def ok(self) -> bool:
        """True when the item is stored (written now or already present)."""
        return self.status != "failed"


@dataclass(frozen=True)
class EncoderConfig:
    name: str
    model: str
    pretrained: str
    dim: int
    normalized: bool
    config_hash: str


@dataclass(frozen=True)
class Embeddings:
    """Vectors with the encoder that made them (``Client.embed_detailed``)."""

    vectors: FloatMatrix = field(repr=False)
    encoder: EncoderConfig


@dataclass(frozen=True)
class SpaceInfo:
    space: str
    encoder: EncoderConfig
    index_kind: str
    vector_count: int
    index_lance_version: int


@dataclass(frozen=True)
class Snapshot:
    collection: str
    tag: str
    lance_version: int
    created_at: datetime | None


@dataclass(frozen=True)
class Collection:
    name: str
    spaces: tuple[SpaceInfo, ...]
    item_count: int
    row_count: int
    modality_counts: Mapping[Modality, int]
    size_bytes: int
    lance_version: int
    created_at: datetime | None
    snapshots: tuple[Snapshot, ...] = ()
    fusion: Fusion | None = None
    """The fusion weights stored with the collection (``omnivec eval --tune``); None: equal."""

    @property
    def space_names(self) -> tuple[str, ...]:
        return tuple(s.space for s in self.spaces)


@dataclass(frozen=True)
class Span:
    """The text of a chunk; audio spans also have start and end times in seconds."""

    text: str
    start_seconds: float | None = None
    end_seconds: float | None = None

    @property
    def has_time(self) -> bool:
        return self.start_seconds is not None


SearchMode = Literal["vector", "keyword", "hybrid"]
"""``vector``: the embedding spaces' rankings; ``keyword``: the full-text (BM25) ranking of the
query's words; ``hybrid``: both, fused."""
SEARCH_MODES: tuple[SearchMode, ...] = ("vector", "keyword", "hybrid")
KEYWORD_RANKING = "keyword"
"""The name of the keyword (BM25) ranking, beside the spaces' names ("clip", "text")."""


@dataclass(frozen=True)
class Fusion:
    """How the rankings of one search become one list: weighted reciprocal rank fusion.

    A ranking is one space's vector search (``"clip"``, ``"text"``) or the keyword search
    (``"keyword"``). An item's fused score is the sum, over the rankings that found it, of
    ``weight / (60 + rank)``. A ranking not named in ``weights`` weighs 1; weight 0 leaves it
    out. With ``route_by_modality`` each item is ranked only by the rankings meant for its
    modality: images by ``clip``, texts and transcripts by ``text`` and ``keyword`` (by ``clip``
    where the collection has no text space).
    """

    weights: Mapping[str, float] = field(default_factory=dict)
    route_by_modality: bool = False

    def weight(self, ranking: str) -> float:
        return float(self.weights.get(ranking, 1.0))


@dataclass(frozen=True)
class SearchQuery:
    """One search: exactly one of text, image, audio (bytes or a path) or a stored item id.

    The same value serves ``Client.query`` and the embedded engine's ``Engine.search``, so a
    caller that may run either way (the CLI) builds it once. It is plain data: the client checks
    it before sending, the engine before searching.
    """

    text: str | None = None
    image: bytes | PathLike | None = None
    audio: bytes | PathLike | None = None
    item_id: str | None = None
    k: int = 10
    where: str | None = None
    """A filter over columns and metadata, e.g. ``"priority = 'high' AND year >= 2020"``."""
    modalities: Sequence[Modality] = ()
    """Only hits of these modalities; empty means all."""
    spaces: Sequence[str] = ()
    """Only these spaces; empty means every space that can embed the query."""
    mode: SearchMode | None = None
    """vector, keyword or hybrid; None means the default (hybrid: see the README's measurements).
    Keyword search needs words: a text or audio query."""
    fusion: Fusion | None = None
    """Fusion weights for this query; None means the collection's stored ones (set by
    ``omnivec eval --tune``), else equal weights."""


@dataclass(frozen=True)
class Match:
    """Where one ranking placed a hit: the ranking's name, the 1-based rank in it and the raw
    score there (cosine for a space, BM25 for ``keyword``)."""

    ranking: str
    rank: int
    score: float


@dataclass(frozen=True)
class Hit:
    id: str
    modality: Modality
    source_uri: str
    metadata: Mapping[str, Any]
    span: Span | None
    """The matching text or transcript excerpt (with times for audio); None for images."""
    space: str
    """The ranking that weighs most in the hit's fused score: a space, or ``"keyword"``."""
    score: float
    """Raw score in that ranking: cosine similarity in a space, BM25 for ``"keyword"``."""
    fused_score: float
    """Score after fusing the rankings; hits are sorted by it."""
    rank: int
    """1-based position."""
    chunk: int = 0
    """Which chunk of the item matched (0 for images and one-chunk texts)."""
    matches: tuple[Match, ...] = ()
    """Every ranking that found the item, in the order the rankings were searched."""

    @property
    def found_by(self) -> tuple[str, ...]:
        """The names of the rankings that found the item."""
        return tuple(m.ranking for m in self.matches)


@dataclass(frozen=True)
class SpaceTiming:
    space: str
    embed_ms: float
    search_ms: float


@dataclass(frozen=True)
class SearchResult:
    """Hits with the details search() leaves out: timings and an audio query's transcript."""

    hits: tuple[Hit, ...]
    timings: tuple[SpaceTiming, ...]
    query_transcript: str | None


@dataclass(frozen=True)
class IndexFailure:
    path: str
    reason: str


@dataclass(frozen=True)
class IndexProgress:
    """Cumulative counters; `failures` holds only failures new since the previous event."""

    done: int
    total: int
    indexed: int
    unchanged: int
    failed: int
    current_path: str
    failures: tuple[IndexFailure, ...]
    is_final: bool


@dataclass(frozen=True)
class Transcript:
    text: str
    segments: tuple[Span, ...]
    language: str
    duration_seconds: float


@dataclass(frozen=True)
class LabelScore:
    label: str
    probability: float


@dataclass(frozen=True)
class Classification:
    """A probe's answer for one input, labels best first."""

    labels: tuple[LabelScore, ...]
    abstained: bool
    error: str | None = None

    @property
    def label(self) -> str | None:
        """The top label, or None when the probe abstained or the input failed."""
        if self.abstained or self.error is not None or not self.labels:
            return None
        return self.labels[0].label


@dataclass(frozen=True)
class LabelledExample:
    """A training example for a probe: a stored item or inline media, with its label."""

    input: MediaOrItem
    label: str

    def __post_init__(self) -> None:
        if not isinstance(self.input, (Media, ItemRef)):
            raise TypeError(
                "LabelledExample.input must be Media or ItemRef, not "
                f"{type(self.input).__name__}; e.g. LabelledExample(ItemRef('id'), 'cat')"
            )


@dataclass(frozen=True)
class TrainProgress:
    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class ClassMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class CScore:
    """Cross-validated score of one C: pooled out-of-fold accuracy and mean log loss."""

    c: float
    accuracy: float
    log_loss: float


@dataclass(frozen=True)
class Interval:
    """``[low, high]`` at confidence ``level`` (0.9: a 90% interval); ``method`` says how it was
    made ("wilson": Wilson score interval; "newcombe": Newcombe's interval of a paired
    difference; "bootstrap": a stratified percentile bootstrap over the rows, for out-of-fold
    estimates with enough rows to resample). A probe's accuracy interval may add
    " + split variance" (an out-of-fold estimate from repeated splits: both ends widened by the
    spread of accuracy across the repetitions) and " + learning curve" (its upper end raised by
    the gain the served probe, trained on every example, is expected to have over the probe that
    was scored; the report's notes say how much)."""

    low: float
    high: float
    level: float
    method: str


@dataclass(frozen=True)
class Comparison:
    """The probe against a baseline, scored on the same rows (a paired comparison).

    ``difference`` is probe minus baseline accuracy, ``interval`` its interval; ``verdict`` is
    "better", "worse" or "cannot tell apart" (the interval spans 0: too few rows to decide).
    ``baseline`` is "zero-shot", "plain probe" or "without unlabeled rows".
    """

    baseline: str
    probe_accuracy: float
    baseline_accuracy: float
    difference: float
    interval: Interval
    rows: int
    verdict: str

    def describe(self) -> str:
        """One line: "better than zero-shot by 6.2 points (90% interval +1.0 to +11.5, 40 rows)"
        or "cannot tell apart from zero-shot on 8 rows (-12.5 points, 90% interval ...)"."""
        level = f"{100 * self.interval.level:.0f}%"
        span = f"{100 * self.interval.low:+.1f} to {100 * self.interval.high:+.1f}"
        if self.verdict == "cannot tell apart":
            return (
                f"cannot tell apart from {self.baseline} on {self.rows} rows "
                f"({100 * self.difference:+.1f} points, {level} interval {span})"
            )
        return (
            f"{self.verdict} than {self.baseline} by {abs(100 * self.difference):.1f} points "
            f"({level} interval {span}, {self.rows} rows)"
        )


@dataclass(frozen=True)
class ProbeReport:
    """The training report of a probe version (see ``omnivec.v1.ProbeReport``).

    The probe's accuracy is in the field that says how it was estimated: ``heldout_accuracy``
    (a held-out split), ``cv_accuracy`` or ``loo_accuracy`` (out-of-fold estimates when nothing
    was held out); :attr:`accuracy` is whichever is set. Accuracies are None when they could not
    be estimated (``zero_shot_accuracy`` also without prompts). ``accuracy_interval`` is its 90%
    interval and ``comparisons`` the paired comparisons with the baselines on the same rows.
    """

    collection: str
    name: str
    version: int
    space: str
    classes: tuple[str, ...]
    regularization_c: float
    cv_method: str
    cv_folds: int
    heldout_accuracy: float | None
    zero_shot_accuracy: float | None
    plain_probe_accuracy: float | None
    class_metrics: tuple[ClassMetrics, ...]
    confusion_matrix: tuple[tuple[int, ...], ...]
    """Rows are true classes, columns predicted classes, both in the order of `classes`."""
    temperature: float
    train_seconds: float
    n_examples: int
    encoder_config_hash: str
    created_at: datetime | None
    abstain_threshold: float
    prompt_template: str | None = None
    """None when the probe was trained without prompts (no zero-shot prior)."""
    class_names: Mapping[str, str] = field(default_factory=dict)
    seed: int = 0
    selection_method: str = ""
    """How C was chosen: "k-fold", "repeated-splits", "leave-one-out" or "fixed"."""
    estimate_method: str = ""
    """"held-out split", "leave-one-out", "cross-validation" or "none"."""
    cv_repetitions: int = 0
    cv_scores: tuple[CScore, ...] = ()
    plain_probe_c: float | None = None
    heldout_log_loss: float | None = None
    zero_shot_prior_used: bool = False
    prior_scale: float | None = None
    n_train: int = 0
    n_heldout: int = 0
    notes: tuple[str, ...] = ()
    cv_accuracy: float | None = None
    loo_accuracy: float | None = None
    accuracy_interval: Interval | None = None
    comparisons: tuple[Comparison, ...] = ()
    c_rule: str = ""
    """How C was set: "cross-validation", "one standard error, trust region", "trust region" or
    "fixed"."""
    unlabeled_available: int = 0
    unlabeled_rows: int = 0
    unlabeled_used: bool = False
    prompt_templates: tuple[str, ...] = ()
    prompt_set: str = ""
    log_loss: float | None = None

    @property
    def accuracy(self) -> float | None:
        """The accuracy estimate, whichever way it was made (``estimate_method``)."""
        for value in (self.heldout_accuracy, self.cv_accuracy, self.loo_accuracy):
            if value is not None:
                return value
        return None

    def confusion_array(self) -> npt.NDArray[np.int64]:
        return np.array(self.confusion_matrix, dtype=np.int64).reshape(
            len(self.classes), len(self.classes)
        )


@dataclass(frozen=True)
class ProbeInfo:
    name: str
    version: int
    space: str
    classes: tuple[str, ...]
    heldout_accuracy: float | None  # set only when estimated on a held-out split
    created_at: datetime | None
    is_latest: bool
    accuracy: float | None = None  # the estimate however it was made; None without one
    estimate_method: str = ""


@dataclass(frozen=True)
class LabelSuggestion:
    """An unlabelled item worth labelling next, with the probe's best guess."""

    rank: int
    item_id: str
    modality: str
    source_uri: str
    text: str
    predicted: str
    probability: float
    margin: float
    score: float


@dataclass(frozen=True)
class LabelSuggestions:
    """What ``suggest_labels`` returns: the items to label, most useful first."""

    suggestions: tuple[LabelSuggestion, ...]
    version: int
    unlabeled_items: int
    strategy: str


TrainEvent = TrainProgress | ProbeReport
"""What train_probe_stream yields: progress events, then the report."""


@dataclass(frozen=True)
class ClassifyCollectionProgress:
    done: int
    total: int
    abstained: int
    column: str
    version: int
    is_final: bool


@dataclass(frozen=True)
class VerifyProblem:
    """One thing ``verify`` found wrong. ``kind`` is one of: ``checksum`` (a data file's bytes
    differ from those committed), ``missing_file``, ``unreadable`` (the full read failed),
    ``row_count``, ``vector_norm``, ``ann_ids`` (the ANN index and the table disagree),
    ``probe``."""

    kind: str
    message: str
    fragment: str = ""  # the damaged data file (name under <table>.lance/data/), when one is
    damages_current: bool = True  # False: only older versions (and snapshots) use that file


@dataclass(frozen=True)
class VerifyReport:
    """What a full check of one collection found (see ``Client.verify_collection``)."""

    collection: str
    lance_version: int
    rows_read: int
    data_files_checked: int
    data_files_unrecorded: int  # files with no recorded checksum: read, but not compared
    probes_checked: int
    problems: tuple[VerifyProblem, ...] = ()
    recovery: str = ""  # the command that recovers the damage; empty when there is none

    @property
    def ok(self) -> bool:
        """True when the current version is intact. A damaged file that only older versions
        (and their snapshots) use is listed in ``problems`` but does not make the report fail:
        after a restore that recovered from it, it is all that remains."""
        return not any(p.damages_current for p in self.problems)


# --- retrieval evaluation (Client.evaluate, ``omnivec eval``) ------------------------------------

METRICS: tuple[str, ...] = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
"""The figures an evaluation reports per configuration, in this order."""


@dataclass(frozen=True)
class EvalQuery:
    """A labelled query: exactly one of text, image or audio (bytes or a path), and the ids of
    the items that answer it, each with a relevance grade (> 0; 1 when ungraded)."""

    text: str | None = None
    image: bytes | PathLike | None = None
    audio: bytes | PathLike | None = None
    relevant: Mapping[str, float] = field(default_factory=dict)
    id: str | None = None
    """A name for messages (the line of the queries file by default)."""


@dataclass(frozen=True)
class EvalOptions:
    """What an evaluation runs besides the standard configurations."""

    tune: bool = False
    """Pick fusion weights on the queries by cross-validation and store them with the
    collection (unless ``dry_run``), when they do not measure worse than the current ones."""
    folds: int = 5
    objective: str = "ndcg@10"
    """The figure tuning maximises: one of METRICS."""
    bootstrap_samples: int = 1000
    seed: int = 0
    baseline: str = "vector"
    """The configuration every other one is compared with (paired differences)."""
    fusion: Fusion | None = None
    """Weights to evaluate as the current ones; None means the collection's stored ones."""
    dry_run: bool = False
    """With ``tune``: report the tuned weights without storing them."""


@dataclass(frozen=True)
class Estimate:
    """A mean over queries with its 95% bootstrap interval (percentile method)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class ConfigurationResult:
    """One search configuration's figures over the queries it applies to."""

    name: str
    """``vector:<space>`` (one space alone), ``keyword``, ``vector`` (the spaces fused),
    ``hybrid``, ``routed`` (hybrid, routed by target modality), ``tuned`` (cross-validated)."""
    description: str
    metrics: Mapping[str, Estimate]
    """Keyed by the names in METRICS."""
    queries: int


@dataclass(frozen=True)
class PairedDifference:
    """``configuration`` minus ``baseline`` on the same queries: the mean per-query difference
    with its bootstrap interval, and how many queries got better and worse."""

    configuration: str
    baseline: str
    metric: str
    difference: Estimate
    better: int
    worse: int


@dataclass(frozen=True)
class TuningResult:
    """What ``tune`` chose and whether it was stored."""

    fusion: Fusion
    objective: str
    folds: int
    candidates: int
    """Weightings tried."""
    stored: bool
    reason: str
    """Why the weights were stored or not, in words."""


@dataclass(frozen=True)
class EvalReport:
    collection: str
    queries: int
    configurations: tuple[ConfigurationResult, ...]
    baseline: str
    differences: tuple[PairedDifference, ...]
    """Every other configuration against ``baseline``, for every figure."""
    tuning: TuningResult | None
    fusion: Fusion
    """The weights the ``vector``, ``hybrid`` and ``routed`` configurations used."""
    bootstrap_samples: int
    seed: int
    seconds: float
    notes: tuple[str, ...] = ()

    def configuration(self, name: str) -> ConfigurationResult:
        for result in self.configurations:
            if result.name == name:
                return result
        raise KeyError(f"no configuration {name!r} in this report")


@dataclass(frozen=True)
class EvalProgress:
    stage: str
    """"embed" (the queries), "search", "tune"."""
    done: int
    total: int


EvalEvent = EvalProgress | EvalReport
"""What evaluate_stream yields: progress events, then the report."""
