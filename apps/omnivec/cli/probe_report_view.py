"""How ``omnivec probe train`` and ``probe show`` print a training report.

Every number says how it was measured: the accuracy's title names its estimate (held out,
cross-validated, leave-one-out) and carries its 90% interval; each comparison (with zero-shot,
the plain probe, the probe without the unlabelled rows) is paired on the same rows and says
"cannot tell apart" when its interval spans 0; a C the trust region set is never called chosen.
The same function prints a record read locally or over ``--server``, so both print the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table

from omnivec.cli._common import console

if TYPE_CHECKING:
    from omnivec.indexer.probes.report import Comparison, ProbeReport
    from omnivec.indexer.probes.storage import ProbeRecord

__all__ = ["pct", "print_report"]


def pct(value: Any) -> str:
    """A fraction as a percentage with one decimal, "-" for None."""
    return "-" if value is None else f"{100 * float(value):.1f}%"


def print_report(record: ProbeRecord) -> None:
    """The training report of a probe version, in words and tables.

    Every number says how it was measured: the accuracy's title names its estimate (held out,
    cross-validated, leave-one-out), carries its 90% interval, and each comparison is paired on
    the same rows, saying "cannot tell apart" when its interval spans 0."""
    report = record.report
    console.print(
        f"[bold]{record.name}[/] v{record.version} on [bold]{record.collection}[/] "
        f"({record.space} space, {record.encoder.describe()})", highlight=False,
    )
    console.print(
        f"  classes: {', '.join(record.classes)}  |  examples: {report.n_train} train + "
        f"{report.n_heldout} held out  |  {_unlabeled(report)}", highlight=False,
    )
    templates = record.prompt_templates or ((record.prompt_template,) if record.prompt_template else ())
    prompts = ""
    if templates:
        shown = ", ".join(repr(t) for t in templates[:3]) + (", ..." if len(templates) > 3 else "")
        count = f"{len(templates)} prompts" if len(templates) > 1 else "prompt"
        prompts = f" ({count} {shown}" + (f", set {record.prompt_set!r}" if record.prompt_set else "") + ")"
    console.print(
        f"  {_c_rule(report)}  |  zero-shot prior: "
        f"{'used' if report.zero_shot_prior_used else 'not used'}{prompts}",
        highlight=False,
    )
    estimate = report.estimate_method or "none"
    if report.accuracy is None:
        console.print(f"  accuracy: no estimate ({estimate})", highlight=False)
    else:
        interval = report.accuracy_interval
        rows = report.n_heldout if estimate == "held-out split" else report.n_train
        # The upper end raised for the examples the scored probe lacked (see the notes).
        raised = (
            ", upper end raised for the learning curve"
            if interval is not None and interval.method.endswith("learning curve")
            else ""
        )
        span = (
            f" (90% interval {pct(interval.low)}-{pct(interval.high)}, {rows} rows{raised})"
            if interval is not None
            else ""
        )
        console.print(f"  {report.accuracy_title}: probe [bold]{pct(report.accuracy)}[/]{span}", highlight=False)
    if report.comparisons:
        for comparison in report.comparisons:
            console.print(
                f"    vs {comparison.baseline} {pct(comparison.baseline_accuracy)}: "
                f"{_comparison_words(comparison)}",
                highlight=False,
            )
    elif report.accuracy is not None:  # stored before comparisons were paired
        console.print(
            f"    zero-shot: {pct(report.zero_shot_accuracy)}  |  plain probe: "
            f"{pct(report.plain_probe_accuracy)}",
            highlight=False,
        )
    console.print(
        f"  temperature: {report.temperature:.3g}  |  training time: "
        f"{report.train_seconds:.2f} s"
        + (f"  |  abstains below {record.abstain_threshold:g}" if record.abstain_threshold is not None else ""),
        highlight=False,
    )
    if report.class_metrics:
        table = Table("class", "precision", "recall", "F1", "support", title=f"per class ({estimate})")
        for m in report.class_metrics:
            table.add_row(m.label, f"{m.precision:.2f}", f"{m.recall:.2f}", f"{m.f1:.2f}", str(m.support))
        console.print(table)
    if report.confusion_matrix:
        classes = list(report.classes)
        table = Table("true \\ predicted", *classes, title=f"confusion matrix ({estimate})")
        for label, row in zip(classes, report.confusion_matrix):
            table.add_row(label, *(str(v) for v in row))
        console.print(table)
    for note in report.notes:
        console.print(f"  [yellow]note:[/] {note}", highlight=False)


def _comparison_words(comparison: Comparison) -> str:
    """"better by 6.0 points (90% interval +1.2 to +10.8)" / "cannot tell apart on 8 rows (...)"."""
    span = f"90% interval {100 * comparison.interval.low:+.1f} to {100 * comparison.interval.high:+.1f}"
    if comparison.verdict == "cannot tell apart":
        return f"cannot tell apart on {comparison.rows} rows ({100 * comparison.difference:+.1f} points, {span})"
    return f"{comparison.verdict} by {abs(100 * comparison.difference):.1f} points ({span})"


def _unlabeled(report: ProbeReport) -> str:
    if report.unlabeled_used:
        return (
            f"unlabeled rows: learnt from {report.unlabeled_rows} of "
            f"{report.unlabeled_available}"
        )
    if report.unlabeled_available:
        return f"unlabeled rows: {report.unlabeled_available}, not used"
    return "unlabeled rows: none used"


def _c_rule(report: ProbeReport) -> str:
    """How C was set, in words: a C the trust region set is never called "chosen"."""
    c = f"{report.regularization_c:.3g}"
    rule = report.c_rule
    if rule == "trust region":
        return f"C: set by the trust region ({c}; leave-one-out cannot rank C with one example per class)"
    if rule == "one standard error, trust region":
        return f"C: {c} (weakest within one standard error of the best, inside the trust region; {_selection(report)})"
    if rule == "fixed":
        return f"C: fixed at {c} (one example per class and no prompts)"
    return f"chosen C: {c} ({_selection(report)})"


def _selection(report: ProbeReport) -> str:
    """"k-fold, 5 folds" / "repeated-splits, 2 folds x 10" / "leave-one-out" / "fixed"."""
    method = report.selection_method
    folds = report.cv_folds
    repetitions = report.cv_repetitions
    if method in ("fixed", "leave-one-out") or not folds:
        return method
    return f"{method}, {folds} folds" + (f" x {repetitions}" if repetitions > 1 else "")
