"""The HTTP/JSON edge: the same engine, models, tokens, TLS and limits as the gRPC server, for
browsers, curl and languages without good gRPC, and the web app at ``/``.

    app = create_http_app(deps, tokens)        # a FastAPI app (see omnivec.server.http.app)
    edge = HttpServer(app, settings)           # uvicorn on its own thread (omnivec.server.http.runner)

``omnivec serve --http-port N`` starts it next to the gRPC server, in the same process.
"""

from __future__ import annotations

from omnivec.server.http.app import create_http_app
from omnivec.server.http.runner import HttpServer

__all__ = ["HttpServer", "create_http_app"]
