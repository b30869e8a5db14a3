import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from omnivec.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LabelledExample(_message.Message):
    __slots__ = ("input", "label")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    input: _common_pb2.ItemOrMedia
    label: str
    def __init__(self, input: _Optional[_Union[_common_pb2.ItemOrMedia, _Mapping]] = ..., label: _Optional[str] = ...) -> None: ...

class TrainProbeRequest(_message.Message):
    __slots__ = ("collection", "name", "space", "examples", "prompt_template", "class_names", "abstain_threshold", "seed", "cv_folds", "prompt_templates", "prompt_set", "no_unlabeled")
    class ClassNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    ABSTAIN_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CV_FOLDS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_SET_FIELD_NUMBER: _ClassVar[int]
    NO_UNLABELED_FIELD_NUMBER: _ClassVar[int]
    collection: str
    name: str
    space: str
    examples: _containers.RepeatedCompositeFieldContainer[LabelledExample]
    prompt_template: str
    class_names: _containers.ScalarMap[str, str]
    abstain_threshold: float
    seed: int
    cv_folds: int
    prompt_templates: _containers.RepeatedScalarFieldContainer[str]
    prompt_set: str
    no_unlabeled: bool
    def __init__(self, collection: _Optional[str] = ..., name: _Optional[str] = ..., space: _Optional[str] = ..., examples: _Optional[_Iterable[_Union[LabelledExample, _Mapping]]] = ..., prompt_template: _Optional[str] = ..., class_names: _Optional[_Mapping[str, str]] = ..., abstain_threshold: _Optional[float] = ..., seed: _Optional[int] = ..., cv_folds: _Optional[int] = ..., prompt_templates: _Optional[_Iterable[str]] = ..., prompt_set: _Optional[str] = ..., no_unlabeled: _Optional[bool] = ...) -> None: ...

class TrainProbeEvent(_message.Message):
    __slots__ = ("progress", "report")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    progress: TrainProgress
    report: ProbeReport
    def __init__(self, progress: _Optional[_Union[TrainProgress, _Mapping]] = ..., report: _Optional[_Union[ProbeReport, _Mapping]] = ...) -> None: ...

class TrainProgress(_message.Message):
    __slots__ = ("stage", "done", "total")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    stage: str
    done: int
    total: int
    def __init__(self, stage: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class ClassMetrics(_message.Message):
    __slots__ = ("label", "precision", "recall", "f1", "support")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    RECALL_FIELD_NUMBER: _ClassVar[int]
    F1_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_FIELD_NUMBER: _ClassVar[int]
    label: str
    precision: float
    recall: float
    f1: float
    support: int
    def __init__(self, label: _Optional[str] = ..., precision: _Optional[float] = ..., recall: _Optional[float] = ..., f1: _Optional[float] = ..., support: _Optional[int] = ...) -> None: ...

class ConfusionRow(_message.Message):
    __slots__ = ("label", "counts")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    label: str
    counts: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, label: _Optional[str] = ..., counts: _Optional[_Iterable[int]] = ...) -> None: ...

class Interval(_message.Message):
    __slots__ = ("low", "high", "level", "method")
    LOW_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    low: float
    high: float
    level: float
    method: str
    def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ..., level: _Optional[float] = ..., method: _Optional[str] = ...) -> None: ...

class Comparison(_message.Message):
    __slots__ = ("baseline", "probe_accuracy", "baseline_accuracy", "difference", "interval", "rows", "verdict")
    BASELINE_FIELD_NUMBER: _ClassVar[int]
    PROBE_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    BASELINE_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    baseline: str
    probe_accuracy: float
    baseline_accuracy: float
    difference: float
    interval: Interval
    rows: int
    verdict: str
    def __init__(self, baseline: _Optional[str] = ..., probe_accuracy: _Optional[float] = ..., baseline_accuracy: _Optional[float] = ..., difference: _Optional[float] = ..., interval: _Optional[_Union[Interval, _Mapping]] = ..., rows: _Optional[int] = ..., verdict: _Optional[str] = ...) -> None: ...

