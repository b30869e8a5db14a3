from omnivec.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ZeroShotClassifyRequest(_message.Message):
    __slots__ = ("input", "collection", "labels", "prompt_template", "space", "top_k")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    input: _common_pb2.ItemOrMedia
    collection: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    prompt_template: str
    space: str
    top_k: int
    def __init__(self, input: _Optional[_Union[_common_pb2.ItemOrMedia, _Mapping]] = ..., collection: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., prompt_template: _Optional[str] = ..., space: _Optional[str] = ..., top_k: _Optional[int] = ...) -> None: ...

class ZeroShotClassifyResponse(_message.Message):
    __slots__ = ("labels", "space")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[_common_pb2.LabelScore]
    space: str
    def __init__(self, labels: _Optional[_Iterable[_Union[_common_pb2.LabelScore, _Mapping]]] = ..., space: _Optional[str] = ...) -> None: ...
