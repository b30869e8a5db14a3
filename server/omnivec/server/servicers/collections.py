"""CollectionService: create, list, describe, delete, snapshot and restore collections."""

from __future__ import annotations

import logging

import grpc

from omnivec.client import wire
from omnivec.indexer.errors import (
    CorruptDataError,
    InvalidInputError,
    NotFoundError,
)
from omnivec.server import conversions as conv
from omnivec.server.limits import check_call_active
from omnivec.server.servicers import ServerDeps
from omnivec.server.status import rpc_method
from omnivec.v1 import collections_pb2, collections_pb2_grpc

__all__ = ["CollectionServicer"]

log = logging.getLogger("omnivec.server")


class CollectionServicer(collections_pb2_grpc.CollectionServiceServicer):
    def __init__(self, deps: ServerDeps) -> None:
        self._engine = deps.engine

    def _describe(self, name: str) -> collections_pb2.Collection:
        return conv.collection_to_proto(self._engine.describe_collection(name))

    @rpc_method
    def CreateCollection(
        self, request: collections_pb2.CreateCollectionRequest, context: grpc.ServicerContext
    ) -> collections_pb2.Collection:
        spaces = list(dict.fromkeys(request.spaces)) or None
        self._engine.create_collection(request.name, spaces, exist_ok=request.if_not_exists)
        return self._describe(request.name)

    @rpc_method
    def ListCollections(
        self, request: collections_pb2.ListCollectionsRequest, context: grpc.ServicerContext
    ) -> collections_pb2.ListCollectionsResponse:
        described = []
        for name in self._engine.list_collections():
            check_call_active(context)
            try:
                described.append(self._describe(name))
            except NotFoundError:  # deleted while listing
                continue
            except CorruptDataError as exc:
                # One damaged collection must not hide the others; GetCollection on it answers
                # FAILED_PRECONDITION with the damage and the recovery command.
                log.warning("ListCollections skips damaged collection %r: %s", name, exc)
                continue
        return collections_pb2.ListCollectionsResponse(collections=described)

    @rpc_method
    def GetCollection(
        self, request: collections_pb2.GetCollectionRequest, context: grpc.ServicerContext
    ) -> collections_pb2.Collection:
        return self._describe(request.name)

    @rpc_method
    def DeleteCollection(
        self, request: collections_pb2.DeleteCollectionRequest, context: grpc.ServicerContext
    ) -> collections_pb2.DeleteCollectionResponse:
        try:
            self._engine.delete_collection(request.name)
        except NotFoundError:
            if request.if_exists:
                return collections_pb2.DeleteCollectionResponse(deleted=False)
            raise
        return collections_pb2.DeleteCollectionResponse(deleted=True)

    @rpc_method
    def SnapshotCollection(
        self, request: collections_pb2.SnapshotCollectionRequest, context: grpc.ServicerContext
    ) -> collections_pb2.Snapshot:
        snapshot = self._engine.snapshot_collection(request.name, request.tag)
        return conv.snapshot_to_proto(request.name, snapshot)

    @rpc_method
    def RestoreCollection(
        self, request: collections_pb2.RestoreCollectionRequest, context: grpc.ServicerContext
    ) -> collections_pb2.Collection:
        target = request.WhichOneof("target")
        if target is None:
            raise InvalidInputError("give the version to restore: a tag or a version number")
        if target == "tag":
            info = self._engine.restore_collection(request.name, tag=request.tag)
        else:
            info = self._engine.restore_collection(request.name, version=request.version)
        return conv.collection_to_proto(info)

    @rpc_method
    def VerifyCollection(
        self, request: collections_pb2.VerifyCollectionRequest, context: grpc.ServicerContext
    ) -> collections_pb2.VerifyCollectionResponse:
        return wire.verify_report_to_proto(self._engine.verify_collection(request.name))
