#!/usr/bin/env python3
"""Quality bar of few-shot probes on real labelled text (a benchmark, not a test).

Data sets (benchmarks/data, made offline from ``apt-cache dumpavail`` by
scripts/make_debian_probe_dataset.py): one-line Debian package descriptions labelled by archive
section. Debian's ``fortunes`` are not used (reserved for independent evaluation).
- debian_sections.jsonl: 1000 rows, 100 from each of 10 sections (sound, graphics, math, games,
  net, science, database, editors, mail, fonts); prompts use readable class names. The method's
  few-shot rule and the unlabelled-rows constants were designed on this set.
- debian_sections_b.jsonl: 800 rows, 80 from each of 10 other sections (video, admin, web,
  localization, electronics, hamradio, tex, vcs, kernel, interpreters); prompts use the raw
  section names (a weaker zero-shot classifier). A confirmation set.
- debian_sections_50.jsonl: 1200 rows, 24 from each of 50 sections, raw names; for the 50-class
  few-shot numbers and the training times.
Embedded with the bundled MiniLM (the ``text`` space, through omnivec's own encoder).

Sections (``--only`` picks some; all by default):

- ``few-shot``: for 1, 2, 4, 8 and 16 shots per class and ``--seeds`` draws, the shots are drawn
  per class and every other row is the test set - and the collection's unlabelled rows, as in
  ``omnivec probe train`` on a collection holding them all. Four classifiers are scored on it:
  zero-shot (argmax of cosine to the prompt "software package for {}"); the plain probe
  (``train_probe`` without prompts); the prior probe (with the prompt embeddings: today's probe
  before unlabelled rows); the prior probe + unlabelled rows (``unlabeled=`` the test rows: the
  default). For the last, whether cross-validation kept the unlabelled rows, and whether the
  report's 90% interval covered the accuracy measured on the test rows (**coverage**).
- ``ensembles``: zero-shot and the default probe with the single prompt vs the ensemble of that
  prompt and the built-in ``text`` template set (omnivec.indexer.prompt_sets).
- ``suggest``: active learning. From 1 shot per class, 5 rounds each add 10 labels chosen by
  ``suggest`` (omnivec.indexer.probes.suggestion, on the default probe's probabilities) or at
  random; the default probe after 5 rounds is scored on the rows neither strategy labelled.
- ``timing``: training with 100k unlabelled rows x 50 classes x 384-d (the 50-section set's rows
  plus noise: the cost does not depend on the values), 4 and 16 shots. Reported, never asserted.
- ``parity`` (sets with >= 32 rows per class): 16 shots x 10 classes, 10 draws; ``train_probe``
  (plain) vs scikit-learn's ``LogisticRegression`` with C chosen on the very same CV folds and
  grid, both refitted on all shots and scored on every other row.

    python scripts/bench_probes.py [--seeds 10] [--first-draw 0] [--only few-shot,suggest] [--json]
                                   [--out FILE]

Writes every number (per draw) to benchmarks/results/probes.json and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = REPO / "benchmarks" / "data"
# Set -> whether the prompts use the readable class names below (else the raw section names,
# a weaker zero-shot classifier: the harder case for "beat zero-shot").
DATA_SETS: dict[Path, bool] = {
    DATA / "debian_sections.jsonl": True,
    DATA / "debian_sections_b.jsonl": False,
    DATA / "debian_sections_50.jsonl": False,
}
PROMPT = "software package for {}"
# The independent check (scripts/make_fortunes_probe_dataset.py): never used to choose anything;
# not among the default sets, pass it with --data. Its own prompt: quotations, not packages.
FORTUNES = DATA / "fortunes_topics.jsonl"
SET_PROMPTS = {FORTUNES: "a quote about {}"}
SET_KINDS = {FORTUNES: "fortunes (quotations), labelled by topic"}
READABLE = {
    "sound": "sound and music",
    "graphics": "graphics and images",
    "math": "mathematics",
    "games": "games",
    "net": "networking",
    "science": "science",
    "database": "databases",
    "editors": "text editors",
    "mail": "email",
    "fonts": "fonts",
}
SECTIONS = ("few-shot", "ensembles", "suggest", "timing", "parity")
SHOTS = (1, 2, 4, 8, 16)
ROUNDS, PER_ROUND = 5, 10


def set_prompting(path: Path) -> tuple[str, dict[str, str] | None]:
    """A set's prompt template and class names: READABLE's names for the Debian sets that use
    them, the labels themselves otherwise (raw section names, or the fortunes' plain topics)."""
    return SET_PROMPTS.get(path, PROMPT), READABLE if DATA_SETS.get(path, False) else None


def _load(path: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["text"] for r in rows], [r["section"] for r in rows]


def _draw(y: np.ndarray, shots: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    train = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), size=shots, replace=False) for c in np.unique(y)]
    )
    test = np.setdiff1d(np.arange(len(y)), train)
    return np.sort(train), test


