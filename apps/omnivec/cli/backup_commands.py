"""CLI commands that check and copy whole collections: verify, export, import.

``verify`` works locally and with ``--server`` (same output both ways); ``export`` and ``import``
read or write the data directory itself, so they run without ``--server`` (they may run while a
server serves the same data directory: an export reads one pinned version, an import publishes
its collection last).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from omnivec.cli._common import EXIT_FAILED_ITEMS, console, handle_errors, print_json
from omnivec.cli.backend import backend
from omnivec.cli.data_commands import collections_app
from omnivec.client.types import VerifyReport

__all__ = ["verify_dict"]

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def verify_dict(report: VerifyReport) -> dict[str, Any]:
    return {**asdict(report), "problems": [asdict(p) for p in report.problems], "ok": report.ok}


@collections_app.command("verify")
@handle_errors
def verify(ctx: typer.Context, name: str, as_json: JsonOpt = False) -> None:
    """Check a collection in full: every data file against its committed checksum, every row
    (count, vector norms), the ANN index and the probes. Exit code 1 on damage."""
    report = backend(ctx).verify_collection(name)
    if as_json:
        print_json(verify_dict(report))
    else:
        state = "intact" if report.ok else "DAMAGED"
        console.print(
            f"{report.collection}: {state} at version {report.lance_version}: "
            f"{report.rows_read} rows read, {report.data_files_checked} data files checked "
            f"({report.data_files_unrecorded} without a recorded checksum), "
            f"{report.probes_checked} probe versions loaded", highlight=False, soft_wrap=True,
        )
        for problem in report.problems:
            console.print(f"  {problem.kind}: {problem.message}", highlight=False, markup=False,
                          soft_wrap=True)
        if report.recovery:
            console.print(f"  recovery: {report.recovery}", highlight=False, markup=False,
                          soft_wrap=True)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED_ITEMS)


@collections_app.command("export")
@handle_errors
def export(ctx: typer.Context, name: str, dest: str, as_json: JsonOpt = False) -> None:
    """Copy a collection at its current version to DEST (an empty folder or s3:// prefix),
    restorable on another machine with `omnivec collections import DEST`."""
    info = backend(ctx).export_collection(name, dest)
    if as_json:
        print_json(asdict(info))
        return
    console.print(
        f"exported {info.collection} at version {info.lance_version}: {info.rows} rows, "
        f"{info.files} files to {info.location}", highlight=False, markup=False,
    )


@collections_app.command("import")
@handle_errors
def import_(
    ctx: typer.Context,
    source: str,
    as_name: Annotated[str | None, typer.Option("--as", help="Name of the new collection.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Restore an export (checked file by file first) as a new collection."""
    info = backend(ctx).import_collection(Path(source) if "://" not in source else source, as_name)
    if as_json:
        print_json({"name": info.name, "items": info.item_count, "rows": info.row_count,
                    "lance_version": info.lance_version})
        return
    console.print(
        f"imported {info.name}: {info.item_count} items in {info.row_count} rows",
        highlight=False, markup=False,
    )