class ProbeReport(_message.Message):
    __slots__ = ("collection", "name", "version", "space", "classes", "regularization_c", "cv_method", "cv_folds", "heldout_accuracy", "zero_shot_accuracy", "plain_probe_accuracy", "class_metrics", "confusion_matrix", "temperature", "train_seconds", "n_examples", "encoder_config_hash", "created_at", "abstain_threshold", "prompt_template", "class_names", "seed", "selection_method", "estimate_method", "cv_repetitions", "cv_scores", "plain_probe_c", "heldout_log_loss", "zero_shot_prior_used", "prior_scale", "n_train", "n_heldout", "notes", "cv_accuracy", "loo_accuracy", "accuracy_interval", "comparisons", "c_rule", "unlabeled_available", "unlabeled_rows", "unlabeled_used", "prompt_templates", "prompt_set", "log_loss")
    class ClassNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    REGULARIZATION_C_FIELD_NUMBER: _ClassVar[int]
    CV_METHOD_FIELD_NUMBER: _ClassVar[int]
    CV_FOLDS_FIELD_NUMBER: _ClassVar[int]
    HELDOUT_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    ZERO_SHOT_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    PLAIN_PROBE_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CLASS_METRICS_FIELD_NUMBER: _ClassVar[int]
    CONFUSION_MATRIX_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TRAIN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    N_EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    ENCODER_CONFIG_HASH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ABSTAIN_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SELECTION_METHOD_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_METHOD_FIELD_NUMBER: _ClassVar[int]
    CV_REPETITIONS_FIELD_NUMBER: _ClassVar[int]
    CV_SCORES_FIELD_NUMBER: _ClassVar[int]
    PLAIN_PROBE_C_FIELD_NUMBER: _ClassVar[int]
    HELDOUT_LOG_LOSS_FIELD_NUMBER: _ClassVar[int]
    ZERO_SHOT_PRIOR_USED_FIELD_NUMBER: _ClassVar[int]
    PRIOR_SCALE_FIELD_NUMBER: _ClassVar[int]
    N_TRAIN_FIELD_NUMBER: _ClassVar[int]
    N_HELDOUT_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CV_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    LOO_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    COMPARISONS_FIELD_NUMBER: _ClassVar[int]
    C_RULE_FIELD_NUMBER: _ClassVar[int]
    UNLABELED_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    UNLABELED_ROWS_FIELD_NUMBER: _ClassVar[int]
    UNLABELED_USED_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_SET_FIELD_NUMBER: _ClassVar[int]
    LOG_LOSS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    name: str
    version: int
    space: str
    classes: _containers.RepeatedScalarFieldContainer[str]
    regularization_c: float
    cv_method: str
    cv_folds: int
    heldout_accuracy: float
    zero_shot_accuracy: float
    plain_probe_accuracy: float
    class_metrics: _containers.RepeatedCompositeFieldContainer[ClassMetrics]
    confusion_matrix: _containers.RepeatedCompositeFieldContainer[ConfusionRow]
    temperature: float
    train_seconds: float
    n_examples: int
    encoder_config_hash: str
    created_at: _timestamp_pb2.Timestamp
    abstain_threshold: float
    prompt_template: str
    class_names: _containers.ScalarMap[str, str]
    seed: int
    selection_method: str
    estimate_method: str
    cv_repetitions: int
    cv_scores: _containers.RepeatedCompositeFieldContainer[CScore]
    plain_probe_c: float
    heldout_log_loss: float
    zero_shot_prior_used: bool
    prior_scale: float
    n_train: int
    n_heldout: int
    notes: _containers.RepeatedScalarFieldContainer[str]
    cv_accuracy: float
    loo_accuracy: float
    accuracy_interval: Interval
    comparisons: _containers.RepeatedCompositeFieldContainer[Comparison]
    c_rule: str
    unlabeled_available: int
    unlabeled_rows: int
    unlabeled_used: bool
    prompt_templates: _containers.RepeatedScalarFieldContainer[str]
    prompt_set: str
    log_loss: float
    def __init__(self, collection: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., space: _Optional[str] = ..., classes: _Optional[_Iterable[str]] = ..., regularization_c: _Optional[float] = ..., cv_method: _Optional[str] = ..., cv_folds: _Optional[int] = ..., heldout_accuracy: _Optional[float] = ..., zero_shot_accuracy: _Optional[float] = ..., plain_probe_accuracy: _Optional[float] = ..., class_metrics: _Optional[_Iterable[_Union[ClassMetrics, _Mapping]]] = ..., confusion_matrix: _Optional[_Iterable[_Union[ConfusionRow, _Mapping]]] = ..., temperature: _Optional[float] = ..., train_seconds: _Optional[float] = ..., n_examples: _Optional[int] = ..., encoder_config_hash: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., abstain_threshold: _Optional[float] = ..., prompt_template: _Optional[str] = ..., class_names: _Optional[_Mapping[str, str]] = ..., seed: _Optional[int] = ..., selection_method: _Optional[str] = ..., estimate_method: _Optional[str] = ..., cv_repetitions: _Optional[int] = ..., cv_scores: _Optional[_Iterable[_Union[CScore, _Mapping]]] = ..., plain_probe_c: _Optional[float] = ..., heldout_log_loss: _Optional[float] = ..., zero_shot_prior_used: _Optional[bool] = ..., prior_scale: _Optional[float] = ..., n_train: _Optional[int] = ..., n_heldout: _Optional[int] = ..., notes: _Optional[_Iterable[str]] = ..., cv_accuracy: _Optional[float] = ..., loo_accuracy: _Optional[float] = ..., accuracy_interval: _Optional[_Union[Interval, _Mapping]] = ..., comparisons: _Optional[_Iterable[_Union[Comparison, _Mapping]]] = ..., c_rule: _Optional[str] = ..., unlabeled_available: _Optional[int] = ..., unlabeled_rows: _Optional[int] = ..., unlabeled_used: _Optional[bool] = ..., prompt_templates: _Optional[_Iterable[str]] = ..., prompt_set: _Optional[str] = ..., log_loss: _Optional[float] = ...) -> None: ...