def _accuracy(model: Any, X: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.asarray(model.classes)[np.argmax(model.logits(X), axis=1)] == truth))


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": round(100 * float(np.mean(values)), 2), "std": round(100 * float(np.std(values)), 2)}


def few_shot(
    X: np.ndarray, labels: list[str], prompts: dict[str, np.ndarray], seeds: int, first_draw: int = 0
) -> dict[str, Any]:
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    classes = sorted(prompts)
    y = np.asarray([classes.index(lab) for lab in labels])
    P = np.stack([prompts[c] for c in classes])
    per_class = int(np.bincount(y).min())
    out: dict[str, Any] = {}
    for shots in SHOTS:
        if per_class - shots < 4:
            continue  # too few rows left to test on
        acc: dict[str, list[float]] = {"zero_shot": [], "plain": [], "prior": [], "unlabeled": []}
        used, covered, cv_prior, widths = 0, 0, 0, []
        optimistic = pessimistic = 0  # misses: the rest of the rows below / above the interval
        for seed in range(first_draw, first_draw + seeds):
            rng = np.random.default_rng(1000 + seed)
            train, test = _draw(y, shots, rng)
            ytr = [labels[i] for i in train]
            truth = np.asarray([labels[i] for i in test])
            acc["zero_shot"].append(float(np.mean(np.asarray(classes)[np.argmax(X[test] @ P.T, 1)] == truth)))
            cfg = ProbeTrainingConfig(seed=seed)
            plain, _ = train_probe(X[train], ytr, config=cfg)
            acc["plain"].append(_accuracy(plain, X[test], truth))
            prior, rep = train_probe(X[train], ytr, prompt_embeddings=prompts, config=cfg)
            acc["prior"].append(_accuracy(prior, X[test], truth))
            cv_prior += int(rep.zero_shot_prior_used)
            model, report = train_probe(
                X[train], ytr, prompt_embeddings=prompts, unlabeled=X[test], config=cfg
            )
            a = _accuracy(model, X[test], truth)
            acc["unlabeled"].append(a)
            used += int(report.unlabeled_used)
            interval = report.accuracy_interval
            if interval is not None:
                covered += int(interval.low <= a <= interval.high)
                optimistic += int(a < interval.low)
                pessimistic += int(a > interval.high)
                widths.append(interval.high - interval.low)
        out[f"{shots}_shot"] = {
            **{k: _summary(v) for k, v in acc.items()},
            "unlabeled_beats_plain_seeds": int(sum(p > q for p, q in zip(acc["unlabeled"], acc["plain"]))),
            "unlabeled_beats_zero_shot_seeds": int(sum(p > z for p, z in zip(acc["unlabeled"], acc["zero_shot"]))),
            "unlabeled_beats_prior_seeds": int(sum(p > z for p, z in zip(acc["unlabeled"], acc["prior"]))),
            "unlabeled_kept_by_cv_seeds": used,
            "prior_chosen_by_cv_seeds": cv_prior,
            "interval_covers_test_accuracy_seeds": covered,
            "interval_misses_optimistic_seeds": optimistic,
            "interval_misses_pessimistic_seeds": pessimistic,
            "interval_mean_width_pct": round(100 * float(np.mean(widths)), 1) if widths else None,
            "estimate": report.estimate_method,
            "seeds": seeds,
            "draws_pct": {k: [round(100 * a, 2) for a in v] for k, v in acc.items()},
            "test_rows": int(len(labels) - shots * len(classes)),
        }
    return out


