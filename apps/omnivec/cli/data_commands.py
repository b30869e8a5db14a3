"""CLI commands over collections: create/list/describe/delete, index, search, delete items."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from omnivec.cli._common import (
    EXIT_FAILED_ITEMS,
    console,
    err_console,
    handle_errors,
    print_json,
)
from omnivec.cli.backend import backend
from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.ingest import IndexEvent
from omnivec.indexer.store import CollectionInfo

collections_app = typer.Typer(help="Create, list, describe and delete collections.", no_args_is_help=True)


def _spaces(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [s.strip() for s in value.split(",") if s.strip()]


def _info_dict(info: CollectionInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "items": info.item_count,
        "rows": info.row_count,
        "modalities": dict(sorted(info.modality_counts.items())),
        "spaces": {
            space: {
                "encoder": status.spec.identity(),
                "index": status.index_kind,
                "vectors": status.vectors,
            }
            for space, status in sorted(info.spaces.items())
        },
        "size_bytes": info.size_bytes,
        "lance_version": info.lance_version,
        "snapshots": [
            {"tag": s.tag, "version": s.version, "created_at": _iso(s.created_at)}
            for s in info.snapshots
        ],
        "fusion": None if info.fusion is None else {
            "weights": dict(sorted(info.fusion.weights.items())),
            "route_by_modality": info.fusion.route_by_modality,
        },
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


@collections_app.command("create")
@handle_errors
def create(
    ctx: typer.Context,
    name: str,
    space: Annotated[str | None, typer.Option("--space", help="clip,text (default: both when CLIP weights exist)")] = None,
    exist_ok: Annotated[bool, typer.Option("--exist-ok", help="No error if it exists.")] = False,
) -> None:
    """Create an empty collection."""
    engine = backend(ctx)
    engine.create_collection(name, _spaces(space), exist_ok=exist_ok)
    console.print(f"created collection [bold]{name}[/]")


@collections_app.command("list")
@handle_errors
def list_(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """List collections."""
    names = backend(ctx).list_collections()
    if as_json:
        print_json(names)
        return
    for name in names:
        console.print(name, highlight=False)


@collections_app.command("describe")
@handle_errors
def describe(
    ctx: typer.Context, name: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Item counts per modality, spaces and encoders, size, LanceDB version, ANN index kind."""
    data = _info_dict(backend(ctx).describe_collection(name))
    if as_json:
        print_json(data)
        return
    console.print(f"[bold]{data['name']}[/]: {data['items']} items in {data['rows']} rows, "
                  f"{data['size_bytes'] / 1e6:.2f} MB, LanceDB version {data['lance_version']}")
    console.print("  modalities: " + (", ".join(f"{k} {v}" for k, v in data["modalities"].items()) or "none"))
    for space, s in data["spaces"].items():
        enc = s["encoder"]
        console.print(f"  space {space}: {enc['model']} ({enc['weights']}, {enc['dim']}-d), "
                      f"{s['vectors']} vectors, index {s['index']}", highlight=False)
    if data["fusion"] is not None:
        weights = ", ".join(f"{k}={v:g}" for k, v in data["fusion"]["weights"].items())
        routed = ", routed by modality" if data["fusion"]["route_by_modality"] else ""
        console.print(f"  fusion: {weights}{routed} (omnivec eval --tune)", highlight=False)
    for snap in data["snapshots"]:
        console.print(f"  snapshot {snap['tag']}: version {snap['version']} ({snap['created_at']})",
                      highlight=False)


