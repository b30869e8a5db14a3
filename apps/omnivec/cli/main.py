"""The ``omnivec`` command line."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated

import typer

from omnivec.cli import (
    bench_command,
    data_commands,
    demo_command,
    eval_command,
    probe_commands,
    serve_command,
)
from omnivec.cli._common import (
    CliState,
    configure_logging,
    console,
    exit_on_closed_stdout,
    handle_errors,
    print_json,
)
from omnivec.cli.backend import backend
from omnivec.indexer.errors import InvalidInputError

app = typer.Typer(
    name="omnivec",
    help="Multimodal embedding search and few-shot classification (CLIP, MiniLM, Whisper).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="Inspect the configured encoders.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@app.callback()
def main(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option("--config", help="TOML config file.")] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="Data directory (default ./omnivec-data), or an object-store URI "
            "(s3://bucket/prefix; credentials from AWS_* variables or [storage]).",
        ),
    ] = None,
    offline: Annotated[
        bool | None,
        typer.Option("--offline/--online", help="Forbid (or allow) network downloads."),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Run against a server at HOST:PORT instead of --data."),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="OMNIVEC_TOKEN", help="Bearer token.")
    ] = None,
) -> None:
    configure_logging()
    ctx.obj = CliState(config_file=config, data_dir=data, offline=offline, server=server, token=token)


@app.command()
@handle_errors
def embed(
    ctx: typer.Context,
    text: Annotated[list[str] | None, typer.Option("--text", help="Text to embed.")] = None,
    image: Annotated[list[Path] | None, typer.Option("--image", help="Image file.")] = None,
    audio: Annotated[
        list[Path] | None, typer.Option("--audio", help="Audio file (embedded via transcript).")
    ] = None,
    space: Annotated[str | None, typer.Option("--space", help="clip or text.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the embedding vector(s) of texts, images or audio files."""
    given = [x for x in (text, image, audio) if x]
    if len(given) != 1:
        raise InvalidInputError("give exactly one kind of input: --text, --image or --audio")
    engine = backend(ctx)
    if text:
        result = engine.embed_texts(text, space=space or "text")
        inputs = list(text)
    elif image:
        result = engine.embed_images(list(image), space=space or "clip")
        inputs = [str(p) for p in image]
    else:
        assert audio is not None
        result = engine.embed_audio(list(audio), space=space or "text")
        inputs = [str(p) for p in audio]
    if as_json:
        print_json(
            {
                "space": result.space,
                "encoder": result.spec.identity(),
                "dim": int(result.vectors.shape[1]),
                "embeddings": [
                    {"input": inp, "vector": vec.tolist()}
                    | ({"transcript": result.transcripts[i].text} if result.transcripts else {})
                    for i, (inp, vec) in enumerate(zip(inputs, result.vectors))
                ],
            }
        )
        return
    for i, (inp, vec) in enumerate(zip(inputs, result.vectors)):
        console.print(f"[bold]{inp}[/] ({result.space}, {result.spec.describe()})", highlight=False)
        if result.transcripts:
            console.print(f"  transcript: {result.transcripts[i].text}", highlight=False)
        console.print("[" + ", ".join(f"{x:.6f}" for x in vec) + "]", highlight=False, soft_wrap=True)


