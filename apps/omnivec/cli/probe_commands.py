"""CLI commands for few-shot probes and classification.

    omnivec probe train NAME --collection C --labels FILE [--space S] [--prompt "a photo of a {}" ...]
                        [--prompt-set image|text] [--class-name L=W] [--no-unlabeled]
    omnivec probe list   --collection C [--all] [--json]
    omnivec probe show   NAME --collection C [--version N] [--json]
    omnivec probe delete NAME --collection C (--version N | --all) [--json]
    omnivec probe apply  NAME --collection C [--version N] [--column COL] [--json]
    omnivec probe suggest NAME --collection C [-n 20] [--strategy margin] [--json]
    omnivec classify --probe NAME --collection C [--version N] FILE... [--id ID] [--text T]
    omnivec classify --labels "cat,dog" [--prompt P ...] [--prompt-set S] [--class-name L=W]
                     [--space S] [--collection C] FILE...

The engine (or a server, with ``--server``) is reached through ``data_commands.backend``; probes
live behind its ``probes`` attribute (:class:`omnivec.indexer.probes.service.ProbeService`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from omnivec.cli._common import EXIT_FAILED_ITEMS, console, handle_errors, print_json
from omnivec.cli.backend import Backend, backend
from omnivec.cli.probe_report_view import pct, print_report
from omnivec.cli.stage_progress import StageProgress
from omnivec.indexer.errors import InvalidInputError

__all__ = ["probe_app", "register"]

probe_app = typer.Typer(
    help="Train, list, show, delete and apply few-shot linear probes.", no_args_is_help=True
)

CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="The probe's collection.")]
VersionOpt = Annotated[int | None, typer.Option("--version", help="Probe version (default: latest).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PromptOpt = Annotated[list[str] | None, typer.Option(
    "--prompt",
    help="Prompt template with one {}, e.g. \"a photo of a {}\"; repeat it for an ensemble (the "
    "mean of the prompts' normalised embeddings).",
)]
PromptSetOpt = Annotated[str | None, typer.Option(
    "--prompt-set",
    help="Add a built-in template set to the prompts: image (CLIP's 80 ImageNet templates) or text.",
)]


def _class_names(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values or []:
        label, sep, words = value.partition("=")
        if not sep or not label.strip() or not words.strip():
            raise InvalidInputError(f"--class-name wants LABEL=WORDS (e.g. n02123045='tabby cat'), got {value!r}")
        out[label.strip()] = words.strip()
    return out


@probe_app.command("train")
@handle_errors
def train(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Probe name (a new version if it exists).")],
    collection: CollectionOpt,
    labels: Annotated[list[Path], typer.Option(
        "--labels", "-l", help="CSV/JSONL of path,label / id,label / text,label; repeat it to train on "
        "several files (a filled-in `probe suggest --csv` file next to the first).",
    )],
    space: Annotated[str | None, typer.Option("--space", help="clip or text (default: by the examples).")] = None,
    prompt: PromptOpt = None,
    prompt_set: PromptSetOpt = None,
    class_name: Annotated[list[str] | None, typer.Option("--class-name", help="LABEL=WORDS for the prompt (repeatable).")] = None,
    abstain: Annotated[float | None, typer.Option("--abstain", help="Answer 'unknown' below this probability.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the held-out split and CV folds.")] = 0,
    no_unlabeled: Annotated[bool, typer.Option(
        "--no-unlabeled",
        help="Do not learn from the collection's unlabelled items (by default the probe reads "
        "them and keeps what they teach only when cross-validation says it helps).",
    )] = False,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Train a new version of a probe from labelled files, item ids or texts.

    The report names each accuracy by how it was estimated (held out, cross-validated,
    leave-one-out), gives its 90% interval, and compares the probe with zero-shot, the plain probe
    and itself without the unlabelled items on the same rows."""
    from omnivec.indexer.probes.examples import load_labels_file

    examples = [example for path in labels for example in load_labels_file(path)]
    engine = backend(ctx)
    with StageProgress(disable=quiet or as_json) as progress:
        record = engine.probes.train(
            collection, name, examples=examples, space=space, prompt_template=prompt or None,
            class_names=_class_names(class_name) or None, abstain_threshold=abstain, seed=seed,
            progress=progress, prompt_set=prompt_set, use_unlabeled=not no_unlabeled,
        )
    if as_json:
        print_json(record.to_dict())
        return
    console.print(f"[green]trained[/] probe [bold]{record.name}[/] version {record.version}")
    print_report(record)