@collections_app.command("delete")
@handle_errors
def delete(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a collection and everything in it."""
    if not yes and sys.stdin.isatty():
        typer.confirm(f"delete collection {name!r} and all its data?", abort=True)
    backend(ctx).delete_collection(name)
    console.print(f"deleted collection [bold]{name}[/]")


@collections_app.command("snapshot")
@handle_errors
def snapshot(
    ctx: typer.Context,
    name: str,
    tag: Annotated[str, typer.Option("--tag", help="Snapshot name.")],
) -> None:
    """Tag the collection's current version so it can be restored later."""
    snap = backend(ctx).snapshot_collection(name, tag)
    console.print(f"snapshot [bold]{snap.tag}[/] of {name} at version {snap.version}")


@collections_app.command("restore")
@handle_errors
def restore(
    ctx: typer.Context,
    name: str,
    tag: Annotated[str | None, typer.Option("--tag", help="Snapshot to restore.")] = None,
    version: Annotated[int | None, typer.Option("--version", help="LanceDB version to restore.")] = None,
) -> None:
    """Make a snapshot (or an older version) the current state of the collection."""
    info = backend(ctx).restore_collection(name, tag=tag, version=version)
    console.print(f"restored {name}: {info.item_count} items, now at version {info.lance_version}")


def index(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files, folders or JSONL/CSV manifests.")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Target collection (created if missing).")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into sub-folders.")] = False,
    space: Annotated[str | None, typer.Option("--space", help="Spaces for a new collection: clip,text.")] = None,
    metadata: Annotated[Path | None, typer.Option("--metadata", help="JSON {path: {key: value}}; \"*\" for all.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    ray: Annotated[str | None, typer.Option(
        "--ray", metavar="ADDRESS",
        help="Index on Ray: 'local' (start Ray here), 'auto', 'ray://HOST:PORT' or 'HOST:PORT' "
        "(the distributed extra).")] = None,
    ray_actors: Annotated[int | None, typer.Option(
        "--ray-actors", help="Encoder actors (default: what the cluster holds).")] = None,
    ray_actor_cpus: Annotated[float | None, typer.Option(
        "--ray-actor-cpus", help="CPUs per encoder actor (default 1).")] = None,
    ray_actor_gpus: Annotated[float | None, typer.Option(
        "--ray-actor-gpus", help="GPUs per encoder actor (default 0: encode on CPU).")] = None,
) -> None:
    """Index images, texts and audio; re-running skips unchanged files and resumes."""
    from omnivec.indexer.distributed import RayJob
    from omnivec.indexer.ingest import load_metadata_file

    job = None
    if ray is not None:
        job = RayJob(ray, actors=ray_actors, actor_cpus=ray_actor_cpus, actor_gpus=ray_actor_gpus)
    elif (ray_actors, ray_actor_cpus, ray_actor_gpus) != (None, None, None):
        raise InvalidInputError("--ray-actors, --ray-actor-cpus and --ray-actor-gpus need --ray")
    engine = backend(ctx)
    meta = load_metadata_file(metadata) if metadata else None
    progress = Progress(
        TextColumn("[bold]indexing"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>7} items/s"), TimeElapsedColumn(),
        TextColumn("{task.fields[current]}", style="dim"),
        console=err_console, disable=quiet or as_json, transient=False,
    )
    task = progress.add_task("index", total=None, rate="-", current="")
    import time

    started = time.perf_counter()
    done = 0

    def on_total(total: int) -> None:
        progress.update(task, total=total)

    def on_event(event: IndexEvent) -> None:
        nonlocal done
        done += 1
        elapsed = max(time.perf_counter() - started, 1e-6)
        progress.update(task, advance=1, rate=f"{done / elapsed:.1f}", current=Path(event.item.label).name[:40])
        if event.status == "failed" and not progress.disable:
            # Shown as they happen (a long run's summary comes only at its end).
            progress.console.print(f"  [red]failed[/] {event.item.label}: {event.reason}",
                                   highlight=False, soft_wrap=True)
        # Machine-readable acknowledgement, one line per committed item (used for resumption checks).
        if event.status == "indexed" and not as_json and quiet:
            print(f"indexed {event.item_id} {event.item.label}", flush=True)

    with progress:
        report = engine.index_paths(
            collection, paths, recursive=recursive, spaces=_spaces(space), metadata=meta,
            on_event=on_event, on_total=on_total, ray=job,
        )
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(
            f"[green]indexed {report.indexed}[/], unchanged {report.unchanged}, "
            f"[{'red' if report.failed else 'green'}]failed {len(report.failed)}[/] "
            f"({report.rows} rows, {report.seconds:.1f} s)"
        )
        for source, reason in report.failed:
            console.print(f"  [red]failed[/] {source}: {reason}", highlight=False, soft_wrap=True)
    if report.failed:
        raise typer.Exit(EXIT_FAILED_ITEMS)


