from google.protobuf import struct_pb2 as _struct_pb2
from omnivec.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchRequest(_message.Message):
    __slots__ = ("collection", "text", "image", "audio", "item_id", "k", "filter", "modalities", "spaces")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    MODALITIES_FIELD_NUMBER: _ClassVar[int]
    SPACES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    text: str
    image: bytes
    audio: bytes
    item_id: str
    k: int
    filter: str
    modalities: _containers.RepeatedScalarFieldContainer[_common_pb2.Modality]
    spaces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., text: _Optional[str] = ..., image: _Optional[bytes] = ..., audio: _Optional[bytes] = ..., item_id: _Optional[str] = ..., k: _Optional[int] = ..., filter: _Optional[str] = ..., modalities: _Optional[_Iterable[_Union[_common_pb2.Modality, str]]] = ..., spaces: _Optional[_Iterable[str]] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("id", "modality", "source_uri", "metadata", "span", "space", "score", "fused_score", "rank", "chunk")
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
    def __init__(self, id: _Optional[str] = ..., modality: _Optional[_Union[_common_pb2.Modality, str]] = ..., source_uri: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., span: _Optional[_Union[_common_pb2.Span, _Mapping]] = ..., space: _Optional[str] = ..., score: _Optional[float] = ..., fused_score: _Optional[float] = ..., rank: _Optional[int] = ..., chunk: _Optional[int] = ...) -> None: ...

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
