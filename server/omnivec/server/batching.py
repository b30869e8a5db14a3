"""Dynamic batching of concurrent encoder calls.

Queries that arrive together each want one small forward pass (one text, one image). A
:class:`BatchingEncoder` wraps an encoder: small calls are queued, and one worker thread per
encoder and input kind takes the first waiting call, gathers more until ``max_batch_size`` inputs
or ``batch_wait_ms`` have passed, runs ONE forward pass and hands each caller its rows. Under load
the wait costs nothing (the next batch gathers while the current one runs). A call that finds no
other call in flight and the worker idle runs at once on its own thread: there is nothing to batch
it with, and the wait plus two thread hand-offs were ~5 ms of a ~20 ms query (bench fig2).

Large calls (ingest batches, Embed with many inputs) already fill a pass and go straight to the
encoder. Images are decoded and preprocessed on the caller's thread (in parallel across calls);
only the preprocessed tensors are batched. If a batched pass fails, each call is rerun alone, so
one bad input fails only its own call. A call whose RPC is cancelled or past its deadline leaves
the queue without being computed.

Installed through ``ModelHub.set_embedder_wrapper``; batch sizes go to the
``omnivec_encoder_batch_size`` histogram.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omnivec.indexer.encoders.base import require_list
from omnivec.server.limits import (
    CallCancelledError,
    CallDeadlineError,
    check_call_active,
    current_context,
)

__all__ = ["BatchingEncoder", "BatchingPolicy", "DynamicBatcher", "make_wrapper"]

log = logging.getLogger("omnivec.server.batching")

# How often a waiting caller checks whether its RPC is still wanted.
_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class BatchingPolicy:
    max_batch_size: int = 64
    wait_ms: float = 2.0


@dataclass
class _Request:
    inputs: list[Any]
    context: Any
    future: Future[np.ndarray] = field(default_factory=Future)


class DynamicBatcher:
    """Gathers concurrent calls of ``run`` (a list of inputs -> an (n, dim) array) into batches."""

    def __init__(
        self,
        name: str,
        run: Callable[[list[Any]], np.ndarray],
        policy: BatchingPolicy,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        self.name = name
        self._run = run
        self._policy = policy
        self._observe = observe or (lambda size: None)
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._carry: _Request | None = None
        self._closed = False
        # Callers inside submit() and whether the worker is running a batch: a call that finds
        # neither runs at once on its own thread (nothing to batch with, so no wait, no hand-off).
        self._state = threading.Lock()
        self._inflight = 0
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    # -- caller side ---------------------------------------------------------------------------
    def submit(self, inputs: Sequence[Any]) -> np.ndarray:
        """The rows for ``inputs``, computed in a shared batch; blocks until they are ready."""
        if self._closed:
            return self._direct(list(inputs))
        with self._state:
            alone = self._inflight == 0 and not self._busy and self._carry is None
            self._inflight += 1
        try:
            if alone and self._queue.empty():
                context = current_context()
                if context is not None:
                    check_call_active(context)  # a cancelled or expired RPC is not computed
                return self._direct(list(inputs))
            return self._queued(list(inputs))
        finally:
            with self._state:
                self._inflight -= 1

    def _queued(self, inputs: list[Any]) -> np.ndarray:
        context = current_context()
        request = _Request(inputs, context)
        self._queue.put(request)
        while True:
            try:
                return request.future.result(timeout=_POLL_SECONDS)
            except FutureTimeout:
                if self._closed and request.future.cancel():
                    return self._direct(request.inputs)
                if context is not None:
                    try:
                        check_call_active(context)
                    except (CallCancelledError, CallDeadlineError):
                        request.future.cancel()  # skipped by the worker if not yet running
                        raise

    def _direct(self, inputs: list[Any]) -> np.ndarray:
        result = self._run(inputs)
        self._observe(len(inputs))
        return result

    # -- worker side ---------------------------------------------------------------------------
    def _next(self, timeout: float | None) -> _Request | None:
        if self._carry is not None:
            request, self._carry = self._carry, None
            return request
        if timeout is None:
            return self._queue.get()
        if timeout <= 0:
            return self._queue.get_nowait()
        return self._queue.get(timeout=timeout)

    def _gather(self, first: _Request) -> list[_Request]:
        batch = [first]
        size = len(first.inputs)
        deadline = time.monotonic() + self._policy.wait_ms / 1000.0
        while size < self._policy.max_batch_size:
            try:
                request = self._next(deadline - time.monotonic())
            except queue.Empty:
                break
            if request is None:  # close() while gathering: run what we have, then stop
                self._queue.put(None)
                break
            if size + len(request.inputs) > self._policy.max_batch_size:
                self._carry = request
                break
            batch.append(request)
            size += len(request.inputs)
        return batch

    def _loop(self) -> None:
        while True:
            first = self._next(None)
            if first is None:
                return
            with self._state:
                self._busy = True
            try:
                batch = [
                    r for r in self._gather(first) if r.future.set_running_or_notify_cancel()
                ]
                if batch:
                    self._execute(batch)
            finally:
                with self._state:
                    self._busy = False

    def _execute(self, batch: list[_Request]) -> None:
        inputs = [x for r in batch for x in r.inputs]
        try:
            rows = self._run(inputs)
        except BaseException as exc:  # noqa: BLE001 - handed to the callers
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            # One bad input must not fail its neighbours: rerun each call on its own.
            for request in batch:
                try:
                    request.future.set_result(self._direct(request.inputs))
                except BaseException as single:  # noqa: BLE001
                    request.future.set_exception(single)
            return
        self._observe(len(inputs))
        start = 0
        for request in batch:
            end = start + len(request.inputs)
            request.future.set_result(rows[start:end])
            start = end

    def close(self) -> None:
        """Stops the worker; later and still-queued calls run directly on their own threads."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=5)
        while True:  # anything left behind is cancelled; its caller runs it directly
            try:
                leftover = self._queue.get_nowait()
            except queue.Empty:
                break
            if leftover is not None:
                leftover.future.cancel()
        if self._carry is not None:
            self._carry.future.cancel()
            self._carry = None