class CScore(_message.Message):
    __slots__ = ("c", "accuracy", "log_loss")
    C_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    LOG_LOSS_FIELD_NUMBER: _ClassVar[int]
    c: float
    accuracy: float
    log_loss: float
    def __init__(self, c: _Optional[float] = ..., accuracy: _Optional[float] = ..., log_loss: _Optional[float] = ...) -> None: ...

class ProbeInfo(_message.Message):
    __slots__ = ("name", "version", "space", "classes", "heldout_accuracy", "created_at", "is_latest", "accuracy", "estimate_method")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    HELDOUT_ACCURACY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    IS_LATEST_FIELD_NUMBER: _ClassVar[int]
    ACCURACY_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_METHOD_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    space: str
    classes: _containers.RepeatedScalarFieldContainer[str]
    heldout_accuracy: float
    created_at: _timestamp_pb2.Timestamp
    is_latest: bool
    accuracy: float
    estimate_method: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., space: _Optional[str] = ..., classes: _Optional[_Iterable[str]] = ..., heldout_accuracy: _Optional[float] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., is_latest: _Optional[bool] = ..., accuracy: _Optional[float] = ..., estimate_method: _Optional[str] = ...) -> None: ...

class ListProbesRequest(_message.Message):
    __slots__ = ("collection", "name", "all_versions")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    name: str
    all_versions: bool
    def __init__(self, collection: _Optional[str] = ..., name: _Optional[str] = ..., all_versions: _Optional[bool] = ...) -> None: ...

class ListProbesResponse(_message.Message):
    __slots__ = ("probes",)
    PROBES_FIELD_NUMBER: _ClassVar[int]
    probes: _containers.RepeatedCompositeFieldContainer[ProbeInfo]
    def __init__(self, probes: _Optional[_Iterable[_Union[ProbeInfo, _Mapping]]] = ...) -> None: ...

