"""SearchService: one query (text, image, audio or item id) against a collection."""

from __future__ import annotations

import grpc

from omnivec.client import wire
from omnivec.server import conversions as conv
from omnivec.server.limits import check_call_active
from omnivec.server.servicers import ServerDeps
from omnivec.server.status import rpc_method
from omnivec.v1 import search_pb2, search_pb2_grpc

__all__ = ["SearchServicer"]


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    def __init__(self, deps: ServerDeps) -> None:
        self._engine = deps.engine

    @rpc_method
    def Search(
        self, request: search_pb2.SearchRequest, context: grpc.ServicerContext
    ) -> search_pb2.SearchResponse:
        query = conv.search_query_from_proto(request)
        check_call_active(context)
        # Encoder calls inside the search check the call again (see omnivec.server.batching),
        # so a cancelled or expired search stops between its stages.
        result = self._engine.search(request.collection, query)
        check_call_active(context)
        return wire.search_result_to_proto(result)
