from google.protobuf import struct_pb2 as _struct_pb2
from omnivec.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_MODE_UNSPECIFIED: _ClassVar[SearchMode]
    SEARCH_MODE_VECTOR: _ClassVar[SearchMode]
    SEARCH_MODE_KEYWORD: _ClassVar[SearchMode]
    SEARCH_MODE_HYBRID: _ClassVar[SearchMode]
SEARCH_MODE_UNSPECIFIED: SearchMode
SEARCH_MODE_VECTOR: SearchMode
SEARCH_MODE_KEYWORD: SearchMode
SEARCH_MODE_HYBRID: SearchMode

class SearchRequest(_message.Message):
    __slots__ = ("collection", "text", "image", "audio", "item_id", "k", "filter", "modalities", "spaces", "mode", "fusion")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    SPACES_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    text: str
    image: bytes
    audio: bytes
    item_id: str
    k: int
    filter: str
    modalities: _containers.RepeatedScalarFieldContainer[_common_pb2.Modality]
    spaces: _containers.RepeatedScalarFieldContainer[str]
    mode: SearchMode
    fusion: _common_pb2.Fusion
    def __init__(self, collection: _Optional[str] = ..., text: _Optional[str] = ..., image: _Optional[bytes] = ..., audio: _Optional[bytes] = ..., item_id: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[str] = ..., modalities: _Optional[_Iterable[_Union[_common_pb2.Modality, str]]] = ..., spaces: _Optional[_Iterable[str]] = ..., mode: _Optional[_Union[SearchMode, str]] = ..., fusion: _Optional[_Union[_common_pb2.Fusion, _Mapping]] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("ranking", "rank", "score")
    RANKING_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ranking: str
    rank: int
    score: float
    def __init__(self, ranking: _Optional[str] = ..., rank: _Optional[int] = ..., score: _Optional[float] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("id", "modality", "source_uri", "metadata", "span", "space", "score", "fused_score", "rank", "chunk", "matches")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URI_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FUSED_SCORE_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    id: str
    modality: _common_pb2.Modality
    source_uri: str
    metadata: _struct_pb2.Struct
    span: _common_pb2.Span
    space: str
    score: float
    fused_score: float
    rank: int
    chunk: int
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    def __init__(self, id: _Optional[str] = ..., modality: _Optional[_Union[_common_pb2.Modality, str]] = ..., source_uri: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., span: _Optional[_Union[_common_pb2.Span, _Mapping]] = ..., space: _Optional[str] = ..., score: _Optional[float] = ..., fused_score: _Optional[float] = ..., rank: _Optional[int] = ..., chunk: _Optional[int] = ..., matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ...) -> None: ...

class SpaceTiming(_message.Message):
    __slots__ = ("space", "embed_ms", "search_ms")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    EMBED_MS_FIELD_NUMBER: _ClassVar[int]
    SEARCH_MS_FIELD_NUMBER: _ClassVar[int]
    space: str
    embed_ms: float
    search_ms: float
    def __init__(self, space: _Optional[str] = ..., embed_ms: _Optional[float] = ..., search_ms: _Optional[float] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "timings", "query_transcript")
    HITS_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    QUERY_TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    timings: _containers.RepeatedCompositeFieldContainer[SpaceTiming]
    query_transcript: str
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ..., timings: _Optional[_Iterable[_Union[SpaceTiming, _Mapping]]] = ..., query_transcript: _Optional[str] = ...) -> None: ...

class LabelledQuery(_message.Message):
    __slots__ = ("text", "image", "audio", "relevant", "id")
    class RelevantEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    RELEVANT_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    image: bytes
    audio: bytes
    relevant: _containers.ScalarMap[str, float]
    id: str
    def __init__(self, text: _Optional[str] = ..., image: _Optional[bytes] = ..., audio: _Optional[bytes] = ..., relevant: _Optional[_Mapping[str, float]] = ..., id: _Optional[str] = ...) -> None: ...

class EvaluateRequest(_message.Message):
    __slots__ = ("collection", "queries", "tune", "dry_run", "folds", "objective", "bootstrap_samples", "seed", "baseline", "fusion")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    TUNE_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    queries: _containers.RepeatedCompositeFieldContainer[LabelledQuery]
    tune: bool
    dry_run: bool
    folds: int
    objective: str
    bootstrap_samples: int
    seed: int
    baseline: str
    fusion: _common_pb2.Fusion
    def __init__(self, collection: _Optional[str] = ..., queries: _Optional[_Iterable[_Union[LabelledQuery, _Mapping]]] = ..., tune: _Optional[bool] = ..., dry_run: _Optional[bool] = ..., folds: _Optional[int] = ..., objective: _Optional[str] = ..., bootstrap_samples: _Optional[int] = ..., seed: _Optional[int] = ..., baseline: _Optional[str] = ..., fusion: _Optional[_Union[_common_pb2.Fusion, _Mapping]] = ...) -> None: ...

class EvaluateEvent(_message.Message):
    __slots__ = ("progress", "report")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    progress: EvaluateProgress
    report: EvaluateReport
    def __init__(self, progress: _Optional[_Union[EvaluateProgress, _Mapping]] = ..., report: _Optional[_Union[EvaluateReport, _Mapping]] = ...) -> None: ...

class EvaluateProgress(_message.Message):
    __slots__ = ("stage", "done", "total")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    stage: str
    done: int
    total: int
    def __init__(self, stage: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class Estimate(_message.Message):
    __slots__ = ("value", "low", "high")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    value: float
    low: float
    high: float
    def __init__(self, value: _Optional[float] = ..., low: _Optional[float] = ..., high: _Optional[float] = ...) -> None: ...

class ConfigurationResult(_message.Message):
    __slots__ = ("name", "description", "metrics", "queries")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Estimate
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Estimate, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    metrics: _containers.MessageMap[str, Estimate]
    queries: int
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., metrics: _Optional[_Mapping[str, Estimate]] = ..., queries: _Optional[int] = ...) -> None: ...

class PairedDifference(_message.Message):
    __slots__ = ("configuration", "baseline", "metric", "difference", "better", "worse")
    CONFIGURATION_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    BETTER_FIELD_NUMBER: _ClassVar[int]
    WORSE_FIELD_NUMBER: _ClassVar[int]
    configuration: str
    baseline: str
    metric: str
    difference: Estimate
    better: int
    worse: int
    def __init__(self, configuration: _Optional[str] = ..., baseline: _Optional[str] = ..., metric: _Optional[str] = ..., difference: _Optional[_Union[Estimate, _Mapping]] = ..., better: _Optional[int] = ..., worse: _Optional[int] = ...) -> None: ...

class TuningResult(_message.Message):
    __slots__ = ("fusion", "objective", "folds", "candidates", "stored", "reason")
    FUSION_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    FOLDS_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    fusion: _common_pb2.Fusion
    objective: str
    folds: int
    candidates: int
    stored: bool
    reason: str
    def __init__(self, fusion: _Optional[_Union[_common_pb2.Fusion, _Mapping]] = ..., objective: _Optional[str] = ..., folds: _Optional[int] = ..., candidates: _Optional[int] = ..., stored: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class EvaluateReport(_message.Message):
    __slots__ = ("collection", "queries", "configurations", "baseline", "differences", "tuning", "fusion", "bootstrap_samples", "seed", "seconds", "notes")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    CONFIGURATIONS_FIELD_NUMBER: _ClassVar[int]
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    TUNING_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    BOOTSTRAP_SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    queries: int
    configurations: _containers.RepeatedCompositeFieldContainer[ConfigurationResult]
    baseline: str
    differences: _containers.RepeatedCompositeFieldContainer[PairedDifference]
    tuning: TuningResult
    fusion: _common_pb2.Fusion
    bootstrap_samples: int
    seed: int
    seconds: float
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., queries: _Optional[int] = ..., configurations: _Optional[_Iterable[_Union[ConfigurationResult, _Mapping]]] = ..., baseline: _Optional[str] = ..., differences: _Optional[_Iterable[_Union[PairedDifference, _Mapping]]] = ..., tuning: _Optional[_Union[TuningResult, _Mapping]] = ..., fusion: _Optional[_Union[_common_pb2.Fusion, _Mapping]] = ..., bootstrap_samples: _Optional[int] = ..., seed: _Optional[int] = ..., seconds: _Optional[float] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...
