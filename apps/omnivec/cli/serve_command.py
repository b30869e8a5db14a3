"""``omnivec serve``: run the gRPC server over the embedded store until SIGTERM / SIGINT."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from omnivec.cli._common import CliState, handle_errors

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Adds the ``serve`` command to the CLI app."""

    @app.command()
    @handle_errors
    def serve(
        ctx: typer.Context,
        host: Annotated[
            str | None, typer.Option("--host", help="Interface to listen on (default 127.0.0.1).")
        ] = None,
        port: Annotated[
            int | None,
            typer.Option("--port", help="Port (default 50051; 0 picks a free one and prints it)."),
        ] = None,
        data: Annotated[
            str | None,
        typer.Option(
            "--data",
            help="Data directory (default ./omnivec-data), or an object-store URI "
            "(s3://bucket/prefix; credentials from AWS_* variables or [storage]).",
        ),
        ] = None,
        config: Annotated[Path | None, typer.Option("--config", help="TOML config file.")] = None,
        index_root: Annotated[
            Path | None,
            typer.Option("--index-root", help="Folder IndexPath may read under (off when unset)."),
        ] = None,
        metrics_port: Annotated[
            int | None, typer.Option("--metrics-port", help="Serve Prometheus /metrics here.")
        ] = None,
        http_port: Annotated[
            int | None,
            typer.Option("--http-port", help="Also serve the HTTP/JSON API and the web app here "
                         "(0 picks a free port; the URL is printed)."),
        ] = None,
    ) -> None:
        """Serve collections, search, embedding and classification over gRPC (and HTTP/JSON with
        the web app, with --http-port)."""
        from pydantic import ValidationError

        from omnivec.indexer.config import load_settings
        from omnivec.indexer.errors import ConfigError
        from omnivec.server.app import serve as run_server

        state: CliState = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
        settings = load_settings(
            config or state.config_file, data_dir=data or state.data_dir, offline=state.offline
        )
        overrides: dict[str, Any] = {
            key: value
            for key, value in {
                "host": host, "port": port, "index_root": index_root, "metrics_port": metrics_port,
                "http_port": http_port,
            }.items()
            if value is not None
        }
        if overrides:
            # Validated like the config file: a bad port is a clear error, not a bind failure.
            try:
                server = type(settings.server).model_validate(
                    {**settings.server.model_dump(), **overrides}
                )
            except ValidationError as exc:
                problems = "; ".join(
                    f"--{'-'.join(str(p) for p in err['loc']).replace('_', '-')}: {err['msg']}"
                    for err in exc.errors()
                )
                raise ConfigError(f"invalid serve option: {problems}") from exc
            settings = settings.model_copy(update={"server": server})
        raise typer.Exit(run_server(settings))