class GetProbeRequest(_message.Message):
    __slots__ = ("collection", "name", "version")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    collection: str
    name: str
    version: int
    def __init__(self, collection: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class DeleteProbeRequest(_message.Message):
    __slots__ = ("collection", "name", "version", "all_versions")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ALL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    name: str
    version: int
    all_versions: bool
    def __init__(self, collection: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., all_versions: _Optional[bool] = ...) -> None: ...

class DeleteProbeResponse(_message.Message):
    __slots__ = ("deleted_versions",)
    DELETED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    deleted_versions: int
    def __init__(self, deleted_versions: _Optional[int] = ...) -> None: ...

class ClassifyRequest(_message.Message):
    __slots__ = ("collection", "probe", "version", "inputs", "top_k")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    collection: str
    probe: str
    version: int
    inputs: _containers.RepeatedCompositeFieldContainer[_common_pb2.ItemOrMedia]
    top_k: int
    def __init__(self, collection: _Optional[str] = ..., probe: _Optional[str] = ..., version: _Optional[int] = ..., inputs: _Optional[_Iterable[_Union[_common_pb2.ItemOrMedia, _Mapping]]] = ..., top_k: _Optional[int] = ...) -> None: ...

class Classification(_message.Message):
    __slots__ = ("labels", "abstained", "error")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    ABSTAINED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[_common_pb2.LabelScore]
    abstained: bool
    error: str
    def __init__(self, labels: _Optional[_Iterable[_Union[_common_pb2.LabelScore, _Mapping]]] = ..., abstained: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class ClassifyResponse(_message.Message):
    __slots__ = ("results", "version")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[Classification]
    version: int
    def __init__(self, results: _Optional[_Iterable[_Union[Classification, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class ClassifyCollectionRequest(_message.Message):
    __slots__ = ("collection", "probe", "version", "column")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    collection: str
    probe: str
    version: int
    column: str
    def __init__(self, collection: _Optional[str] = ..., probe: _Optional[str] = ..., version: _Optional[int] = ..., column: _Optional[str] = ...) -> None: ...

class ClassifyCollectionProgress(_message.Message):
    __slots__ = ("done", "total", "abstained", "column", "version", "is_final")
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ABSTAINED_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    done: int
    total: int
    abstained: int
    column: str
    version: int
    is_final: bool
    def __init__(self, done: _Optional[int] = ..., total: _Optional[int] = ..., abstained: _Optional[int] = ..., column: _Optional[str] = ..., version: _Optional[int] = ..., is_final: _Optional[bool] = ...) -> None: ...

class SuggestLabelsRequest(_message.Message):
    __slots__ = ("collection", "probe", "version", "count", "strategy")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    collection: str
    probe: str
    version: int
    count: int
    strategy: str
    def __init__(self, collection: _Optional[str] = ..., probe: _Optional[str] = ..., version: _Optional[int] = ..., count: _Optional[int] = ..., strategy: _Optional[str] = ...) -> None: ...

class Suggestion(_message.Message):
    __slots__ = ("rank", "item_id", "modality", "source_uri", "text", "predicted", "probability", "margin", "score")
    RANK_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URI_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    rank: int
    item_id: str
    modality: str
    source_uri: str
    text: str
    predicted: str
    probability: float
    margin: float
    score: float
    def __init__(self, rank: _Optional[int] = ..., item_id: _Optional[str] = ..., modality: _Optional[str] = ..., source_uri: _Optional[str] = ..., text: _Optional[str] = ..., predicted: _Optional[str] = ..., probability: _Optional[float] = ..., margin: _Optional[float] = ..., score: _Optional[float] = ...) -> None: ...

class SuggestLabelsResponse(_message.Message):
    __slots__ = ("suggestions", "version", "unlabeled_items", "strategy")
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UNLABELED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    suggestions: _containers.RepeatedCompositeFieldContainer[Suggestion]
    version: int
    unlabeled_items: int
    strategy: str
    def __init__(self, suggestions: _Optional[_Iterable[_Union[Suggestion, _Mapping]]] = ..., version: _Optional[int] = ..., unlabeled_items: _Optional[int] = ..., strategy: _Optional[str] = ...) -> None: ...
