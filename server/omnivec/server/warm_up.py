"""Server start-up: the text path first, then the other encoders in parallel; readiness per encoder.

Each enabled encoder whose weights are on this machine loads on a thread of its own: the text
encoder at once, beside one thread that opens every collection and loads the ANN index of each of
its spaces (so the first search finds them warm); CLIP and Whisper together once that *text path*
is warm: the text encoder loaded and the ANN indexes opened. Health ``""`` (and each omnivec
service) goes SERVING then. CLIP and Whisper, which most queries do not need and which take most
of the start-up (torch + open_clip, CTranslate2), load after it.

Readiness per encoder is visible in three places: the gRPC health service under
``omnivec.encoder.<name>`` (NOT_SERVING while loading, disabled or unavailable; SERVING once
loaded), :meth:`WarmUp.states`, and the server log (``encoder clip: loaded (2.1 s)``). A call
that needs an encoder still loading waits for it rather than failing: ``ModelHub.get`` holds
that encoder's lock while the warm-up thread loads it, and hands the loaded model to every waiter.

Without a text encoder (``text.enabled = false`` or its weights missing) there is no text path
to wait for, and SERVING waits for every encoder, as before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from grpc_health.v1 import health_pb2

from omnivec.indexer.encoders import EncoderEntry, entries
from omnivec.indexer.engine import Engine
from omnivec.indexer.errors import OmnivecError

__all__ = ["ENCODER_HEALTH_PREFIX", "EncoderState", "WarmUp", "encoder_health_names"]

log = logging.getLogger("omnivec.server")

ENCODER_HEALTH_PREFIX = "omnivec.encoder."
TEXT_PATH_ENCODER = "text"  # the encoder a text query needs (the registry's "text" space)

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def encoder_health_names() -> list[str]:
    """The health service names of the registered encoders: ``omnivec.encoder.<name>``."""
    return [ENCODER_HEALTH_PREFIX + entry.name for entry in entries()]


@dataclass(frozen=True)
class EncoderState:
    """Where one encoder stands: ``pending``, ``loading``, ``ready``, ``disabled``,
    ``not-local`` (weights not on this machine) or ``failed``; ``seconds`` its load time."""

    name: str
    state: str
    seconds: float | None = None
    detail: str = ""


class WarmUp:
    """Loads the encoders and opens the ANN indexes on background threads (see module doc)."""

    def __init__(
        self,
        engine: Engine,
        set_health: Callable[[str, int], None],
        stopped: threading.Event,
    ) -> None:
        self._engine = engine
        self._set_health = set_health
        self._stopped = stopped
        self._lock = threading.Lock()
        self._states: dict[str, EncoderState] = {
            e.name: EncoderState(e.name, "pending") for e in entries()
        }
        self.collections_warm = threading.Event()
        self._threads: list[threading.Thread] = []  # every thread started, for wait()

    def states(self) -> dict[str, EncoderState]:
        with self._lock:
            return dict(self._states)

    def _record(self, state: EncoderState) -> None:
        with self._lock:
            self._states[state.name] = state
        self._set_health(
            ENCODER_HEALTH_PREFIX + state.name, SERVING if state.state == "ready" else NOT_SERVING
        )

    def start(self, on_text_path_warm: Callable[[], None]) -> threading.Thread:
        """Starts the loaders; ``on_text_path_warm`` runs once the text path is warm (see the
        module doc). Returns the thread that waits for it."""
        settings = self._engine.settings
        self._engine.models.add_load_listener(self._loaded_by_a_call)
        loaders: dict[str, threading.Thread] = {}
        for entry in entries():
            if not entry.enabled(settings):
                log.info("encoder %s: disabled", entry.name)
                self._record(EncoderState(entry.name, "disabled"))
                continue
            loaders[entry.name] = threading.Thread(
                target=self._load, args=(entry,), name=f"warm-{entry.name}", daemon=True
            )
        # The text encoder first, the others once it is loaded. Loading is mostly importing and
        # unpickling, which holds the GIL: on an idle 2-core machine, CLIP's torch import beside
        # the text encoder put the first text query at 7.1 s, started after it at 6.4-6.8 s.
        # Whoever calls CLIP or Whisper earlier loads it on the spot (ModelHub.get).
        text = loaders.pop(TEXT_PATH_ENCODER, None)
        if text is not None:
            self._start(text)
        ann = threading.Thread(target=self._warm_collections, name="warm-ann", daemon=True)
        self._start(ann)

        def wait_then_report() -> None:
            if text is not None:
                text.join()
            text_ready = self.states()[TEXT_PATH_ENCODER].state == "ready"
            if not text_ready:  # no text path: every encoder loads now, and SERVING waits for all
                for thread in loaders.values():
                    self._start(thread)
                for thread in loaders.values():
                    thread.join()
            # The ANN warm-up (importing lancedb, opening each table) is the text path's longer
            # half: CLIP and Whisper started beside it made it 4.0 s instead of 2.1-2.3 s (idle).
            ann.join()
            if not self._stopped.is_set():
                on_text_path_warm()
            if text_ready and not self._stopped.is_set():  # a server stopping loads no more
                for thread in loaders.values():
                    self._start(thread)

        waiter = threading.Thread(target=wait_then_report, name="warm-up", daemon=True)
        self._start(waiter)
        return waiter

    def _start(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` seconds for the loading in progress to end; returns the names
        of the threads still running. A server stopped while an encoder loads must wait for it:
        the process cannot exit while a thread is inside native model-loading code (ONNX
        Runtime, CTranslate2, torch), or the C++ runtime aborts it ("terminate called without
        an active exception", seen on SIGTERM one second after start)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                running = [t for t in self._threads if t.is_alive()]
            if not running:
                return []
            left = deadline - time.monotonic()
            if left <= 0:
                return [t.name for t in running]
            running[0].join(min(left, 0.5))

    def _load(self, entry: EncoderEntry) -> None:
        name = entry.name
        if self._stopped.is_set():
            return
        self._record(EncoderState(name, "loading"))
        started = time.perf_counter()
        # Described here, on the encoder's own thread: describing CLIP imports open_clip (and
        # torch), which must not hold up the text encoder.
        info = entry.describe_weights(self._engine.settings)
        weights = "available" if info.available_offline else "NOT available offline"
        log.info("encoder %s: %s, weights from %s (%s)", name, info.model, info.source, weights)
        if not info.available_offline:
            # Start-up never downloads: a call that needs this encoder loads (or downloads,
            # where allowed) it then, or answers FAILED_PRECONDITION with the remedy.
            log.warning(
                "encoder %s: weights not on this machine; `omnivec models pull` fetches them, "
                "or set clip.checkpoint", name,
            )
            self._record(EncoderState(name, "not-local", detail=info.note))
            return
        try:
            self._engine.models.get(name)
        except OmnivecError as exc:
            # Serve what works; calls that need this encoder get FAILED_PRECONDITION.
            log.warning("encoder %s: unavailable: %s", name, exc)
            self._record(EncoderState(name, "failed", detail=str(exc)))
            return
        except Exception as exc:  # noqa: BLE001 - a broken model must not keep the server down
            log.exception("encoder %s: failed to load", name)
            self._record(EncoderState(name, "failed", detail=f"{type(exc).__name__}: {exc}"))
            return
        seconds = time.perf_counter() - started
        self._record(EncoderState(name, "ready", round(seconds, 2)))
        log.info("encoder %s: loaded (%.1f s)", name, seconds)

    def _loaded_by_a_call(self, name: str) -> None:
        """An encoder that start-up left ``not-local`` or ``failed`` and a call has now loaded
        (its weights copied in since, say) serves from now on; health says so."""
        if self._stopped.is_set():  # a stopped server's hub may serve on (tests share one)
            return
        with self._lock:
            state = self._states.get(name)
        if state is not None and state.state in ("not-local", "failed"):
            log.info("encoder %s: loaded by a call (was %s)", name, state.state)
            self._record(EncoderState(name, "ready", detail=f"loaded by a call (was {state.state})"))

    def _warm_collections(self) -> None:
        """Opens every collection and loads each space's ANN index (caught up or rebuilt as at
        any open), so the first search pays for neither."""
        root = self._engine.store.root
        consistency = root.read_consistency_seconds
        log.info("data: %s (other writers' commits seen %s)", root.uri,
                 "never: one writer" if consistency is None else f"within {consistency:g} s")
        try:
            names = self._engine.list_collections()
        except OmnivecError as exc:
            log.warning("cannot list collections: %s", exc)
            self.collections_warm.set()
            return
        log.info("collections (%d): %s", len(names), ", ".join(names) or "none")
        started = time.perf_counter()
        for name in names:
            if self._stopped.is_set():
                break
            try:
                status = self._engine.collection(name).ann_status()
            except OmnivecError as exc:  # a damaged collection is reported on use, not here
                log.warning("collection %s: not warmed: %s", name, exc)
                continue
            except Exception:  # noqa: BLE001 - warming is an optimisation; serving goes on
                log.exception("collection %s: not warmed", name)
                continue
            log.info("collection %s: ANN warm (%s)", name, ", ".join(
                f"{space} {s.index_kind} {s.vectors}" for space, s in sorted(status.items())))
        log.info("ANN indexes warm (%d collections, %.1f s)", len(names),
                 time.perf_counter() - started)
        self.collections_warm.set()
