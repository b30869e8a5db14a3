"""uvicorn on a thread of the gRPC server's process, with the gRPC server's TLS settings.

The socket is bound here (port 0 picks a free port, returned before serving starts), then
uvicorn serves it on its own event loop; ``stop()`` lets in-flight requests finish within the
grace period. With ``server.tls_client_ca`` clients must present a certificate (mutual TLS), as
over gRPC.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from typing import Any

from omnivec.indexer.config import ServerSettings
from omnivec.indexer.errors import ConfigError

__all__ = ["HttpServer"]

log = logging.getLogger("omnivec.server")


class HttpServer:
    def __init__(self, app: Any, settings: ServerSettings, *, host: str, port: int) -> None:
        import uvicorn

        self.app = app
        self.settings = settings
        self.tls = settings.tls_cert is not None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise ConfigError(f"cannot listen for HTTP on {host}:{port}: {exc.strerror or exc}; is the port in use?") from exc
        self._socket.listen(128)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        tls: dict[str, Any] = {}
        if self.tls:
            tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
            if settings.tls_client_ca is not None:
                tls.update(ssl_ca_certs=str(settings.tls_client_ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=max(1, int(settings.grace_seconds)), **tls,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self._server.started:
            raise ConfigError("the HTTP server did not start; see the log above")
        log.info("omnivec HTTP on %s (web app and /api; docs at %sdocs)", self.url, self.url)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=self.settings.grace_seconds + 5)
        self._socket.close()
