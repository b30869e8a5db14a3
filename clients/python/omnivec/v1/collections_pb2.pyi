import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from omnivec.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateCollectionRequest(_message.Message):
    __slots__ = ("name", "spaces", "if_not_exists")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPACES_FIELD_NUMBER: _ClassVar[int]
    IF_NOT_EXISTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    spaces: _containers.RepeatedScalarFieldContainer[str]
    if_not_exists: bool
    def __init__(self, name: _Optional[str] = ..., spaces: _Optional[_Iterable[str]] = ..., if_not_exists: _Optional[bool] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[Collection]
    def __init__(self, collections: _Optional[_Iterable[_Union[Collection, _Mapping]]] = ...) -> None: ...

class GetCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteCollectionRequest(_message.Message):
    __slots__ = ("name", "if_exists")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IF_EXISTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    if_exists: bool
    def __init__(self, name: _Optional[str] = ..., if_exists: _Optional[bool] = ...) -> None: ...

class DeleteCollectionResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class SnapshotCollectionRequest(_message.Message):
    __slots__ = ("name", "tag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    tag: str
    def __init__(self, name: _Optional[str] = ..., tag: _Optional[str] = ...) -> None: ...

class RestoreCollectionRequest(_message.Message):
    __slots__ = ("name", "tag", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    tag: str
    version: int
    def __init__(self, name: _Optional[str] = ..., tag: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("collection", "tag", "lance_version", "created_at")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    LANCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    collection: str
    tag: str
    lance_version: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, collection: _Optional[str] = ..., tag: _Optional[str] = ..., lance_version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Collection(_message.Message):
    __slots__ = ("name", "spaces", "item_count", "row_count", "modality_counts", "size_bytes", "lance_version", "created_at", "snapshots", "fusion")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPACES_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    MODALITY_COUNTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    LANCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    FUSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    spaces: _containers.RepeatedCompositeFieldContainer[SpaceInfo]
    item_count: int
    row_count: int
    modality_counts: _containers.RepeatedCompositeFieldContainer[ModalityCount]
    size_bytes: int
    lance_version: int
    created_at: _timestamp_pb2.Timestamp
    snapshots: _containers.RepeatedCompositeFieldContainer[Snapshot]
    fusion: _common_pb2.Fusion
    def __init__(self, name: _Optional[str] = ..., spaces: _Optional[_Iterable[_Union[SpaceInfo, _Mapping]]] = ..., item_count: _Optional[int] = ..., row_count: _Optional[int] = ..., modality_counts: _Optional[_Iterable[_Union[ModalityCount, _Mapping]]] = ..., size_bytes: _Optional[int] = ..., lance_version: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., snapshots: _Optional[_Iterable[_Union[Snapshot, _Mapping]]] = ..., fusion: _Optional[_Union[_common_pb2.Fusion, _Mapping]] = ...) -> None: ...

class SpaceInfo(_message.Message):
    __slots__ = ("space", "encoder", "index_kind", "vector_count", "index_lance_version")
    SPACE_FIELD_NUMBER: _ClassVar[int]
    ENCODER_FIELD_NUMBER: _ClassVar[int]
    INDEX_KIND_FIELD_NUMBER: _ClassVar[int]
    VECTOR_COUNT_FIELD_NUMBER: _ClassVar[int]
    INDEX_LANCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    space: str
    encoder: _common_pb2.EncoderConfig
    index_kind: str
    vector_count: int
    index_lance_version: int
    def __init__(self, space: _Optional[str] = ..., encoder: _Optional[_Union[_common_pb2.EncoderConfig, _Mapping]] = ..., index_kind: _Optional[str] = ..., vector_count: _Optional[int] = ..., index_lance_version: _Optional[int] = ...) -> None: ...

class ModalityCount(_message.Message):
    __slots__ = ("modality", "item_count")
    MODALITY_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    modality: _common_pb2.Modality
    item_count: int
    def __init__(self, modality: _Optional[_Union[_common_pb2.Modality, str]] = ..., item_count: _Optional[int] = ...) -> None: ...

class VerifyCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class VerifyProblem(_message.Message):
    __slots__ = ("kind", "message", "fragment", "damages_current")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FRAGMENT_FIELD_NUMBER: _ClassVar[int]
    DAMAGES_CURRENT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    message: str
    fragment: str
    damages_current: bool
    def __init__(self, kind: _Optional[str] = ..., message: _Optional[str] = ..., fragment: _Optional[str] = ..., damages_current: _Optional[bool] = ...) -> None: ...

class VerifyCollectionResponse(_message.Message):
    __slots__ = ("collection", "lance_version", "rows_read", "data_files_checked", "data_files_unrecorded", "probes_checked", "problems", "recovery", "ok")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    LANCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    ROWS_READ_FIELD_NUMBER: _ClassVar[int]
    DATA_FILES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    DATA_FILES_UNRECORDED_FIELD_NUMBER: _ClassVar[int]
    PROBES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    collection: str
    lance_version: int
    rows_read: int
    data_files_checked: int
    data_files_unrecorded: int
    probes_checked: int
    problems: _containers.RepeatedCompositeFieldContainer[VerifyProblem]
    recovery: str
    ok: bool
    def __init__(self, collection: _Optional[str] = ..., lance_version: _Optional[int] = ..., rows_read: _Optional[int] = ..., data_files_checked: _Optional[int] = ..., data_files_unrecorded: _Optional[int] = ..., probes_checked: _Optional[int] = ..., problems: _Optional[_Iterable[_Union[VerifyProblem, _Mapping]]] = ..., recovery: _Optional[str] = ..., ok: _Optional[bool] = ...) -> None: ...