def search(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="Text query.")] = None,
    collection: Annotated[str, typer.Option("--collection", "-c")] = "",
    image: Annotated[Path | None, typer.Option("--image", help="Query by image file.")] = None,
    audio: Annotated[Path | None, typer.Option("--audio", help="Query by speech (transcribed).")] = None,
    like: Annotated[str | None, typer.Option("--like", help="Query by a stored item id.")] = None,
    k: Annotated[int, typer.Option("-k", help="Number of hits.")] = 10,
    modality: Annotated[str | None, typer.Option("--modality", help="image,text,audio")] = None,
    space: Annotated[str | None, typer.Option("--space", help="Restrict to spaces: clip,text")] = None,
    where: Annotated[str | None, typer.Option("--where", help="Metadata filter, e.g. \"priority = 'high'\".")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="vector, keyword or hybrid (default: hybrid).")] = None,
    weights: Annotated[str | None, typer.Option("--weights", help="Fusion weights, e.g. text=1,keyword=0.5 (default: the collection's).")] = None,
    route: Annotated[bool, typer.Option("--route", help="Rank each modality by its own rankings (with --weights).")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search a collection by text, image, audio or item id; the rankings (spaces, keywords) are fused."""
    from omnivec.cli.fusion_options import parse_fusion
    from omnivec.cli.hits import found_by, search_result_to_json, seconds_suffix, snippet
    from omnivec.client.types import Modality, SearchMode, SearchQuery

    if not collection:
        raise InvalidInputError("--collection is required")
    query = SearchQuery(
        text=text, image=image, audio=audio, item_id=like, k=k, where=where,
        # Names are checked where the query runs (the engine, or the SDK before sending).
        modalities=cast("tuple[Modality, ...]", tuple(_spaces(modality) or ())),
        spaces=tuple(_spaces(space) or ()),
        mode=cast("SearchMode | None", mode),
        fusion=parse_fusion(weights, route),
    )
    result = backend(ctx).search(collection, query)
    if as_json:
        print_json(search_result_to_json(result))
        return
    if result.query_transcript is not None:
        console.print(f"[dim]query transcript:[/] {result.query_transcript}", highlight=False)
    if not result.hits:
        console.print("no hits")
    for hit in result.hits:
        console.print(
            f"{hit.rank:>3}. [bold]{hit.modality:<5}[/] {hit.score:+.3f} ({found_by(hit)}) "
            f"{hit.source_uri or hit.id}{seconds_suffix(hit)}", highlight=False,
        )
        line = snippet(hit, 160)
        if line:
            console.print(f"      {line}", style="dim", highlight=False)
        if hit.metadata:
            console.print(f"      {hit.metadata}", style="dim", highlight=False)


def delete_items(
    ctx: typer.Context,
    collection: Annotated[str, typer.Option("--collection", "-c")],
    ids: Annotated[list[str] | None, typer.Option("--id", help="Item id (repeatable).")] = None,
    sources: Annotated[list[str] | None, typer.Option("--source", help="Source path (repeatable).")] = None,
) -> None:
    """Delete items by id or by source path."""
    if not ids and not sources:
        raise InvalidInputError("give --id and/or --source")
    count = backend(ctx).delete_items(collection, ids or [], sources or [])
    console.print(f"deleted {count} item(s)")


def register(app: typer.Typer) -> None:
    from omnivec.cli import backup_commands  # noqa: F401 - adds verify/export/import to collections_app

    app.add_typer(collections_app, name="collections")
    app.command("index")(handle_errors(index))
    app.command("search")(handle_errors(search))
    app.command("delete")(handle_errors(delete_items))