@probe_app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    collection: CollectionOpt,
    name: Annotated[str | None, typer.Option("--name", help="Only this probe.")] = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Every version, not only the latest.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the probes of a collection (latest versions; --all for every version)."""
    infos = backend(ctx).probes.list(collection, name, all_versions=all_versions)
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    if not infos:
        console.print(f"no probes in {collection}")
        return
    import time

    table = Table("name", "version", "space", "classes", "accuracy (estimate)", "created")
    for info in infos:
        how = {"held-out split": "held out", "cross-validation": "cv", "leave-one-out": "loo"}
        accuracy = "-" if info.accuracy is None else (
            f"{pct(info.accuracy)} ({how.get(info.estimate_method, info.estimate_method)})"
        )
        table.add_row(
            info.name, f"v{info.version}" + (" (latest)" if info.is_latest and all_versions else ""),
            info.space, ", ".join(info.classes), accuracy,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created_at)),
        )
    console.print(table)


@probe_app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    name: str,
    collection: CollectionOpt,
    version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a probe version's training report."""
    record = backend(ctx).probes.get(collection, name, version)
    if as_json:
        print_json(record.to_dict())
        return
    print_report(record)


@probe_app.command("delete")
@handle_errors
def delete(
    ctx: typer.Context,
    name: str,
    collection: CollectionOpt,
    version: Annotated[int | None, typer.Option("--version", help="The version to delete.")] = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Delete every version.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete one version of a probe (--version N) or all of them (--all)."""
    if (version is None) == (not all_versions):
        raise InvalidInputError("give exactly one of --version N or --all")
    if all_versions and not yes and sys.stdin.isatty():
        typer.confirm(f"delete every version of probe {name!r}?", abort=True)
    count = backend(ctx).probes.delete(collection, name, version=version, all_versions=all_versions)
    if as_json:
        print_json({"name": name, "deleted_versions": count})
        return
    console.print(f"deleted {count} version(s) of probe [bold]{name}[/]")


@probe_app.command("apply")
@handle_errors
def apply(
    ctx: typer.Context,
    name: str,
    collection: CollectionOpt,
    version: VersionOpt = None,
    column: Annotated[str | None, typer.Option("--column", help="Label column (default label_<name>).")] = None,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Label every item of the collection; the label becomes a column search filters can use."""
    engine = backend(ctx)
    with StageProgress(disable=quiet or as_json) as progress:
        result = engine.probes.classify_collection(
            collection, name, version=version, column=column, progress=progress
        )
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"labelled {result.items} items of [bold]{result.collection}[/] with {result.probe} "
        f"v{result.version}: column [bold]{result.column}[/] (+ {result.confidence_column}); "
        f"abstained {result.abstained}, without a vector in the probe's space: "
        f"{result.skipped}", highlight=False,
    )
    for label, count in result.counts.items():
        console.print(f"  {label}: {count}", highlight=False)
    console.print(f"[dim]filter with: --where \"{result.column} = '<label>'\"[/]", highlight=False)


