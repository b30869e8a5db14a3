from omnivec.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ZeroShotClassifyRequest(_message.Message):
    __slots__ = ("input", "collection", "labels", "prompt_template", "space", "top_k", "prompt_templates", "class_names", "prompt_set")
    class ClassNamesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INPUT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    PROMPT_SET_FIELD_NUMBER: _ClassVar[int]
    input: _common_pb2.ItemOrMedia
    collection: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    prompt_template: str
    space: str
    top_k: int
    prompt_templates: _containers.RepeatedScalarFieldContainer[str]
    class_names: _containers.ScalarMap[str, str]
    prompt_set: str
    def __init__(self, input: _Optional[_Union[_common_pb2.ItemOrMedia, _Mapping]] = ..., collection: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., prompt_template: _Optional[str] = ..., space: _Optional[str] = ..., top_k: _Optional[int] = ..., prompt_templates: _Optional[_Iterable[str]] = ..., class_names: _Optional[_Mapping[str, str]] = ..., prompt_set: _Optional[str] = ...) -> None: ...

class ZeroShotClassifyResponse(_message.Message):
    __slots__ = ("labels", "space")
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[_common_pb2.LabelScore]
    space: str
    def __init__(self, labels: _Optional[_Iterable[_Union[_common_pb2.LabelScore, _Mapping]]] = ..., space: _Optional[str] = ...) -> None: ...
