"""``omnivec bench``: run the benchmark suite and write ``benchmarks/results/``.

    omnivec bench --quick                 # under 5 minutes on 2 cores
    omnivec bench --only fig1,fig4        # some figures
    omnivec bench --device cuda           # GPU: CLIP fp16, next to clip-as-service's figures
    make bench BENCH_ARGS=--quick         # the same through make
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Adds the ``bench`` command to the CLI app."""

    @app.command()
    def bench(
        quick: Annotated[
            bool, typer.Option("--quick", help="Smaller data and fewer repeats (< 5 min on 2 cores).")
        ] = False,
        only: Annotated[
            str | None,
            typer.Option("--only", help="Comma-separated figures to run, e.g. fig1,fig4."),
        ] = None,
        device: Annotated[
            str, typer.Option("--device", help="torch device: cpu or cuda.")
        ] = "cpu",
        out: Annotated[
            Path, typer.Option("--out", help="Results folder.")
        ] = Path("benchmarks/results"),
        repeats: Annotated[
            int | None, typer.Option("--repeats", min=1, help="Repeats per figure (3 quick, 5 full).")
        ] = None,
        threads: Annotated[
            int | None,
            typer.Option("--threads", min=1, help="torch intra-op threads (default: half the cores)."),
        ] = None,
    ) -> None:
        """Benchmark omnivec against the raw libraries it wraps; every figure is a ratio."""
        from omnivec.bench.suite import run

        if device not in ("cpu", "cuda"):
            typer.echo(f"error: --device must be cpu or cuda, not {device!r}", err=True)
            raise typer.Exit(2)
        try:
            results, _ = run(quick=quick, only=only, device=device, out=out, repeats=repeats,
                             threads=threads, log=typer.echo)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        raise typer.Exit(1 if any(r.status == "ERROR" for r in results) else 0)
