"""The API's routes, one module per area, each an ``APIRouter`` mounted under ``/api``.

Routes are plain (sync) functions: FastAPI runs them on its worker threads, where the engine's
blocking calls belong, and the dynamic batching of the encoders merges them with gRPC calls.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request

from omnivec.indexer.engine import Engine
from omnivec.server.servicers import ServerDeps

__all__ = ["deps", "engine", "index_root"]


def deps(request: Request) -> ServerDeps:
    server_deps: ServerDeps = request.app.state.deps
    return server_deps


def engine(request: Request) -> Engine:
    return deps(request).engine


def index_root(request: Request) -> Path | None:
    return deps(request).settings.index_root
