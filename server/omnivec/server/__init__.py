"""The gRPC edge of omnivec: a thin translation layer over :class:`omnivec.indexer.engine.Engine`.

Modules: ``app`` (create_server, serve, health, reflection, TLS, shutdown), ``servicers`` (one per
service), ``conversions`` (proto <-> engine types), ``status`` (errors -> status codes),
``auth`` (bearer tokens), ``limits`` (sizes, counts, deadlines), ``batching`` (dynamic batching of
encoder calls), ``interceptors`` (request logs and metrics), ``metrics`` (Prometheus),
``memory_release`` (freed memory back to the operating system).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["OmnivecServer", "create_server", "serve"]

if TYPE_CHECKING:
    from omnivec.server.app import OmnivecServer, create_server, serve


def __getattr__(name: str) -> Any:
    # Lazy: importing the package (e.g. for status codes) does not pull in grpc servers and torch.
    if name in __all__:
        from omnivec.server import app

        return getattr(app, name)
    raise AttributeError(name)
