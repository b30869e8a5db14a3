"""The FastAPI application: the API routes under ``/api``, the web app at ``/`` and its static
files under ``/static``, the OpenAPI document at ``/openapi.json`` and its browsable docs at
``/docs``, all served from files inside the package (no CDN: it works offline)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from omnivec.server.auth import TokenChecker
from omnivec.server.http.edge import EdgeMiddleware
from omnivec.server.http.errors import ErrorBody, install_error_handlers
from omnivec.server.http.routes import classify, collections, items, probes, search
from omnivec.server.servicers import ServerDeps

__all__ = ["STATIC_DIR", "create_http_app"]

STATIC_DIR = Path(__file__).parent / "static"

_DESCRIPTION = """\
omnivec's HTTP/JSON API: the same engine, models, bearer tokens, TLS and limits as its gRPC API,
and the same error meanings (every error is `{"error": {"code", "status", "message"}}`, where
`status` is the gRPC status name). Images and audio are uploaded as multipart/form-data.
"""


def _docs_assets() -> Path | None:
    """Swagger UI's files as shipped by the fastapi-offline package (None when absent)."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def create_http_app(deps: ServerDeps, tokens: Sequence[str] = ()) -> FastAPI:
    """The app over ``deps`` (the gRPC servicers' engine, settings and metrics)."""
    app = FastAPI(
        title="omnivec", version="1", description=_DESCRIPTION, docs_url=None, redoc_url=None,
        responses={"default": {"model": ErrorBody, "description": "an error"}},
    )
    app.state.deps = deps
    install_error_handlers(app)

    api = APIRouter(prefix="/api")
    for module in (collections, search, items, classify, probes):
        api.include_router(module.router)
    app.include_router(api)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "SERVING"}

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    assets = _docs_assets()
    if assets is not None:
        app.mount("/docs-static", StaticFiles(directory=assets), name="docs-static")

        @app.get("/docs", include_in_schema=False)
        def docs() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url="/openapi.json", title="omnivec API",
                swagger_js_url="/docs-static/swagger-ui-bundle.js",
                swagger_css_url="/docs-static/swagger-ui.css",
                swagger_favicon_url="/static/favicon.svg",
            )

    settings = deps.settings
    app.add_middleware(
        EdgeMiddleware,
        tokens=TokenChecker(tokens) if tokens else None,
        max_body_bytes=settings.max_message_bytes,
        max_in_flight=settings.max_concurrent_rpcs,
    )
    return app