class BatchingEncoder:
    """An encoder with the same surface as the one it wraps (``encode_texts``,
    ``encode_images``, ``encode_image_tensors``, ``load_image_tensor``, ``spec``, ``dim``,
    ``batch_size``, ...), whose small calls are batched with concurrent ones."""

    def __init__(
        self,
        inner: Any,
        policy: BatchingPolicy,
        observe: Callable[[str, str, int], None] | None = None,
    ) -> None:
        self._inner = inner
        self._policy = policy
        space = str(getattr(getattr(inner, "spec", None), "encoder", type(inner).__name__))
        self.encoder_name = space

        def observer(kind: str) -> Callable[[int], None]:
            return lambda size: observe(space, kind, size) if observe is not None else None

        self._texts = DynamicBatcher(f"{space}-texts", inner.encode_texts, policy, observer("texts"))
        self._images: DynamicBatcher | None = None
        if hasattr(inner, "encode_image_tensors"):
            self._images = DynamicBatcher(
                f"{space}-images", inner.encode_image_tensors, policy, observer("images")
            )

    @property
    def inner(self) -> Any:
        return self._inner

    @property
    def spec(self) -> Any:
        return self._inner.spec

    @property
    def dim(self) -> int:
        return int(self._inner.dim)

    @property
    def batch_size(self) -> int:
        return int(self._inner.batch_size)

    def __getattr__(self, name: str) -> Any:
        # Anything not batched (preprocess, max_seq_length, space, ...) is the inner encoder's.
        return getattr(self._inner, name)

    def _small(self, inputs: Sequence[Any]) -> bool:
        return 0 < len(inputs) < self._policy.max_batch_size

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        texts = require_list(texts, "texts")
        check_call_active()
        if not self._small(texts) or not all(isinstance(t, str) for t in texts):
            return np.asarray(self._inner.encode_texts(texts))
        return self._texts.submit(list(texts))

    def load_image_tensor(self, source: Any, *, name: str | None = None) -> Any:
        return self._inner.load_image_tensor(source, name=name)

    def encode_image_tensors(self, tensors: Sequence[Any]) -> np.ndarray:
        check_call_active()
        if self._images is None or not self._small(tensors):
            return np.asarray(self._inner.encode_image_tensors(tensors))
        return self._images.submit(list(tensors))

    def encode_images(self, sources: Sequence[Any]) -> np.ndarray:
        sources = require_list(sources, "images")
        check_call_active()
        if self._images is None or not self._small(sources):
            return np.asarray(self._inner.encode_images(sources))
        tensors = [self._inner.load_image_tensor(s) for s in sources]  # MediaError names the input
        return self.encode_image_tensors(tensors)

    def stop_batching(self) -> None:
        """Stops the worker threads; calls then go straight to the inner encoder."""
        self._texts.close()
        if self._images is not None:
            self._images.close()

    def close(self) -> None:
        self.stop_batching()
        self._inner.close()


def make_wrapper(
    policy: BatchingPolicy,
    observe: Callable[[str, str, int], None] | None = None,
    created: list[BatchingEncoder] | None = None,
) -> Callable[[Any], Any]:
    """The function given to ``ModelHub.set_embedder_wrapper``: wraps each embedding encoder
    once; ``created`` collects the wrappers so that the server can stop them at shutdown."""

    def wrap(encoder: Any) -> Any:
        if isinstance(encoder, BatchingEncoder):
            return encoder
        wrapped = BatchingEncoder(encoder, policy, observe)
        if created is not None:
            created.append(wrapped)
        log.info(
            "dynamic batching on for %s (max %d inputs, wait %.1f ms)",
            wrapped.encoder_name, policy.max_batch_size, policy.wait_ms,
        )
        return wrapped

    return wrap