@probe_app.command("suggest")
@handle_errors
def suggest(
    ctx: typer.Context,
    name: str,
    collection: CollectionOpt,
    count: Annotated[int, typer.Option("--count", "-n", help="How many items to suggest (1-1000).")] = 20,
    version: VersionOpt = None,
    strategy: Annotated[str, typer.Option(
        "--strategy", help="margin (1 - (p1 - p2), default) or entropy: how unsure the probe is."
    )] = "margin",
    csv_path: Annotated[Path | None, typer.Option(
        "--csv", help="Also write them to this new file as a labels file to fill in (id, an empty "
        "label, the probe's guess, source, text); train with it as a second --labels.",
    )] = None,
    as_json: JsonOpt = False,
) -> None:
    """List the unlabelled items whose labels would help the probe most.

    The items the probe is least sure about, weighted by how typical they are of their
    neighbourhood and spread along a kNN graph of the embeddings so they are not near-duplicates;
    the probe's training examples are never listed. Label them and train again: with --csv FILE,
    fill in FILE's label column (delete the rows you cannot label), then
    `omnivec probe train NAME -c COLL -l LABELS -l FILE`."""
    from omnivec.indexer.probes.examples import require_new_labels_file, write_labels_to_fill

    if csv_path is not None:
        require_new_labels_file(csv_path)
    result = backend(ctx).probes.suggest(collection, name, n=count, version=version, strategy=strategy)
    if csv_path is not None:
        write_labels_to_fill(csv_path, result.suggestions)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"{len(result.suggestions)} of {result.unlabeled_items} unlabelled items to label next for "
        f"[bold]{result.probe}[/] v{result.version} ({result.strategy}):", highlight=False,
    )
    table = Table("#", "item", "source / text", "probe's guess", "p", "margin")
    for s in result.suggestions:
        shown = s.source_uri if s.modality == "image" or not s.text else " ".join(s.text.split())
        table.add_row(
            str(s.rank), s.item_id, shown if len(shown) <= 60 else shown[:59] + "…",
            s.predicted, f"{s.probability:.2f}", f"{s.margin:.2f}",
        )
    console.print(table)
    if csv_path is not None:
        console.print(
            f"wrote them to {csv_path}: fill in its label column (delete the rows you cannot label), "
            f"then train with --labels {csv_path} next to your labels file", highlight=False,
        )


