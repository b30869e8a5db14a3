"""``omnivec eval``: retrieval quality of a collection on the user's labelled queries.

The retrieval counterpart of ``probe train``'s accuracy report: recall@1/5/10, MRR@10 and
nDCG@10 per search configuration (each space alone, keyword alone, vector, hybrid, routed, and
with ``--tune`` the cross-validated tuned weights), each with a bootstrap interval, then every
configuration minus the baseline on the same queries. ``--json`` prints the report's fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from omnivec.cli._common import console, handle_errors, print_json
from omnivec.cli.backend import backend
from omnivec.cli.fusion_options import parse_fusion
from omnivec.cli.stage_progress import StageProgress
from omnivec.client.types import METRICS, EvalOptions, EvalProgress, EvalReport, Fusion
from omnivec.indexer.errors import InvalidInputError

__all__ = ["eval_report_to_json", "register"]

_TITLES = {"recall@1": "R@1", "recall@5": "R@5", "recall@10": "R@10", "mrr@10": "MRR@10", "ndcg@10": "nDCG@10"}


def _fusion_json(fusion: Fusion) -> dict[str, Any]:
    return {"weights": dict(sorted(fusion.weights.items())), "route_by_modality": fusion.route_by_modality}


def eval_report_to_json(report: EvalReport) -> dict[str, Any]:
    """``eval --json``: the report with the proto's field names, figures rounded to 4 places."""

    def estimate(e: Any) -> dict[str, float]:
        return {"value": round(e.value, 4), "low": round(e.low, 4), "high": round(e.high, 4)}

    return {
        "collection": report.collection,
        "queries": report.queries,
        "configurations": [
            {
                "name": c.name, "description": c.description, "queries": c.queries,
                "metrics": {k: estimate(v) for k, v in c.metrics.items()},
            }
            for c in report.configurations
        ],
        "baseline": report.baseline,
        "differences": [
            {
                "configuration": d.configuration, "metric": d.metric,
                "difference": estimate(d.difference), "better": d.better, "worse": d.worse,
            }
            for d in report.differences
        ],
        "tuning": None if report.tuning is None else {
            "fusion": _fusion_json(report.tuning.fusion), "objective": report.tuning.objective,
            "folds": report.tuning.folds, "candidates": report.tuning.candidates,
            "stored": report.tuning.stored, "reason": report.tuning.reason,
        },
        "fusion": _fusion_json(report.fusion),
        "bootstrap_samples": report.bootstrap_samples,
        "seed": report.seed,
        "notes": list(report.notes),
    }


def _weights_text(fusion: Fusion) -> str:
    text = ", ".join(f"{k}={v:g}" for k, v in sorted(fusion.weights.items())) or "equal"
    return text + (", routed by modality" if fusion.route_by_modality else "")


def print_eval_report(report: EvalReport) -> None:
    console.print(
        f"[bold]{report.collection}[/]: {report.queries} queries, fusion weights "
        f"{_weights_text(report.fusion)}; 95% bootstrap intervals ({report.bootstrap_samples} "
        "resamples)", highlight=False,
    )
    table = Table("configuration", *(_TITLES[m] for m in METRICS))
    for c in report.configurations:
        table.add_row(
            c.name,
            *(f"{c.metrics[m].value:.3f}\n[{c.metrics[m].low:.3f}, {c.metrics[m].high:.3f}]" for m in METRICS),
        )
    console.print(table)
    for c in report.configurations:
        console.print(f"  {c.name}: {c.description}", style="dim", highlight=False)
    diffs = Table(f"minus {report.baseline}", *(_TITLES[m] for m in METRICS))
    by_config: dict[str, dict[str, Any]] = {}
    for d in report.differences:
        by_config.setdefault(d.configuration, {})[d.metric] = d
    for name, metrics in by_config.items():
        cells = []
        for m in METRICS:
            d = metrics[m]
            sure = "*" if d.difference.low > 0 or d.difference.high < 0 else ""
            cells.append(
                f"{d.difference.value:+.3f}{sure} {d.better}/{d.worse}\n"
                f"[{d.difference.low:+.3f}, {d.difference.high:+.3f}]"
            )
        diffs.add_row(name, *cells)
    console.print(diffs)
    console.print(
        "  * the interval excludes 0; a/b: queries that got better/worse", style="dim",
        highlight=False,
    )
    if report.tuning is not None:
        t = report.tuning
        console.print(
            f"tuned for {t.objective} over {t.candidates} weightings, {t.folds}-fold "
            f"cross-validated: {_weights_text(t.fusion)}; {t.reason}", highlight=False,
        )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def eval_(
    ctx: typer.Context,
    queries: Annotated[Path, typer.Argument(help="JSONL of labelled queries: query (or image/audio path) and relevant ids.")],
    collection: Annotated[str, typer.Option("--collection", "-c")] = "",
    tune: Annotated[bool, typer.Option("--tune", help="Choose fusion weights by cross-validation and store them.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --tune: do not store the weights.")] = False,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds for --tune.")] = 5,
    objective: Annotated[str, typer.Option("--objective", help="What --tune maximises: " + ", ".join(METRICS) + ".")] = "ndcg@10",
    baseline: Annotated[str, typer.Option("--baseline", help="The configuration the others are compared with.")] = "vector",
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples per interval.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap and the folds.")] = 0,
    weights: Annotated[str | None, typer.Option("--weights", help="Weights to evaluate instead of the collection's, e.g. text=1,keyword=0.5.")] = None,
    route: Annotated[bool, typer.Option("--route", help="With --weights: route by modality.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Measure retrieval on labelled queries: recall@1/5/10, MRR@10, nDCG@10 per configuration."""
    from omnivec.indexer.evaluation import load_queries

    if not collection:
        raise InvalidInputError("--collection is required")
    labelled = load_queries(queries)
    options = EvalOptions(
        tune=tune, folds=folds, objective=objective, bootstrap_samples=bootstrap, seed=seed,
        baseline=baseline, fusion=parse_fusion(weights, route), dry_run=dry_run,
    )
    with StageProgress(disable=quiet or as_json) as bars:

        def progress(event: EvalProgress) -> None:
            bars(event.stage, event.done, event.total)

        report = backend(ctx).evaluate(collection, labelled, options, progress)
    if as_json:
        print_json(eval_report_to_json(report))
        return
    print_eval_report(report)


def register(app: typer.Typer) -> None:
    app.command("eval")(handle_errors(eval_))
