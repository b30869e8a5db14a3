"""`omnivec demo`: index the shipped sample set through a server and run cross-modal queries.

Talks to the server given by ``--server`` (default ``127.0.0.1:50051``, where `make serve` listens)
through the Python client. When nothing answers there, it starts an embedded server on a free
port with a temporary data directory, so the demo also works on its own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.rule import Rule

from omnivec.cli._common import CliState, console, handle_errors
from omnivec.cli.hits import seconds_suffix, snippet
from omnivec.client.types import SearchQuery, SearchResult
from omnivec.indexer.errors import InvalidInputError

DEFAULT_TARGET = "127.0.0.1:50051"
COLLECTION = "omnivec-demo"


def _samples_dir(given: Path | None) -> Path:
    candidates = [given] if given else [Path.cwd() / "samples", Path(__file__).resolve().parents[3] / "samples"]
    for candidate in candidates:
        if candidate is not None and (candidate / "images").is_dir():
            return candidate
    raise InvalidInputError("sample set not found; run from the repository root or pass --samples DIR")


def _server_is_up(target: str, token: str | None) -> bool:
    from omnivec.client import Client

    try:
        with Client(target, token=token, timeout=2.0, retries=0) as client:
            return client.health() == "SERVING"
    except Exception:  # noqa: BLE001 - any failure means "no usable server there"
        return False


def _print_hits(title: str, result: SearchResult) -> None:
    console.print(Rule(title, style="cyan"))
    if result.query_transcript:
        console.print(f"  [dim]heard:[/] {result.query_transcript}", highlight=False)
    if not result.hits:
        console.print("  no hits")
    for hit in result.hits:
        where = Path(hit.source_uri).name if hit.source_uri else hit.id
        if "#" in (hit.source_uri or ""):
            where = Path(hit.source_uri.split("#")[0]).name + "#" + hit.source_uri.split("#")[1]
        console.print(f"  {hit.rank}. {hit.modality:<5} {where}{seconds_suffix(hit)}  [dim]({hit.space} {hit.score:+.3f})[/]", highlight=False)
        line = snippet(hit, 110)
        if line:
            console.print(f"     [dim]{line}[/]", highlight=False)


def _web_is_up(url: str, token: str | None) -> bool:
    import urllib.request

    request = urllib.request.Request(url.rstrip("/") + "/healthz")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback URL given by the user
            return bool(response.status == 200)
    except Exception:  # noqa: BLE001 - any failure means "no web app there"
        return False


def _print_web(url: str | None, token: str | None) -> None:
    console.print(Rule("web app", style="cyan"))
    if url and _web_is_up(url, token):
        base = url.rstrip("/")
        console.print(f"  open {base}/?c={COLLECTION}&q=sunny+weather+by+the+sea", highlight=False)
        console.print(f"  (collections: {base}/ · API docs: {base}/docs)", highlight=False)
    else:
        console.print(
            "  no web app is running: `make serve` serves one at http://127.0.0.1:8080/ "
            "(omnivec serve --http-port 8080)"
        )


def demo(
    ctx: typer.Context,
    samples: Annotated[Path | None, typer.Option("--samples", help="Sample folder (default ./samples).")] = None,
    web: Annotated[
        str | None,
        typer.Option("--web", help="The server's web app, printed at the end when it answers "
                     "(make demo passes http://127.0.0.1:8080/)."),
    ] = None,
) -> None:
    """Index the sample photos, notes and speech clips through the server and query them."""
    from omnivec.cli.remote import RemoteBackend

    state: CliState = ctx.obj
    target = state.server or DEFAULT_TARGET
    folder = _samples_dir(samples)
    embedded = None
    if not _server_is_up(target, state.token):
        from omnivec.server.app import create_server

        data_dir = Path(tempfile.mkdtemp(prefix="omnivec-demo-"))
        console.print(f"[yellow]no server at {target}[/]: starting an embedded one (data in {data_dir})")
        settings = state.settings().model_copy(update={"data_dir": data_dir})
        embedded, port = create_server(settings, address="127.0.0.1:0")
        embedded.start()
        embedded.wait_until_ready()
        target = f"127.0.0.1:{port}"
    backend = RemoteBackend(target, token=state.token)
    try:
        console.print(Rule(f"indexing {folder} into {COLLECTION!r} via {target}", style="cyan"))
        if COLLECTION not in backend.list_collections():
            backend.create_collection(COLLECTION)
        has_clip = "clip" in backend.describe_collection(COLLECTION).spaces
        folders = ([folder / "images"] if has_clip else []) + [folder / "texts", folder / "audio"]
        report = backend.index_paths(COLLECTION, folders)
        console.print(f"  indexed {report.indexed}, unchanged {report.unchanged}, failed {len(report.failed)}")
        for source, reason in report.failed:
            console.print(f"  [red]failed[/] {source}: {reason}", highlight=False)
        info = backend.describe_collection(COLLECTION)
        spaces = sorted(info.spaces)
        console.print(f"  {info.item_count} items ({', '.join(f'{k} {v}' for k, v in sorted(info.modality_counts.items()))}); spaces: {', '.join(spaces)}")

        def search(title: str, **kwargs: Any) -> None:
            _print_hits(title, backend.search(COLLECTION, SearchQuery(k=kwargs.pop("k", 3), **kwargs)))

        search("text → speech: 'will it be sunny by the sea tomorrow?'", text="will it be sunny by the sea tomorrow?")
        search("text → notes and speech: 'how do I knead bread dough'", text="how do I knead bread dough")
        search("speech → text: audio/rocket.wav", audio=folder / "audio" / "rocket.wav", modalities=("text",))
        search("filtered: 'machine is broken' where priority = 'high'", text="machine is broken", where="priority = 'high'", k=4)
        if has_clip:
            search("image → images: images/cat.jpg", image=folder / "images" / "cat.jpg", modalities=("image",))
            search("text → images (CLIP): 'a rocket on the launch pad'", text="a rocket on the launch pad", modalities=("image",), spaces=("clip",))
            console.print(Rule("zero-shot: images/coffee.jpg", style="cyan"))
            labels = ["a cat", "a rocket", "a cup of coffee", "an astronaut"]
            for label, probability in backend.zero_shot_classify(labels, image=folder / "images" / "coffee.jpg", space="clip", prompt_template="a photo of {}", top_k=3):
                console.print(f"  {probability:6.1%}  {label}")
        else:
            console.print(
                "[yellow]The server has no CLIP weights, so the photos were skipped[/] "
                "(see `omnivec models list` and the README's section on CLIP weights)."
            )
        if embedded is None:  # an embedded server (and its data) ends with the demo
            _print_web(web, state.token)
        else:
            console.print("  [dim]`make serve` then `make demo` to browse these results in the web app[/]")
    finally:
        backend.close()
        if embedded is not None:
            embedded.stop(grace=2.0)


def register(app: typer.Typer) -> None:
    app.command("demo")(handle_errors(demo))