def ensembles(
    hub: Any, X: np.ndarray, labels: list[str], names: dict[str, str] | None, seeds: int,
    prompt: str = PROMPT,
) -> dict[str, Any]:
    """Single prompt vs the prompt + the built-in text set, for zero-shot and the default probe."""
    from omnivec.indexer.classify import embed_prompts
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe
    from omnivec.indexer.prompt_sets import resolve_templates

    classes = sorted(set(labels))
    y = np.asarray([classes.index(lab) for lab in labels])
    variants = {
        "single": [prompt],
        "ensemble": resolve_templates([prompt], "text"),
    }
    out: dict[str, Any] = {"templates": {k: len(v) for k, v in variants.items()}}
    for key, templates in variants.items():
        P = embed_prompts(hub, "text", classes, templates, names)
        prompts = {c: P[i] for i, c in enumerate(classes)}
        zs = float(np.mean(np.argmax(X @ P.T, 1) == y))
        rows: dict[str, Any] = {"zero_shot_all_rows": round(100 * zs, 2)}
        for shots in (1, 2, 4):
            accs = []
            for seed in range(seeds):
                train, test = _draw(y, shots, np.random.default_rng(1000 + seed))
                model, _ = train_probe(
                    X[train], [labels[i] for i in train], prompt_embeddings=prompts,
                    unlabeled=X[test], config=ProbeTrainingConfig(seed=seed),
                )
                accs.append(_accuracy(model, X[test], np.asarray([labels[i] for i in test])))
            rows[f"{shots}_shot"] = _summary(accs)
        out[key] = rows
    return out


