"""IndexingService: streaming Upsert, IndexPath under the configured root, DeleteItems.

Upsert and IndexPath run the engine on a worker thread and stream what it reports: the engine
emits an item's "indexed" event only after the commit holding all of its rows, so an OK result on
the wire means the item is durable. The handler thread only relays; it never blocks the engine.

IndexPath is jailed to ``server.index_root``. The requested path is resolved (``realpath``:
``..`` and every symlink followed) and must stay inside the resolved root, else
PERMISSION_DENIED (the code the proto documents); an absolute path is accepted only if it lies
inside the root. The folder is then walked by the engine's one walk
(:func:`omnivec.indexer.discovery.discover`) confined to the root: a symlink inside the root that
leads out of it is refused (reported as a failure of that entry), and a manifest (.jsonl / .csv)
listing files outside the root is refused as a whole.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import grpc

from omnivec.indexer.discovery import is_inside
from omnivec.indexer.errors import (
    FailedPreconditionError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
)
from omnivec.indexer.ingest import IndexEvent
from omnivec.server import conversions as conv
from omnivec.server.servicers import ServerDeps, relay, run_in_thread
from omnivec.server.status import rpc_method
from omnivec.v1 import indexing_pb2, indexing_pb2_grpc

__all__ = ["IndexingServicer", "resolve_under_root"]


def resolve_under_root(root: Path, requested: str) -> Path:
    """The real path of ``requested`` (relative to ``root``), which must lie inside ``root``."""
    if "\x00" in requested:
        raise InvalidInputError("the path contains a NUL character")
    real_root = Path(os.path.realpath(root))
    candidate = Path(os.path.realpath(real_root / requested))
    if not is_inside(real_root, candidate):
        raise PermissionDeniedError(
            f"path {requested!r} resolves outside the server's index root; give a path "
            "relative to the root, without '..' or links that lead out of it"
        )
    return candidate


def _relative(root: Path, label: str) -> str:
    prefix = str(root) + os.sep
    return label[len(prefix):] if label.startswith(prefix) else label


class IndexingServicer(indexing_pb2_grpc.IndexingServiceServicer):
    def __init__(self, deps: ServerDeps) -> None:
        self._engine = deps.engine
        self._settings = deps.settings
        self._metrics = deps.metrics

    # -- Upsert --------------------------------------------------------------------------------
    @rpc_method
    def Upsert(
        self, request_iterator: Iterator[indexing_pb2.UpsertRequest], context: grpc.ServicerContext
    ) -> Iterator[indexing_pb2.UpsertResult]:
        first = next(request_iterator, None)
        if first is None:
            return
        name = first.collection
        if not name:
            raise InvalidInputError("the first UpsertRequest must name the collection")
        self._engine.collection(name)  # NOT_FOUND before any item is read
        limit = self._settings.max_items_per_request
        out: queue.Queue[Any] = queue.Queue()
        stop: list[BaseException] = []

        def failed(request: indexing_pb2.UpsertRequest, reason: str) -> None:
            self._metrics.observe_item("failed")
            out.put(conv.upsert_result(request.sequence, "failed", request.item.id, error=reason))

        def items() -> Iterator[Any]:
            count = 0
            for request in chain([first], request_iterator):
                if request.collection and request.collection != name:
                    stop.append(InvalidInputError(
                        f"UpsertRequest #{request.sequence} names collection "
                        f"{request.collection!r}, but this stream writes to {name!r}; "
                        "use one stream per collection"
                    ))
                    return
                count += 1
                if count > limit:
                    stop.append(ResourceExhaustedError(
                        f"an Upsert stream may carry at most {limit} items; the items before "
                        f"#{request.sequence} were processed (see their results), send the rest "
                        "in a new stream"
                    ))
                    return
                try:
                    yield conv.upsert_item_from_proto(request)
                except InvalidInputError as exc:
                    failed(request, str(exc))

        def on_event(event: IndexEvent) -> None:
            self._metrics.observe_item(event.status)
            out.put(conv.upsert_result(
                int(event.item.key), event.status, event.item_id or event.item.item_id,
                event.chunks, event.reason,
            ))

        thread = run_in_thread(
            lambda: self._engine.upsert(name, items(), on_event=on_event), out, context, "upsert"
        )
        yield from relay(out)
        thread.join()
        if stop:
            raise stop[0]

    # -- IndexPath -----------------------------------------------------------------------------
    @rpc_method
    def IndexPath(
        self, request: indexing_pb2.IndexPathRequest, context: grpc.ServicerContext
    ) -> Iterator[indexing_pb2.IndexProgress]:
        if self._settings.index_root is None:
            raise FailedPreconditionError(
                "IndexPath is disabled on this server: set server.index_root (the folder it may "
                "read under), or upload the files with Upsert"
            )
        if not request.collection:
            raise InvalidInputError("IndexPath needs a collection name")
        root = Path(os.path.realpath(self._settings.index_root))
        target = resolve_under_root(root, request.path)
        if not target.exists():
            raise NotFoundError(f"path {request.path!r} does not exist under the index root")
        spaces = list(dict.fromkeys(request.spaces)) or None

        out: queue.Queue[Any] = queue.Queue()
        counts = {"indexed": 0, "unchanged": 0, "failed": 0}
        state = {"total": 0}
        reported: set[str] = set()

        def progress(current: str = "", failures: list[tuple[str, str]] | None = None,
                     final: bool = False) -> indexing_pb2.IndexProgress:
            return conv.index_progress(
                done=sum(counts.values()), total=state["total"], current_path=current,
                failures=failures or (), is_final=final, **counts,
            )

        def on_total(total: int) -> None:
            state["total"] = total
            out.put(progress())

        def on_event(event: IndexEvent) -> None:
            self._metrics.observe_item(event.status)
            counts[event.status] = counts.get(event.status, 0) + 1
            path = _relative(root, event.item.label)
            failures = []
            if event.status == "failed":
                reported.add(event.item.label)
                failures.append((path, event.reason))
            out.put(progress(path, failures))

        def work() -> None:
            report = self._engine.index_paths(
                request.collection, [target], recursive=request.recursive, spaces=spaces,
                on_event=on_event, on_total=on_total, confine_to=root,
            )
            # Problems found while walking (links or manifests leading out of the root,
            # unreadable manifests, ...) are not events.
            late = [(_relative(root, s), r) for s, r in report.failed if s not in reported]
            counts.update(indexed=report.indexed, unchanged=report.unchanged,
                          failed=len(report.failed))
            out.put(progress(failures=late, final=True))

        thread = run_in_thread(work, out, context, "index-path")
        yield from relay(out)
        thread.join()

    # -- DeleteItems ---------------------------------------------------------------------------
    @rpc_method
    def DeleteItems(
        self, request: indexing_pb2.DeleteItemsRequest, context: grpc.ServicerContext
    ) -> indexing_pb2.DeleteItemsResponse:
        if not request.ids and not request.source_uris:
            raise InvalidInputError("give ids and/or source_uris of the items to delete")
        deleted = self._engine.delete_items(
            request.collection, list(request.ids), list(request.source_uris)
        )
        return indexing_pb2.DeleteItemsResponse(deleted=deleted)