@app.command()
@handle_errors
def transcribe(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Audio file: WAV, FLAC, MP3 or OGG.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the transcript of an audio file with segment times."""
    transcript = backend(ctx).transcribe(file)
    if as_json:
        print_json({"file": str(file)} | transcript.to_dict())
        return
    console.print(f"[bold]{file}[/] ({transcript.duration:.1f} s, {transcript.language})")
    for seg in transcript.segments:
        console.print(f"  [{seg.start:7.2f} - {seg.end:7.2f}] {seg.text}", highlight=False)


@models_app.command("list")
@handle_errors
def models_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each configured encoder, where its weights come from, offline availability, and its
    backend, precision and export state (never making an export or loading a model)."""
    from omnivec.indexer.models import describe_weights

    infos = describe_weights(ctx.obj.settings())
    if as_json:
        print_json([info.__dict__ for info in infos])
        return
    from rich.table import Table

    table = Table("encoder", "model", "weights from", "offline", "backend", "precision", "export")
    for info in infos:
        offline = "[green]yes[/]" if info.available_offline else "[red]no[/]"
        table.add_row(
            info.encoder, info.model, info.source, offline, info.backend, info.precision,
            info.export,
        )
    console.print(table)
    for info in infos:
        if not info.available_offline:
            console.print(f"[yellow]{info.encoder}:[/] {info.note}", highlight=False)


@models_app.command("export")
@handle_errors
def models_export(
    ctx: typer.Context,
    encoder: Annotated[
        list[str] | None,
        typer.Option("--encoder", help="text or clip (repeatable; default: every enabled one)."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="Export for this backend instead of the configured one: "
                     "onnx, onnx-int8, openvino or openvino-int8."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make the ONNX/OpenVINO exports of the encoders now, offline, from the local weights
    (otherwise the first server start or index run makes them). An export already made from the
    same weights is kept."""
    from omnivec.indexer.models import make_exports

    results = make_exports(ctx.obj.settings(), encoder, backend)
    made = [before.export != after.export and after.export == "ready" for before, after in results]
    if as_json:
        print_json([
            {"encoder": after.encoder, "backend": after.backend, "precision": after.precision,
             "export": after.export, "made": was_made}
            for (_, after), was_made in zip(results, made)
        ])
        return
    for (_, after), was_made in zip(results, made):
        if after.backend == "torch":
            state = "torch runs the model itself: nothing to export"
        else:
            state = "made" if was_made else after.export
        console.print(f"{after.encoder}: {after.backend} ({after.precision}): {state}",
                      highlight=False)


@models_app.command("pull")
@handle_errors
def models_pull(ctx: typer.Context) -> None:
    """Download (once, into the cache) and load the configured CLIP weights; then verify them."""
    state: CliState = ctx.obj
    settings = state.settings()
    if settings.offline:
        from omnivec.indexer.errors import FailedPreconditionError

        raise FailedPreconditionError("offline mode is on (offline = true): downloads are forbidden")
    from omnivec.indexer.models import ModelHub

    encoder = ModelHub(settings).clip()
    console.print(f"[green]ok[/] clip: {encoder.spec.describe()}", highlight=False)


@app.command()
@handle_errors
def selfcheck(ctx: typer.Context) -> None:
    """Load every available encoder and run one real input through each."""
    from omnivec.indexer.engine import Engine
    from omnivec.indexer.models import describe_weights

    engine = Engine(ctx.obj.settings())  # checks this machine's models, never a server's
    for info in describe_weights(engine.settings):
        if not info.available_offline:
            console.print(f"[yellow]skip[/] {info.encoder}: {info.note}", highlight=False)
            continue
        if info.encoder == "speech":
            engine.models.speech()
            console.print(f"[green]ok[/] speech: {info.model} loaded from {info.source}")
            continue
        result = engine.embed_texts(["omnivec self-check"], space=info.encoder)
        console.print(
            f"[green]ok[/] {info.encoder}: {result.spec.describe()}, |v| = "
            f"{float((result.vectors[0] ** 2).sum()) ** 0.5:.3f}",
            highlight=False,
        )


data_commands.register(app)
serve_command.register(app)
probe_commands.register(app)
demo_command.register(app)
bench_command.register(app)
eval_command.register(app)


def _reflow_help(typer_app: typer.Typer) -> None:
    """Every command's help with the line breaks inside its paragraphs removed, so that the
    terminal wraps them. Typer 0.29 keeps single line breaks in a help's later paragraphs, and
    docstrings wrapped at 100 columns in the source came out ragged in an 80-column terminal
    ("weighted by how typical they are of" / "their" / "neighbourhood and spread...")."""
    for info in typer_app.registered_commands:
        doc = info.help if info.help is not None else inspect.getdoc(info.callback)
        if doc:
            info.help = "\n\n".join(" ".join(paragraph.split()) for paragraph in doc.split("\n\n"))
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _reflow_help(group.typer_instance)


_reflow_help(app)


def run() -> None:
    """The console script: the app, with a closed stdout surfacing here rather than at exit."""
    try:
        try:
            app()
        finally:
            # Output still buffered is written now, so a reader that went away (`| head -1`)
            # raises inside this handler instead of in the interpreter's shutdown.
            sys.stdout.flush()
    except BrokenPipeError:
        exit_on_closed_stdout()


if __name__ == "__main__":
    run()
