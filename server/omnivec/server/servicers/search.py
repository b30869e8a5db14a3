"""SearchService: one query (text, image, audio or item id) against a collection, and the
evaluation of a collection's retrieval on labelled queries."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import grpc

from omnivec.client import wire
from omnivec.client.types import EvalProgress
from omnivec.server import conversions as conv
from omnivec.server.limits import check_call_active
from omnivec.server.servicers import ServerDeps, relay, run_in_thread
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

    @rpc_method
    def Evaluate(
        self, request: search_pb2.EvaluateRequest, context: grpc.ServicerContext
    ) -> Iterator[search_pb2.EvaluateEvent]:
        # The queries are bounded by the message size and the engine's MAX_QUERIES, not by
        # max_items_per_request: an evaluation needs thousands of (mostly short) queries.
        queries = conv.eval_queries_from_proto(request)
        options = conv.eval_options_from_proto(request)
        out: queue.Queue[Any] = queue.Queue()

        def progress(event: EvalProgress) -> None:
            check_call_active(context)  # a cancelled evaluation stops at its next step
            out.put(search_pb2.EvaluateEvent(progress=wire.eval_progress_to_proto(event)))

        def work() -> None:
            report = self._engine.evaluate(request.collection, queries, options, progress)
            out.put(search_pb2.EvaluateEvent(report=wire.eval_report_to_proto(report)))

        thread = run_in_thread(work, out, context, "evaluate")
        yield from relay(out)
        thread.join()
