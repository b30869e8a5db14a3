"""CLI commands for few-shot probes and classification.

    omnivec probe train NAME --collection C --labels FILE [--space S] [--prompt "a photo of a {}"]
    omnivec probe list   --collection C [--all] [--json]
    omnivec probe show   NAME --collection C [--version N] [--json]
    omnivec probe delete NAME --collection C (--version N | --all) [--json]
    omnivec probe apply  NAME --collection C [--version N] [--column COL] [--json]
    omnivec classify --probe NAME --collection C [--version N] FILE... [--id ID] [--text T]
    omnivec classify --labels "cat,dog" [--prompt P] [--space S] [--collection C] FILE...

The engine (or a server, with ``--server``) is reached through ``data_commands.backend``; probes
live behind its ``probes`` attribute (:class:`omnivec.indexer.probes.service.ProbeService`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from omnivec.cli._common import EXIT_FAILED_ITEMS, console, handle_errors, print_json
from omnivec.cli.backend import Backend, backend
from omnivec.cli.stage_progress import StageProgress
from omnivec.indexer.errors import InvalidInputError

if TYPE_CHECKING:
    from omnivec.indexer.probes.report import ProbeReport
    from omnivec.indexer.probes.storage import ProbeRecord

__all__ = ["probe_app", "register"]

probe_app = typer.Typer(
    help="Train, list, show, delete and apply few-shot linear probes.", no_args_is_help=True
)

CollectionOpt = Annotated[str, typer.Option("--collection", "-c", help="The probe's collection.")]
VersionOpt = Annotated[int | None, typer.Option("--version", help="Probe version (default: latest).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def print_report(record: ProbeRecord) -> None:
    """The training report of a probe version, as tables."""
    report = record.report
    console.print(
        f"[bold]{record.name}[/] v{record.version} on [bold]{record.collection}[/] "
        f"({record.space} space, {record.encoder.describe()})", highlight=False,
    )
    console.print(
        f"  classes: {', '.join(record.classes)}  |  examples: {report.n_train} train + "
        f"{report.n_heldout} held out", highlight=False,
    )
    console.print(
        f"  chosen C: {report.regularization_c:.3g} ({_selection(report)})  |  "
        f"zero-shot prior: {'used' if report.zero_shot_prior_used else 'not used'}"
        + (f" (prompt {record.prompt_template!r})" if record.prompt_template else ""),
        highlight=False,
    )
    # Below 4 examples per class nothing is held out: the three numbers are then out-of-fold
    # estimates on the same rows, and the label says so.
    estimate = report.estimate_method or "none"
    label = "held-out accuracy" if estimate == "held-out split" else f"accuracy ({estimate})"
    console.print(
        f"  {label}: probe [bold]{_pct(report.heldout_accuracy)}[/]  |  zero-shot: "
        f"{_pct(report.zero_shot_accuracy)}  |  plain probe: "
        f"{_pct(report.plain_probe_accuracy)}",
        highlight=False,
    )
    console.print(
        f"  temperature: {report.temperature:.3g}  |  training time: "
        f"{report.train_seconds:.2f} s"
        + (f"  |  abstains below {record.abstain_threshold:g}" if record.abstain_threshold is not None else ""),
        highlight=False,
    )
    if report.class_metrics:
        table = Table("class", "precision", "recall", "F1", "support", title="per class (held out)")
        for m in report.class_metrics:
            table.add_row(m.label, f"{m.precision:.2f}", f"{m.recall:.2f}", f"{m.f1:.2f}", str(m.support))
        console.print(table)
    if report.confusion_matrix:
        classes = list(report.classes)
        table = Table("true \\ predicted", *classes, title="confusion matrix")
        for label, row in zip(classes, report.confusion_matrix):
            table.add_row(label, *(str(v) for v in row))
        console.print(table)
    for note in report.notes:
        console.print(f"  [yellow]note:[/] {note}", highlight=False)


def _selection(report: ProbeReport) -> str:
    """"k-fold, 5 folds" / "repeated-splits, 2 folds x 10" / "leave-one-out" / "fixed"."""
    method = report.selection_method
    folds = report.cv_folds
    repetitions = report.cv_repetitions
    if method in ("fixed", "leave-one-out") or not folds:
        return method
    return f"{method}, {folds} folds" + (f" x {repetitions}" if repetitions > 1 else "")


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
    labels: Annotated[Path, typer.Option("--labels", "-l", help="CSV/JSONL of path,label / id,label / text,label.")],
    space: Annotated[str | None, typer.Option("--space", help="clip or text (default: by the examples).")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", help="Zero-shot prior prompt, e.g. \"a photo of a {}\".")] = None,
    class_name: Annotated[list[str] | None, typer.Option("--class-name", help="LABEL=WORDS for the prompt (repeatable).")] = None,
    abstain: Annotated[float | None, typer.Option("--abstain", help="Answer 'unknown' below this probability.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the held-out split and CV folds.")] = 0,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Train a new version of a probe from labelled files, item ids or texts."""
    from omnivec.indexer.probes.examples import load_labels_file

    examples = load_labels_file(labels)
    engine = backend(ctx)
    with StageProgress(disable=quiet or as_json) as progress:
        record = engine.probes.train(
            collection, name, examples=examples, space=space, prompt_template=prompt,
            class_names=_class_names(class_name) or None, abstain_threshold=abstain, seed=seed,
            progress=progress,
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

    table = Table("name", "version", "space", "classes", "held-out acc.", "created")
    for info in infos:
        table.add_row(
            info.name, f"v{info.version}" + (" (latest)" if info.is_latest and all_versions else ""),
            info.space, ", ".join(info.classes), _pct(info.heldout_accuracy),
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


def classify(
    ctx: typer.Context,
    files: Annotated[list[Path] | None, typer.Argument(help="Image, audio or text files.")] = None,
    probe: Annotated[str | None, typer.Option("--probe", "-p", help="Classify with this probe.")] = None,
    labels: Annotated[str | None, typer.Option("--labels", help="Zero-shot: comma-separated labels.")] = None,
    collection: Annotated[str | None, typer.Option("--collection", "-c", help="Collection (required with --probe).")] = None,
    version: VersionOpt = None,
    prompt: Annotated[str | None, typer.Option("--prompt", help="Zero-shot prompt template, e.g. \"a photo of a {}\".")] = None,
    space: Annotated[str | None, typer.Option("--space", help="Zero-shot space: clip or text.")] = None,
    ids: Annotated[list[str] | None, typer.Option("--id", help="A stored item id (repeatable).")] = None,
    texts: Annotated[list[str] | None, typer.Option("--text", help="A text to classify (repeatable).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="Labels per input (0: all).")] = 3,
    as_json: JsonOpt = False,
) -> None:
    """Classify files, texts or stored items with a probe (--probe) or zero-shot (--labels)."""
    if (probe is None) == (labels is None):
        raise InvalidInputError("give exactly one of --probe NAME or --labels \"a,b,...\"")
    files, ids, texts = list(files or []), list(ids or []), list(texts or [])
    if not (files or ids or texts):
        raise InvalidInputError("nothing to classify: give files, --text or --id")
    engine = backend(ctx)
    if probe is not None:
        results = _classify_probe(engine, probe, collection, version, files, ids, texts, top_k, prompt, space)
    else:
        assert labels is not None
        results = _classify_zero_shot(engine, labels, collection, prompt, space, files, ids, texts, top_k)
    if as_json:
        print_json(results)
    else:
        for res in results["results"]:
            if res.get("error"):
                console.print(f"[red]failed[/] {res['input']}: {res['error']}", highlight=False, soft_wrap=True)
                continue
            head = res["labels"][0] if res["labels"] else None
            shown = "[yellow]unknown[/] (abstained)" if res.get("abstained") else (
                f"[bold]{head['label']}[/] {head['probability']:.3f}" if head else "-"
            )
            others = ", ".join(f"{x['label']} {x['probability']:.3f}" for x in res["labels"][1:])
            console.print(f"{res['input']}: {shown}" + (f"  [dim]({others})[/]" if others else ""), highlight=False)
    if any(r.get("error") for r in results["results"]):
        raise typer.Exit(EXIT_FAILED_ITEMS)


def _classify_probe(
    engine: Backend, probe: str, collection: str | None, version: int | None, files: list[Path],
    ids: list[str], texts: list[str], top_k: int, prompt: str | None, space: str | None,
) -> dict[str, Any]:
    from omnivec.indexer.probes.examples import ProbeInput

    if not collection:
        raise InvalidInputError("--probe needs --collection (probes belong to a collection)")
    if prompt is not None or space is not None:
        raise InvalidInputError("--prompt and --space are for zero-shot --labels; a probe has its own")
    inputs = [ProbeInput.file(f) for f in files] + [ProbeInput.item(i) for i in ids] + [
        ProbeInput.of_text(t) for t in texts
    ]
    results = engine.probes.classify(collection, probe, inputs, version=version, top_k=top_k)
    return {
        "probe": probe,
        "version": results[0].version if results else version,
        "results": [r.to_dict() for r in results],
    }


def _classify_zero_shot(
    engine: Backend, labels: str, collection: str | None, prompt: str | None, space: str | None,
    files: list[Path], ids: list[str], texts: list[str], top_k: int,
) -> dict[str, Any]:
    from omnivec.indexer.classify import check_labels, format_prompt
    from omnivec.indexer.errors import OmnivecError
    from omnivec.indexer.media import MediaKind, decode_text, kind_for_path

    names = check_labels([x.strip() for x in labels.split(",") if x.strip()])
    format_prompt(prompt or "{}", "x")
    # (how the input is shown, what kind it is, the value): a file's kind comes from its name.
    jobs: list[tuple[str, str, str | Path]] = []
    for path in files:
        by_name = kind_for_path(path)
        shown = str(path)
        if by_name is MediaKind.IMAGE:
            jobs.append((shown, "image", path))
        elif by_name is MediaKind.AUDIO:
            jobs.append((shown, "audio", path))
        else:
            jobs.append((shown, "text_file", path))
    jobs += [(f"item {i}", "item_id", i) for i in ids]
    jobs += [(t if len(t) <= 40 else t[:40] + "…", "text", t) for t in texts]
    out = []
    for shown, kind, value in jobs:
        try:
            text = decode_text(Path(value)) if kind == "text_file" else (
                str(value) if kind == "text" else None
            )
            ranked = engine.zero_shot_classify(
                names, text=text,
                image=Path(value) if kind == "image" else None,
                audio=Path(value) if kind == "audio" else None,
                item_id=str(value) if kind == "item_id" else None,
                collection=collection, prompt_template=prompt or "{}", space=space, top_k=top_k,
            )
            out.append({"input": shown, "labels": [{"label": lab, "probability": p} for lab, p in ranked], "error": None})
        except OmnivecError as exc:
            out.append({"input": shown, "labels": [], "error": str(exc)})
    return {"labels": names, "prompt": prompt or "{}", "results": out}


def register(app: typer.Typer) -> None:
    """Add ``probe ...`` and ``classify`` to the ``omnivec`` app (idempotent)."""
    if getattr(app, "_omnivec_probe_commands", False):
        return
    app.add_typer(probe_app, name="probe")
    app.command("classify")(handle_errors(classify))
    app._omnivec_probe_commands = True  # type: ignore[attr-defined]