def classify(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(help="Image, audio or text files.")] = None,
    probe: Annotated[str | None, typer.Option("--probe", "-p", help="Classify with this probe.")] = None,
    labels: Annotated[str | None, typer.Option("--labels", help="Zero-shot: comma-separated labels.")] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Collection (required with --probe).")] = None,
    version: VersionOpt = None,
    prompt: PromptOpt = None,
    prompt_set: PromptSetOpt = None,
    class_name: Annotated[list[str] | None, typer.Option(
        "--class-name", help="Zero-shot: LABEL=WORDS, the words the prompts use for a label (repeatable); "
        "answers name the label.",
    )] = None,
    space: Annotated[str | None, typer.Option("--space", help="Zero-shot space: clip or text.")] = None,
    ids: Annotated[list[str] | None, typer.Option("--id", help="A stored item id (repeatable).")] = None,
    texts: Annotated[list[str] | None, typer.Option("--text", help="A text to classify (repeatable).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Labels per input (0: all).")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Classify files, texts or stored items with a probe (--probe) or zero-shot (--labels).

    One result per input, in input order: the files, then the --id items, then the --text texts,
    each in the order given. With --json each result carries its "index" in that order, the input
    in full ("input", and "item_id" for items), "label" (null when the probe abstained or the
    input failed), "labels" (best first, with probabilities), "abstained" and "error"; a probe
    and zero-shot answer in the same shape."""
    if (probe is None) == (labels is None):
        raise InvalidInputError("give exactly one of --probe NAME or --labels \"a,b,...\"")
    files, ids, texts = list(files or []), list(ids or []), list(texts or [])
    if not (files or ids or texts):
        raise InvalidInputError("nothing to classify: give files, --text or --id")
    inputs: list[tuple[str, str]] = (
        [("file", str(f)) for f in files] + [("item", i) for i in ids] + [("text", t) for t in texts]
    )
    engine = backend(ctx)
    if probe is not None:
        if prompt or prompt_set or space is not None or class_name:
            raise InvalidInputError(
                "--prompt, --prompt-set, --class-name and --space are for zero-shot --labels; a "
                "probe has its own"
            )
        results = _classify_probe(engine, probe, collection, version, inputs, top_k)
    else:
        assert labels is not None
        results = _classify_zero_shot(
            engine, labels, collection, prompt, prompt_set, _class_names(class_name), space,
            inputs, top_k,
        )
    if as_json:
        print_json(results)
    else:
        for res in results["results"]:
            shown = res["input"] if res["kind"] != "text" else _snippet(res["input"])
            shown = f"item {shown}" if res["kind"] == "item" else shown
            if res.get("error"):
                console.print(f"[red]failed[/] {shown}: {res['error']}", highlight=False, soft_wrap=True)
                continue
            head = res["labels"][0] if res["labels"] else None
            answer = "[yellow]unknown[/] (abstained)" if res.get("abstained") else (
                f"[bold]{head['label']}[/] {head['probability']:.3f}" if head else "-"
            )
            others = ", ".join(f"{x['label']} {x['probability']:.3f}" for x in res["labels"][1:])
            console.print(f"{shown}: {answer}" + (f"  [dim]({others})[/]" if others else ""), highlight=False)
    if any(r.get("error") for r in results["results"]):
        raise typer.Exit(EXIT_FAILED_ITEMS)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= 40 else flat[:40] + "…")


def _result(
    index: int, kind: str, value: str, label: str | None, labels: list[tuple[str, float]],
    abstained: bool, error: str | None,
) -> dict[str, Any]:
    """One classify result: the same shape for a probe and zero-shot."""
    out: dict[str, Any] = {"index": index, "kind": kind, "input": value}
    if kind == "item":
        out["item_id"] = value
    out.update(
        label=label,
        labels=[{"label": lab, "probability": p} for lab, p in labels],
        abstained=abstained,
        error=error,
    )
    return out


def _classify_probe(
    engine: Backend, probe: str, collection: str | None, version: int | None,
    inputs: list[tuple[str, str]], top_k: int,
) -> dict[str, Any]:
    from omnivec.indexer.probes.examples import ProbeInput

    if not collection:
        raise InvalidInputError("--probe needs --collection (probes belong to a collection)")
    make = {"file": lambda v: ProbeInput.file(Path(v)), "item": ProbeInput.item, "text": ProbeInput.of_text}
    answers = engine.probes.classify(
        collection, probe, [make[kind](value) for kind, value in inputs], version=version, top_k=top_k
    )
    return {
        "probe": probe,
        "version": answers[0].version if answers else version,
        "results": [
            _result(i, kind, value, a.label, list(a.labels), a.abstained, a.error)
            for i, ((kind, value), a) in enumerate(zip(inputs, answers))
        ],
    }


def _classify_zero_shot(
    engine: Backend, labels: str, collection: str | None, prompts: list[str] | None,
    prompt_set: str | None, class_names: dict[str, str], space: str | None,
    inputs: list[tuple[str, str]], top_k: int,
) -> dict[str, Any]:
    from omnivec.indexer.classify import check_labels
    from omnivec.indexer.errors import OmnivecError
    from omnivec.indexer.media import MediaKind, decode_text, kind_for_path
    from omnivec.indexer.prompt_sets import resolve_templates

    names = check_labels([x.strip() for x in labels.split(",") if x.strip()])
    unknown = [label for label in class_names if label not in names]
    if unknown:
        raise InvalidInputError(
            f"--class-name names {unknown[0]!r}, which is not one of --labels ({', '.join(names)})"
        )
    templates = resolve_templates(prompts, prompt_set) or ["{}"]
    out = []
    for index, (kind, value) in enumerate(inputs):
        try:
            text = image = audio = item_id = None
            if kind == "file":
                by_name = kind_for_path(Path(value))  # a file's kind comes from its name
                if by_name is MediaKind.IMAGE:
                    image = Path(value)
                elif by_name is MediaKind.AUDIO:
                    audio = Path(value)
                else:
                    text = decode_text(Path(value))
            elif kind == "item":
                item_id = value
            else:
                text = value
            ranked = engine.zero_shot_classify(
                names, text=text, image=image, audio=audio, item_id=item_id, collection=collection,
                prompt_template=templates, space=space, top_k=top_k, class_names=class_names or None,
            )
            out.append(_result(index, kind, value, ranked[0][0] if ranked else None, ranked, False, None))
        except OmnivecError as exc:
            out.append(_result(index, kind, value, None, [], False, str(exc)))
    return {"labels": names, "prompts": templates, "class_names": class_names, "results": out}


def register(app: typer.Typer) -> None:
    """Add ``probe ...`` and ``classify`` to the ``omnivec`` app (idempotent)."""
    if getattr(app, "_omnivec_probe_commands", False):
        return
    app.add_typer(probe_app, name="probe")
    app.command("classify")(handle_errors(classify))
    app._omnivec_probe_commands = True  # type: ignore[attr-defined]
