from google.protobuf import struct_pb2 as _struct_pb2
from omnivec.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ItemStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_STATUS_UNSPECIFIED: _ClassVar[ItemStatus]
    ITEM_STATUS_OK: _ClassVar[ItemStatus]
    ITEM_STATUS_UNCHANGED: _ClassVar[ItemStatus]
    ITEM_STATUS_FAILED: _ClassVar[ItemStatus]
ITEM_STATUS_UNSPECIFIED: ItemStatus
ITEM_STATUS_OK: ItemStatus
ITEM_STATUS_UNCHANGED: ItemStatus
ITEM_STATUS_FAILED: ItemStatus

class UpsertRequest(_message.Message):
    __slots__ = ("collection", "sequence", "item")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    collection: str
    sequence: int
    item: UpsertItem
    def __init__(self, collection: _Optional[str] = ..., sequence: _Optional[int] = ..., item: _Optional[_Union[UpsertItem, _Mapping]] = ...) -> None: ...

class UpsertItem(_message.Message):
    __slots__ = ("id", "media", "metadata", "source_uri", "store_media")
    ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URI_FIELD_NUMBER: _ClassVar[int]
    STORE_MEDIA_FIELD_NUMBER: _ClassVar[int]
    id: str
    media: _common_pb2.Media
    metadata: _struct_pb2.Struct
    source_uri: str
    store_media: bool
    def __init__(self, id: _Optional[str] = ..., media: _Optional[_Union[_common_pb2.Media, _Mapping]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., source_uri: _Optional[str] = ..., store_media: _Optional[bool] = ...) -> None: ...

class UpsertResult(_message.Message):
    __slots__ = ("sequence", "id", "status", "error", "chunk_count")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    id: str
    status: ItemStatus
    error: str
    chunk_count: int
    def __init__(self, sequence: _Optional[int] = ..., id: _Optional[str] = ..., status: _Optional[_Union[ItemStatus, str]] = ..., error: _Optional[str] = ..., chunk_count: _Optional[int] = ...) -> None: ...

class IndexPathRequest(_message.Message):
    __slots__ = ("collection", "path", "recursive", "spaces")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    SPACES_FIELD_NUMBER: _ClassVar[int]
    collection: str
    path: str
    recursive: bool
    spaces: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., path: _Optional[str] = ..., recursive: _Optional[bool] = ..., spaces: _Optional[_Iterable[str]] = ...) -> None: ...

class IndexFailure(_message.Message):
    __slots__ = ("path", "reason")
    PATH_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    path: str
    reason: str
    def __init__(self, path: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class IndexProgress(_message.Message):
    __slots__ = ("done", "total", "indexed", "unchanged", "failed", "current_path", "failures", "is_final")
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PATH_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    done: int
    total: int
    indexed: int
    unchanged: int
    failed: int
    current_path: str
    failures: _containers.RepeatedCompositeFieldContainer[IndexFailure]
    is_final: bool
    def __init__(self, done: _Optional[int] = ..., total: _Optional[int] = ..., indexed: _Optional[int] = ..., unchanged: _Optional[int] = ..., failed: _Optional[int] = ..., current_path: _Optional[str] = ..., failures: _Optional[_Iterable[_Union[IndexFailure, _Mapping]]] = ..., is_final: _Optional[bool] = ...) -> None: ...

class DeleteItemsRequest(_message.Message):
    __slots__ = ("collection", "ids", "source_uris")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_URIS_FIELD_NUMBER: _ClassVar[int]
    collection: str
    ids: _containers.RepeatedScalarFieldContainer[str]
    source_uris: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, collection: _Optional[str] = ..., ids: _Optional[_Iterable[str]] = ..., source_uris: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteItemsResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: int
    def __init__(self, deleted: _Optional[int] = ...) -> None: ...
