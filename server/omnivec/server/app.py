"""The gRPC server: assembly, start-up, health, reflection, TLS and graceful shutdown.

    server, port = create_server(settings)     # binds (port 0 picks a free one)
    server.start()                             # serves; models warm up in the background
    ...
    server.stop()                              # health NOT_SERVING, in-flight calls finish
                                               # within grace_seconds, engine flushed and closed

Health (``grpc.health.v1``) answers NOT_SERVING until the text path is warm (the text encoder
loaded, the ANN indexes opened), then SERVING for the whole server ("") and for each service;
NOT_SERVING again as soon as shutdown starts. CLIP and Whisper then load in parallel and report
under ``omnivec.encoder.<name>`` (see :mod:`omnivec.server.warm_up`).
Reflection lists every omnivec service, health and reflection itself. ``serve()`` is what
``omnivec serve`` runs: it blocks until SIGTERM or SIGINT, then shuts down gracefully.
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import TYPE_CHECKING, Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from omnivec.indexer.config import ServerSettings, Settings
from omnivec.indexer.engine import Engine
from omnivec.indexer.errors import ConfigError
from omnivec.server.announce import SERVING, WEB_APP
from omnivec.server.auth import BearerTokenInterceptor, load_tokens
from omnivec.server.batching import BatchingEncoder, BatchingPolicy, make_wrapper
from omnivec.server.interceptors import MalformedRequestInterceptor, RequestLogInterceptor
from omnivec.server.limits import server_options
from omnivec.server.log_queue import log_off_the_request_path
from omnivec.server.memory_release import MemoryRelease
from omnivec.server.metrics import ServerMetrics
from omnivec.server.servicers import ServerDeps
from omnivec.server.servicers.classify import ClassifyServicer
from omnivec.server.servicers.collections import CollectionServicer
from omnivec.server.servicers.embed import EmbedServicer
from omnivec.server.servicers.indexing import IndexingServicer
from omnivec.server.servicers.probes import ProbeServicer
from omnivec.server.servicers.search import SearchServicer
from omnivec.server.verify_schedule import VerifySchedule
from omnivec.server.warm_up import WarmUp, encoder_health_names
from omnivec.v1 import (
    classify_pb2,
    classify_pb2_grpc,
    collections_pb2,
    collections_pb2_grpc,
    embed_pb2,
    embed_pb2_grpc,
    indexing_pb2,
    indexing_pb2_grpc,
    probes_pb2,
    probes_pb2_grpc,
    search_pb2,
    search_pb2_grpc,
)

if TYPE_CHECKING:  # FastAPI and uvicorn load only when HTTP is on (cold start of gRPC alone)
    from omnivec.server.http.runner import HttpServer

__all__ = ["OMNIVEC_SERVICES", "OmnivecServer", "create_server", "serve"]

log = logging.getLogger("omnivec.server")

# How long a stopping server waits for encoders still loading (a cold CLIP or Whisper load takes
# a few seconds; a model read from a slow disk, longer).
WARM_UP_STOP_WAIT_S = 120.0

OMNIVEC_SERVICES: tuple[str, ...] = tuple(
    module.DESCRIPTOR.services_by_name[name].full_name
    for module, name in (
        (collections_pb2, "CollectionService"),
        (indexing_pb2, "IndexingService"),
        (search_pb2, "SearchService"),
        (embed_pb2, "EmbedService"),
        (classify_pb2, "ClassifyService"),
        (probes_pb2, "ProbeService"),
    )
)
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


def _read(path: Any, what: str) -> bytes:
    try:
        data: bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"server.{what} {path} cannot be read: {exc.strerror or exc}") from exc
    return data


def server_credentials(settings: ServerSettings) -> grpc.ServerCredentials | None:
    """TLS credentials from settings; with ``tls_client_ca`` clients must present a certificate
    signed by that CA (mutual TLS). None means plaintext."""
    if settings.tls_cert is None and settings.tls_key is None:
        if settings.tls_client_ca is not None:
            raise ConfigError("server.tls_client_ca (mutual TLS) needs tls_cert and tls_key too")
        return None
    if settings.tls_cert is None or settings.tls_key is None:
        raise ConfigError("TLS needs both server.tls_cert and server.tls_key")
    cert, key = _read(settings.tls_cert, "tls_cert"), _read(settings.tls_key, "tls_key")
    client_ca = (
        _read(settings.tls_client_ca, "tls_client_ca") if settings.tls_client_ca else None
    )
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def _format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


class OmnivecServer:
    """A bound gRPC server with its engine, health state and metrics."""

    def __init__(
        self,
        grpc_server: grpc.Server,
        *,
        port: int,
        host: str,
        engine: Engine,
        settings: ServerSettings,
        health_servicer: health.HealthServicer,
        metrics: ServerMetrics,
        owns_engine: bool,
        batchers: list[BatchingEncoder],
        auth_enabled: bool,
        tls_enabled: bool,
        http: HttpServer | None = None,
    ) -> None:
        self.grpc_server = grpc_server
        self.port = port
        self.host = host
        self.engine = engine
        self.settings = settings
        self.health = health_servicer
        self.metrics = metrics
        self.auth_enabled = auth_enabled
        self.tls_enabled = tls_enabled
        self.http = http
        self._owns_engine = owns_engine
        self._batchers = batchers
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self.metrics_port: int | None = None
        self.verify_schedule: VerifySchedule | None = None
        self.memory_release = MemoryRelease(settings.memory_trim_seconds)
        self.warm_up: WarmUp | None = None  # set by start(warm=True): readiness per encoder

    @property
    def address(self) -> str:
        return _format_address(self.host, self.port)

    def _set_health(self, status: int) -> None:
        for service in ("", *OMNIVEC_SERVICES):
            self.health.set(service, status)

    @property
    def http_url(self) -> str | None:
        """The web app's address (``http://HOST:PORT/``) when HTTP is on."""
        return self.http.url if self.http is not None else None

    def start(self, *, warm: bool = True) -> None:
        self.grpc_server.start()
        if self.http is not None:
            self.http.start()
        if self.settings.metrics_port is not None:
            self.metrics_port = self.metrics.serve_http(self.host, self.settings.metrics_port)
        log.info(
            "omnivec gRPC on %s (%s, auth %s)", self.address,
            "TLS" if self.tls_enabled else "plaintext", "on" if self.auth_enabled else "off",
        )
        if self.settings.verify_interval is not None:
            self.verify_schedule = VerifySchedule(self.engine, self.settings.verify_interval)
            self.verify_schedule.start()
        self.memory_release.start()
        if warm:
            self.warm_up = WarmUp(self.engine, self.health.set, self._stopped)
            self.warm_up.start(self._mark_ready)
        else:
            self._mark_ready()

    def _mark_ready(self) -> None:
        if self._stopped.is_set():
            return
        self._set_health(health_pb2.HealthCheckResponse.SERVING)
        self._ready.set()
        loading = [] if self.warm_up is None else [
            s.name for s in self.warm_up.states().values() if s.state in ("pending", "loading")
        ]
        log.info("ready: health SERVING%s",
                 f" (still loading: {', '.join(loading)})" if loading else "")

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def stop(self, grace: float | None = None) -> None:
        """Graceful shutdown: NOT_SERVING, refuse new calls, let in-flight calls finish within
        ``grace`` seconds (default ``server.grace_seconds``), then flush and close the engine
        (only when this server created it)."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            self._stopped.set()
        grace = self.settings.grace_seconds if grace is None else grace
        log.info("shutting down: health NOT_SERVING, %.1f s grace for in-flight calls", grace)
        self.health.enter_graceful_shutdown()
        if self.http is not None:
            self.http.stop()  # in-flight HTTP requests finish within the same grace
        self.grpc_server.stop(grace).wait()
        if self.warm_up is not None:
            still = self.warm_up.wait(0.0)
            if still:
                log.info("waiting for the loading in progress to end (%s)", ", ".join(still))
                still = self.warm_up.wait(WARM_UP_STOP_WAIT_S)
            if still:
                log.warning("still loading after %.0f s (%s); stopping anyway",
                            WARM_UP_STOP_WAIT_S, ", ".join(still))
        if self.verify_schedule is not None:
            self.verify_schedule.stop()
        self.memory_release.stop()
        for batcher in self._batchers:
            batcher.stop_batching()
        self.metrics.close()
        if self._owns_engine:
            self.engine.close()  # flushes the ANN indexes
        log.info("stopped")

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        return bool(self.grpc_server.wait_for_termination(timeout))


def create_server(
    settings: Settings,
    engine: Engine | None = None,
    *,
    address: str | None = None,
    batching: bool = True,
    metrics: ServerMetrics | None = None,
) -> tuple[OmnivecServer, int]:
    """Builds and binds a server (not started). ``settings.server`` configures the edge; the
    engine defaults to ``Engine(settings)`` and is then closed by ``stop()``. ``address``
    overrides ``host:port`` (port 0 binds a free port, returned)."""
    server_settings = settings.server
    owns_engine = engine is None
    engine = engine or Engine(settings)
    metrics = metrics or ServerMetrics()
    tokens = load_tokens(server_settings)
    credentials = server_credentials(server_settings)

    batchers: list[BatchingEncoder] = []
    if batching:
        hook = getattr(engine.models, "set_embedder_wrapper", None)
        if hook is None:
            log.warning("dynamic batching off: this engine's ModelHub has no set_embedder_wrapper")
        else:
            policy = BatchingPolicy(server_settings.max_batch_size, server_settings.batch_wait_ms)
            hook(make_wrapper(policy, metrics.observe_batch, batchers))

    interceptors: list[grpc.ServerInterceptor] = [RequestLogInterceptor(metrics)]
    if tokens:
        interceptors.append(BearerTokenInterceptor(tokens))
    interceptors.append(MalformedRequestInterceptor())  # last: see its docstring
    grpc_server = grpc.server(
        ThreadPoolExecutor(
            max_workers=server_settings.max_concurrent_rpcs, thread_name_prefix="rpc"
        ),
        interceptors=interceptors,
        options=server_options(server_settings),
        maximum_concurrent_rpcs=server_settings.max_concurrent_rpcs,
    )
    deps = ServerDeps(engine=engine, settings=server_settings, metrics=metrics)
    registrations: list[tuple[Any, Any]] = [
        (collections_pb2_grpc.add_CollectionServiceServicer_to_server, CollectionServicer),
        (indexing_pb2_grpc.add_IndexingServiceServicer_to_server, IndexingServicer),
        (search_pb2_grpc.add_SearchServiceServicer_to_server, SearchServicer),
        (embed_pb2_grpc.add_EmbedServiceServicer_to_server, EmbedServicer),
        (classify_pb2_grpc.add_ClassifyServiceServicer_to_server, ClassifyServicer),
        (probes_pb2_grpc.add_ProbeServiceServicer_to_server, ProbeServicer),
    ]
    for add_to_server, servicer_class in registrations:
        add_to_server(servicer_class(deps), grpc_server)

    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, grpc_server)
    for service in ("", *OMNIVEC_SERVICES, *encoder_health_names()):
        health_servicer.set(service, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection(
        (*OMNIVEC_SERVICES, HEALTH_SERVICE, reflection.SERVICE_NAME), grpc_server
    )

    target = address or _format_address(server_settings.host, server_settings.port)
    try:
        port = (
            grpc_server.add_secure_port(target, credentials)
            if credentials is not None
            else grpc_server.add_insecure_port(target)
        )
    except RuntimeError as exc:
        raise ConfigError(f"cannot listen on {target}: {exc}; is the port in use?") from exc
    if port == 0:
        raise ConfigError(f"cannot listen on {target}; is the port in use?")
    host = target.rsplit(":", 1)[0].strip("[]")
    http = None
    if server_settings.http_port is not None:
        from omnivec.server.http import HttpServer, create_http_app

        http = HttpServer(
            create_http_app(deps, tokens), server_settings, host=host,
            port=server_settings.http_port,
        )
    server = OmnivecServer(
        grpc_server, port=port, host=host, engine=engine, settings=server_settings,
        health_servicer=health_servicer, metrics=metrics, owns_engine=owns_engine,
        batchers=batchers, auth_enabled=bool(tokens), tls_enabled=credentials is not None,
        http=http,
    )
    return server, port


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
    elif root.level > logging.INFO:
        logging.getLogger("omnivec").setLevel(logging.INFO)


def serve(settings: Settings, *, announce: Callable[[str], None] | None = None) -> int:
    """Runs a server until SIGTERM or SIGINT, then shuts it down gracefully; returns the exit
    status. ``announce`` gets ``omnivec serving on HOST:PORT`` once the port is bound (stdout
    by default), which tells scripts the real port when 0 was asked for."""
    _configure_logging()
    dumps_stacks = _dump_stacks_on_sigusr1()
    queued_logs = log_off_the_request_path()
    try:
        return _serve(settings, announce)
    finally:
        if queued_logs is not None:
            queued_logs.stop()
        if dumps_stacks:
            faulthandler.unregister(signal.SIGUSR1)


def _dump_stacks_on_sigusr1() -> bool:
    """`kill -USR1 <pid>` prints every thread's stack to stderr and the server goes on: the one
    way to see where a server that stopped answering, or an encoder that never finished loading,
    is stuck, on a machine without py-spy or gdb. False where stderr is no file (captured)."""
    try:
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    except (AttributeError, ValueError, OSError):
        return False
    return True


def _serve(settings: Settings, announce: Callable[[str], None] | None) -> int:
    server, _port = create_server(settings)
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop_requested.is_set():
            log.warning("%s again: already shutting down", signal.Signals(signum).name)
            return
        log.info("%s received", signal.Signals(signum).name)
        stop_requested.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        lines = [f"{SERVING} {server.address}"]
        if server.http_url is not None:
            lines.append(f"{WEB_APP} {server.http_url}")
        for line in lines:
            if announce is None:
                # One write per line: print() writes the text and its newline separately, and
                # with PYTHONUNBUFFERED set a log line from another thread landed in between
                # ("serving on 127.0.0.1:4065INFO ..."), which scripts read as the address.
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            else:
                announce(line)
        while not stop_requested.wait(0.5):
            pass
        server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
