"""Starting a real omnivec server with its HTTP edge for tests (port 0, the shared models)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def server_settings(base: Any, data_dir: Path, **server: Any) -> Any:
    from omnivec.indexer.config import ServerSettings

    return base.model_copy(update={
        "data_dir": data_dir,
        "server": ServerSettings(host="127.0.0.1", port=0, http_port=0, **server),
    })


@contextlib.contextmanager
def running_server(settings: Any, models: Any, engine: Any = None) -> Iterator[Any]:
    """A started gRPC + HTTP server over ``models`` (no batching: the hub is shared with other
    tests, and the server would install its batching wrapper on it)."""
    from omnivec.indexer.engine import Engine
    from omnivec.server.app import create_server

    own = engine is None
    engine = engine or Engine(settings, models)
    server, _ = create_server(settings, engine, address="127.0.0.1:0", batching=False)
    server.start(warm=False)
    try:
        yield server
    finally:
        server.stop(grace=1)
        if own:
            engine.store.close()