# (probe, every row's embedding, the unlabelled rows, generator) -> the rows to label next
Chooser = Callable[[Any, np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


def suggest_chooser(model: Any, X: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from omnivec.indexer.probes.suggestion import suggest_rows

    return pool[[s.row for s in suggest_rows(model.predict_proba(X[pool]), X[pool], PER_ROUND)]]


def random_chooser(model: Any, X: np.ndarray, pool: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.choice(pool, PER_ROUND, replace=False)


def labelling_rounds(
    X: np.ndarray, labels: list[str], prompts: dict[str, np.ndarray], seeds: int,
    strategies: dict[str, Chooser],
) -> tuple[dict[str, list[float]], dict[str, list[list[float]]]]:
    """From 1 shot per class, ROUNDS rounds of PER_ROUND labels chosen by each strategy (same
    start per draw): each strategy's final accuracy per draw, on the rows no strategy labelled
    (paired), and its accuracy on the unlabelled rows before each round."""
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    classes = sorted(prompts)
    y = np.asarray([classes.index(lab) for lab in labels])
    truth_all = np.asarray(labels)

    def train(rows: np.ndarray, seed: int) -> Any:
        rest = np.setdiff1d(np.arange(len(y)), rows)
        model, _ = train_probe(
            X[rows], [labels[i] for i in rows], prompt_embeddings=prompts, unlabeled=X[rest],
            config=ProbeTrainingConfig(seed=seed),
        )
        return model

    curves: dict[str, list[list[float]]] = {k: [] for k in strategies}
    finals: dict[str, list[float]] = {k: [] for k in strategies}
    for seed in range(seeds):
        start, _ = _draw(y, 1, np.random.default_rng(1000 + seed))
        labelled: dict[str, np.ndarray] = {}
        for name, chooser in strategies.items():
            rng = np.random.default_rng(5000 + seed)
            rows = start.copy()
            curve = []
            for _ in range(ROUNDS):
                model = train(rows, seed)
                pool = np.setdiff1d(np.arange(len(y)), rows)
                curve.append(_accuracy(model, X[pool], truth_all[pool]))
                rows = np.union1d(rows, chooser(model, X, pool, rng))
            labelled[name] = rows
            curves[name].append(curve)
        test = np.setdiff1d(np.arange(len(y)), np.unique(np.concatenate(list(labelled.values()))))
        for name, rows in labelled.items():
            finals[name].append(_accuracy(train(rows, seed), X[test], truth_all[test]))
    return finals, curves


def active_learning(X: np.ndarray, labels: list[str], prompts: dict[str, np.ndarray], seeds: int) -> dict[str, Any]:
    """From 1 shot, ROUNDS rounds of PER_ROUND labels by suggest vs at random (same start)."""
    finals, curves = labelling_rounds(
        X, labels, prompts, seeds, {"suggest": suggest_chooser, "random": random_chooser}
    )
    return {
        "start": "1 shot per class",
        "rounds": ROUNDS,
        "labels_per_round": PER_ROUND,
        "seeds": seeds,
        "after_rounds_pct": {k: _summary(v) for k, v in finals.items()},
        "suggest_beats_random_seeds": int(sum(s > r for s, r in zip(finals["suggest"], finals["random"]))),
        "curve_before_each_round_pct": {
            k: [round(100 * float(np.mean([c[r] for c in v])), 2) for r in range(ROUNDS)]
            for k, v in curves.items()
        },
        "draws_pct": {k: [round(100 * a, 2) for a in v] for k, v in finals.items()},
    }


def emit(lines: list[str], out: Path | None) -> None:
    """Print an exploration's text report and, with ``--out``, save it."""
    text = "\n".join(lines)
    print(text)
    if out:
        out.write_text(text + "\n", encoding="utf-8")


def parity(X: np.ndarray, labels: list[str], seeds: int = 10, shots: int = 16) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from omnivec.bench.fig6_probes import sklearn_same_job as _sklearn_same_job
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    classes = sorted(set(labels))
    y = np.asarray([classes.index(lab) for lab in labels])
    rows = []
    for seed in range(seeds):
        train, test = _draw(y, shots, np.random.default_rng(2000 + seed))
        ytr = [labels[i] for i in train]
        cfg = ProbeTrainingConfig(seed=seed)
        model, rep = train_probe(X[train], ytr, config=cfg)
        cs = [s.c for s in rep.cv_scores]
        c_sk, held_sk = _sklearn_same_job(X[train], ytr, cs, cfg)
        sk = LogisticRegression(C=c_sk, max_iter=cfg.max_iter, tol=cfg.tol).fit(X[train], y[train])
        # The solver alone: omnivec's fit at scikit-learn's chosen C (no selection, no split).
        same_c = ProbeTrainingConfig(seed=seed, c_grid=(c_sk,), refine_steps=0, holdout_fraction=0.0)
        ours_at_c, _ = train_probe(X[train], ytr, config=same_c)
        truth = np.asarray([labels[i] for i in test])
        rows.append({
            "seed": seed, "c_ours": rep.regularization_c, "c_sklearn": c_sk,
            "heldout_ours": rep.heldout_accuracy, "heldout_sklearn": held_sk,
            "test_ours": float(np.mean(np.asarray(model.predict(X[test])) == truth)),
            "test_sklearn": float(np.mean(np.asarray(classes)[sk.predict(X[test])] == truth)),
            "test_ours_at_sklearn_c": float(np.mean(np.asarray(ours_at_c.predict(X[test])) == truth)),
        })

    def mean(key: str) -> float:
        return 100 * float(np.mean([r[key] for r in rows]))

    end_to_end = abs(mean("test_ours") - mean("test_sklearn"))
    solver = max(100 * abs(r["test_ours_at_sklearn_c"] - r["test_sklearn"]) for r in rows)
    per_seed = max(100 * abs(r["test_ours"] - r["test_sklearn"]) for r in rows)
    return {
        "shape": f"{shots} shots x {len(classes)} classes, {seeds} draws",
        "runs": rows,
        "mean_test_ours": round(mean("test_ours"), 2),
        "mean_test_sklearn": round(mean("test_sklearn"), 2),
        # The bar: expected accuracy of the whole procedure (CV over the grid, refit), i.e. the
        # mean over draws, on the ~(N - shots x classes) rows not used for training.
        "mean_abs_diff_points": round(end_to_end, 2),
        # Same C, no selection: the two solvers' models agree to this many points on every draw.
        "max_abs_diff_points_same_c": round(solver, 2),
        # Per draw the chosen C can differ where CV accuracies tie within one validation row (the
        # two solvers stop at different points of a flat optimum), so single draws differ more.
        "max_abs_diff_points_per_draw": round(per_seed, 2),
        "test_rows": int(len(labels) - len(classes) * shots),
        "within_one_point": bool(end_to_end <= 1.0 and solver <= 1.0),
    }


def _timed(fn: Any, repeats: int) -> tuple[float, float, Any]:
    """Best wall and CPU seconds over ``repeats`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), result


def timing(X: np.ndarray, labels: list[str], prompts: dict[str, np.ndarray]) -> dict[str, Any]:
    """16 shots x 50 classes without unlabelled rows (as before), and 4 / 16 shots with 100k."""
    from omnivec.indexer.probes import ProbeTrainingConfig, train_probe

    y = np.asarray(labels)
    cfg = ProbeTrainingConfig(seed=0)
    out: dict[str, Any] = {"cpu_count": os.cpu_count()}
    train, _ = _draw(y, 16, np.random.default_rng(3000))
    Xt, lt = X[train], [labels[i] for i in train]
    wall_p, cpu_p, _ = _timed(lambda: train_probe(Xt, lt, config=cfg), 3)
    wall_z, cpu_z, _ = _timed(lambda: train_probe(Xt, lt, prompt_embeddings=prompts, config=cfg), 3)
    out["no_unlabeled"] = {
        "shape": f"16 shots x 50 classes x {X.shape[1]}-d (Debian sections, MiniLM)",
        "plain_wall_s": round(wall_p, 3), "plain_cpu_s": round(cpu_p, 3),
        "prior_wall_s": round(wall_z, 3), "prior_cpu_s": round(cpu_z, 3),
    }
    rng = np.random.default_rng(3001)
    base = X[rng.integers(0, len(X), size=100_000)]
    U = base + 0.05 * rng.normal(size=base.shape)
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    U = U.astype(np.float32)
    for shots in (4, 16):
        train, _ = _draw(y, shots, np.random.default_rng(3002))
        Xt, lt = X[train], [labels[i] for i in train]
        wall, cpu, (_, report) = _timed(
            lambda Xt=Xt, lt=lt: train_probe(Xt, lt, prompt_embeddings=prompts, unlabeled=U, config=cfg), 1
        )
        out[f"unlabeled_100k_{shots}_shot"] = {
            "shape": f"{shots} shots x 50 classes x {X.shape[1]}-d + 100000 unlabelled rows",
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "unlabeled_rows_read": report.unlabeled_rows or len(U),
            "unlabeled_kept_by_cv": report.unlabeled_used,
        }
    return out


def keyword_vectors(texts: list[str]) -> Any:
    """The texts' TF-IDF vectors (sparse): words and word pairs in 2+ texts, sublinear term
    frequency, the IDF learnt from all of them."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2)).fit_transform(texts)


def with_keywords(X: np.ndarray, P: np.ndarray, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's embedding joined with its TF-IDF vector over ``texts`` (words and word pairs in
    2+ texts, sublinear term frequency; each half unit-length, the whole renormalised); the
    prompts padded with zeros there, so zero-shot is unchanged. The IDF is learnt from every row,
    labelled or not: the keyword half is transductive too. An exploration (issue 14), not a
    product feature."""
    from omnivec.indexer.probes.numerics import as_unit_rows

    K = np.asarray(keyword_vectors(texts).todense(), dtype=np.float64)
    K /= np.maximum(np.linalg.norm(K, axis=1, keepdims=True), 1e-12)  # a text of no kept word: 0
    rows = np.hstack([as_unit_rows(X, None, what="embeddings"), K])
    padded = np.hstack([as_unit_rows(P, None, what="prompts"), np.zeros((len(P), K.shape[1]))])
    return as_unit_rows(rows, None, what="rows"), as_unit_rows(padded, None, what="prompts")


def evaluate_set(
    hub: Any, path: Path, seeds: int, sections: set[str], prompt_noise: float = 0.0,
    keywords: bool = False, first_draw: int = 0,
) -> dict[str, Any]:
    from omnivec.indexer.classify import embed_prompts

    texts, labels = _load(path)
    started = time.perf_counter()
    X = hub.text().encode_texts(texts).astype(np.float64)
    embed_s = time.perf_counter() - started
    classes = sorted(set(labels))
    prompt, names = set_prompting(path)
    readable = names is not None or path in SET_PROMPTS  # the fortunes' topics are plain words
    P = embed_prompts(hub, "text", classes, prompt, names)
    if prompt_noise > 0:
        # Poor prompts, simulated: each prompt embedding plus isotropic noise of norm ~noise
        # (seeded), renormalised. 2-3 takes zero-shot 15-25 points below a 4-shot plain probe.
        P = P / np.linalg.norm(P, axis=1, keepdims=True)
        P = P + prompt_noise * np.random.default_rng(7).normal(size=P.shape) / np.sqrt(P.shape[1])
        P = P / np.linalg.norm(P, axis=1, keepdims=True)
    if keywords:
        X, P = with_keywords(X, P, texts)
    prompts = {c: P[i] for i, c in enumerate(classes)}
    per_class = min(labels.count(c) for c in classes)
    out: dict[str, Any] = {
        "data": f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: "
                f"{len(texts)} {SET_KINDS.get(path, 'Debian package descriptions')}, "
                f"{len(classes)} classes",
        "prompt": prompt,
        "classes": len(classes),
        "class_names": "readable" if readable else "raw section names",
        "embed_seconds": round(embed_s, 2),
        "prompt_noise": prompt_noise,
        "features": "embedding + TF-IDF keywords" if keywords else "embedding",
        "_xy": (X, labels, prompts),
    }
    if "few-shot" in sections:
        out["few_shot_accuracy_pct"] = few_shot(X, labels, prompts, seeds, first_draw)
    if "ensembles" in sections and not prompt_noise:
        out["prompt_ensembles_pct"] = ensembles(hub, X, labels, names, max(3, seeds // 2), prompt)
    if "suggest" in sections:
        out["active_learning_pct"] = active_learning(X, labels, prompts, max(3, seeds // 2))
    if "parity" in sections:
        # 16 shots per class need a test set beyond them; prompts play no part in parity.
        out["parity_vs_sklearn"] = parity(X, labels) if per_class >= 32 and not prompt_noise else None
    return out


def _print(output: dict[str, Any]) -> None:
    print(f"encoder: {output['encoder']}  prompt: {PROMPT!r}")
    for result in output["sets"]:
        notes = f", prompt embeddings perturbed by {result['prompt_noise']:g}" if result['prompt_noise'] else ""
        if result.get("features", "embedding") != "embedding":
            notes += f", features: {result['features']}"
        print(f"\ndata: {result['data']} (class names: {result['class_names']}{notes}; "
              f"prompt {result.get('prompt', PROMPT)!r})")
        fs = result.get("few_shot_accuracy_pct")
        if fs:
            print(f"{'shots':>7} {'zero-shot':>11} {'plain':>11} {'prior':>11} {'+unlabeled':>11}"
                  "   >plain >zs >prior  cv kept  90% interval covers (mean width)")
            for key, r in fs.items():
                cells = [f"{r[k]['mean']:5.1f}±{r[k]['std']:4.1f}" for k in ("zero_shot", "plain", "prior", "unlabeled")]
                n = r["seeds"]
                width = "-" if r["interval_mean_width_pct"] is None else f"{r['interval_mean_width_pct']:.0f} pts"
                print(f"{key:>7} {cells[0]:>11} {cells[1]:>11} {cells[2]:>11} {cells[3]:>11}"
                      f"   {r['unlabeled_beats_plain_seeds']:>2}/{n} {r['unlabeled_beats_zero_shot_seeds']:>2}/{n}"
                      f" {r['unlabeled_beats_prior_seeds']:>2}/{n}  {r['unlabeled_kept_by_cv_seeds']:>2}/{n}"
                      f"   {r['interval_covers_test_accuracy_seeds']:>2}/{n} ({r['estimate']}, {width})"
                      + _misses(r))
        ens = result.get("prompt_ensembles_pct")
        if ens:
            for key in ("single", "ensemble"):
                e = ens[key]
                print(f"  prompts {key:<8} ({ens['templates'][key]:>2}): zero-shot {e['zero_shot_all_rows']:5.1f}  "
                      + "  ".join(f"{s} {e[s]['mean']:5.1f}" for s in ("1_shot", "2_shot", "4_shot")))
        al = result.get("active_learning_pct")
        if al:
            a = al["after_rounds_pct"]
            print(f"  active learning, 1 shot + {al['rounds']} x {al['labels_per_round']} labels: suggest "
                  f"{a['suggest']['mean']:.1f}±{a['suggest']['std']:.1f} vs random {a['random']['mean']:.1f}"
                  f"±{a['random']['std']:.1f} (suggest better in {al['suggest_beats_random_seeds']}/{al['seeds']} draws)")
        p = result.get("parity_vs_sklearn")
        if p:
            print(f"parity ({p['shape']}, {p['test_rows']} test rows): mean ours {p['mean_test_ours']}% vs "
                  f"sklearn {p['mean_test_sklearn']}% (|diff| {p['mean_abs_diff_points']} pts); same C: "
                  f"max |diff| {p['max_abs_diff_points_same_c']} pts; per draw (C chosen separately) max "
                  f"{p['max_abs_diff_points_per_draw']} pts -> within 1 point: {p['within_one_point']}")
    coverage = output.get("coverage")
    if coverage:
        print(f"\ncoverage of the 90% accuracy interval: {coverage['covered']}/{coverage['draws']} draws "
              f"({coverage['pct']:.1f}%); by shots: "
              + ", ".join(f"{k} {v['pct']:.0f}%" for k, v in coverage["by_shots"].items()))
    t = output.get("timing")
    if t:
        n = t["no_unlabeled"]
        print(f"\ntraining {n['shape']}: plain {n['plain_wall_s']} s wall, with prompts {n['prior_wall_s']} s "
              f"wall, {t['cpu_count']} CPUs")
        for key in ("unlabeled_100k_4_shot", "unlabeled_100k_16_shot"):
            u = t[key]
            print(f"training {u['shape']}: {u['wall_s']} s wall ({u['cpu_s']} s CPU), "
                  f"kept by CV: {u['unlabeled_kept_by_cv']}")


def _misses(r: dict[str, Any]) -> str:
    """The draws whose interval missed, by direction (results saved before they were counted
    have no such keys)."""
    if "interval_misses_optimistic_seeds" not in r:
        return ""
    return (f"  missed: {r['interval_misses_optimistic_seeds']} optimistic, "
            f"{r['interval_misses_pessimistic_seeds']} pessimistic")


def _coverage(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    by_shots: dict[str, list[int]] = {}
    for result in results:
        for key, r in (result.get("few_shot_accuracy_pct") or {}).items():
            counts = by_shots.setdefault(key, [0, 0])
            counts[0] += r["interval_covers_test_accuracy_seeds"]
            counts[1] += r["seeds"]
    if not by_shots:
        return None
    covered = sum(c for c, _ in by_shots.values())
    draws = sum(n for _, n in by_shots.values())
    return {
        "level": 0.9,
        "covered": covered,
        "draws": draws,
        "pct": round(100 * covered / draws, 1),
        "by_shots": {k: {"covered": c, "draws": n, "pct": round(100 * c / n, 1)} for k, (c, n) in by_shots.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument(
        "--data", type=Path, action="append",
        help="JSONL set(s) to evaluate (default: the three committed Debian sets)",
    )
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections: {', '.join(SECTIONS)}")
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--first-draw", type=int, default=0,
        help="few-shot: the first draw's number (draws first..first+seeds-1), for fresh draws",
    )
    ap.add_argument(
        "--prompt-noise", type=float, default=0.0,
        help="perturb the prompt embeddings (poor prompts, simulated), e.g. 2.5; 0 = real prompts",
    )
    ap.add_argument(
        "--keywords", action="store_true",
        help="join each embedding with its TF-IDF vector over the set's texts (an exploration)",
    )
    ap.add_argument(
        "--out", type=Path, default=REPO / "benchmarks" / "results" / "probes.json",
        help="where the full results (every draw) are written as JSON",
    )
    args = ap.parse_args()
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = sections - set(SECTIONS)
    if unknown:
        ap.error(f"unknown section(s) {sorted(unknown)}; use {', '.join(SECTIONS)}")

    from omnivec.indexer.config import load_settings
    from omnivec.indexer.models import ModelHub

    hub = ModelHub(load_settings(offline=True))
    results = [
        evaluate_set(
            hub, path, args.seeds, sections, args.prompt_noise, args.keywords, args.first_draw
        )
        for path in ([p.resolve() for p in args.data] if args.data else list(DATA_SETS))
    ]
    timed = next((r for r in results if r["classes"] == 50), None)
    output: dict[str, Any] = {
        "encoder": hub.text().spec.describe(),
        "prompt": PROMPT,
        "sections": sorted(sections),
        "sets": results,
        "coverage": _coverage(results),
        "timing": timing(*timed["_xy"]) if timed and "timing" in sections else None,
    }
    for r in results:
        r.pop("_xy")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(output, indent=2))
        return
    _print(output)


if __name__ == "__main__":
    main()
