"""The probe training math (omnivec.indexer.probes.training): real fits, no mocks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from omnivec.indexer.errors import CorruptDataError, InvalidInputError
from omnivec.indexer.probes import ProbeModel, ProbeReport, ProbeTrainingConfig, train_probe
from tests.support.topics import TRAINING_TOPICS


def _unit(a: NDArray[Any]) -> NDArray[np.float64]:
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def _clusters(
    n_classes: int,
    per_class: int,
    dim: int,
    noise: float,
    seed: int,
    shared: float = 0.0,
    sample_seed: int | None = None,
) -> tuple[NDArray[np.float64], list[str], NDArray[np.float64]]:
    """Unit-norm Gaussian clusters; ``shared`` adds a common direction so classes overlap the way
    real embedding spaces do (all cosines positive). ``sample_seed`` draws fresh points around the
    same means (a test set)."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=dim)
    means = _unit(shared * common + rng.normal(size=(n_classes, dim)))
    if sample_seed is not None:
        rng = np.random.default_rng(sample_seed)
    X = np.repeat(means, per_class, axis=0) + noise * rng.normal(size=(n_classes * per_class, dim))
    labels = [f"class{i}" for i in np.repeat(np.arange(n_classes), per_class)]
    return _unit(X), labels, means


def _nll(proba: NDArray[np.float64], y: NDArray[np.intp]) -> float:
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], 1e-300, None))))


# ---------------------------------------------------------------------------------------------
# Well separated data, report consistency
# ---------------------------------------------------------------------------------------------


def test_well_separated_clusters_are_learned_exactly() -> None:
    X, labels, means = _clusters(4, 12, 32, noise=0.05, seed=1)
    model, report = train_probe(X, labels)

    assert report.classes == ("class0", "class1", "class2", "class3")
    assert report.heldout_accuracy == 1.0
    assert report.estimate_method == "held-out split"
    assert report.n_heldout == 4 * 3 and report.n_train == 4 * 9
    assert report.selection_method == "k-fold"
    assert report.zero_shot_accuracy is None
    assert report.plain_probe_accuracy == 1.0
    assert report.zero_shot_prior_used is False
    assert [m.f1 for m in report.class_metrics] == [1.0] * 4
    assert report.confusion_matrix == tuple(
        tuple(3 if i == j else 0 for j in range(4)) for i in range(4)
    )
    assert model.predict(X) == labels
    # Fresh points near each mean, including a non-normalised one (the model renormalises).
    fresh = means * 3.0
    assert model.predict(fresh) == ["class0", "class1", "class2", "class3"]
    top = model.predict_top_k(fresh[:1], 2)
    assert top[0][0][0] == "class0" and top[0][0][1] > top[0][1][1]
    assert np.allclose(model.predict_proba(X).sum(axis=1), 1.0)
    assert report.cv_scores and all(0.0 <= s.accuracy <= 1.0 for s in report.cv_scores)
    assert report.regularization_c in [s.c for s in report.cv_scores]
    assert report.train_seconds > 0


def test_report_metrics_match_sklearn_recomputation() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    X, labels, _ = _clusters(6, 20, 32, noise=0.25, seed=2, shared=1.0)
    model, report = train_probe(X, labels)
    assert report.estimate_method == "held-out split"
    y_true = [labels[i] for i in report.evaluated_rows]
    y_pred = list(report.evaluated_predictions)
    assert len(y_true) == report.n_heldout == 6 * 5
    # Some mistakes, so per-class numbers and off-diagonal counts are actually exercised.
    assert report.heldout_accuracy is not None and 0.3 < report.heldout_accuracy < 1.0

    assert report.heldout_accuracy == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    classes = list(report.classes)
    p, r, f, s = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    for i, m in enumerate(report.class_metrics):
        assert m.label == classes[i]
        assert m.precision == pytest.approx(p[i])
        assert m.recall == pytest.approx(r[i])
        assert m.f1 == pytest.approx(f[i])
        assert m.support == s[i]
    cm = metrics.confusion_matrix(y_true, y_pred, labels=classes)
    assert [list(row) for row in report.confusion_matrix] == cm.tolist()

    d = report.to_dict()
    import json

    assert json.loads(json.dumps(d))["heldout_accuracy"] == report.heldout_accuracy
    assert d["class_metrics"][0]["label"] == "class0"
    # The JSON form reads back as the same report (what probe.json stores).
    assert ProbeReport.from_dict(json.loads(json.dumps(d))) == report


# ---------------------------------------------------------------------------------------------
# Parity with scikit-learn
# ---------------------------------------------------------------------------------------------


def test_parity_with_sklearn_logistic_regression() -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    X, labels, _ = _clusters(10, 40, 64, noise=0.25, seed=3, shared=1.0)
    y = np.asarray([int(lab[5:]) for lab in labels])
    c = 1.0
    cfg = ProbeTrainingConfig(c_grid=(c,), refine_steps=0)
    model, report = train_probe(X, labels, config=cfg)
    assert report.regularization_c == c

    held = np.asarray(report.evaluated_rows)
    train = np.setdiff1d(np.arange(len(y)), held)
    ref = linear_model.LogisticRegression(C=c, solver="lbfgs", max_iter=1000, tol=1e-4)
    ref.fit(X[train], y[train])
    ref_acc = float(np.mean(ref.predict(X[held]) == y[held]))
    assert report.heldout_accuracy is not None
    # Non-trivial: neither perfect nor hopeless, so agreement means something.
    assert 0.5 < report.heldout_accuracy < 0.99
    assert abs(report.heldout_accuracy - ref_acc) <= 0.01 + 1e-12

    # The returned model is refitted on all data: compare with sklearn refitted on all data, on
    # the training rows and on fresh points from the same distribution.
    full = linear_model.LogisticRegression(C=c, solver="lbfgs", max_iter=1000, tol=1e-4)
    full.fit(X, y)
    X_new, _, _ = _clusters(10, 40, 64, noise=0.25, seed=3, shared=1.0, sample_seed=99)
    both = np.vstack([X, X_new])
    ours = np.asarray([int(p[5:]) for p in model.predict(both) if p is not None])
    assert len(ours) == len(both)
    agreement = float(np.mean(ours == full.predict(both)))
    assert agreement >= 0.98, agreement
    # Same objective => the same solution up to the solver tolerance.
    assert np.abs(model.weights - full.coef_).max() < 0.05 * np.abs(full.coef_).max()


# ---------------------------------------------------------------------------------------------
# Zero-shot prior on real text embeddings
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shots", [1, 2])
def test_zero_shot_prior_helps_at_one_and_two_shots(
    minilm_topics: tuple[NDArray[np.float32], list[str], dict[str, NDArray[np.float32]]],
    shots: int,
) -> None:
    X, labels, prompts = minilm_topics
    y = np.asarray(labels)
    with_prior: list[float] = []
    plain: list[float] = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        train = np.concatenate(
            [rng.choice(np.flatnonzero(y == t), size=shots, replace=False) for t in TRAINING_TOPICS]
        )
        test = np.setdiff1d(np.arange(len(y)), train)
        train_labels = [labels[i] for i in train]
        # Report's held-out split is off here: the test set below is the evaluation.
        cfg = ProbeTrainingConfig(seed=seed, holdout_fraction=0.0)
        m_prior, r_prior = train_probe(X[train], train_labels, prompt_embeddings=prompts, config=cfg)
        m_plain, r_plain = train_probe(X[train], train_labels, config=cfg)
        with_prior.append(float(np.mean(np.asarray(m_prior.predict(X[test])) == y[test])))
        plain.append(float(np.mean(np.asarray(m_plain.predict(X[test])) == y[test])))
        if shots == 1:
            assert r_prior.selection_method == "leave-one-out"
            assert r_prior.zero_shot_prior_used
            assert r_prior.prior_scale is not None and r_prior.prior_scale > 0
            assert r_plain.selection_method == "fixed"
            assert r_plain.accuracy is None and r_plain.estimate_method == "none"
            assert r_prior.zero_shot_accuracy is not None
        else:
            assert r_prior.selection_method == "repeated-splits"
    assert np.mean(with_prior) >= np.mean(plain), (with_prior, plain)
    # The prompts are informative for this data: the prior probe is well above chance (1/6).
    assert np.mean(with_prior) > 0.6


def test_two_shot_report_keeps_every_example_for_selection(
    minilm_topics: tuple[NDArray[np.float32], list[str], dict[str, NDArray[np.float32]]],
) -> None:
    X, labels, prompts = minilm_topics
    y = np.asarray(labels)
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == t), 2, replace=False) for t in TRAINING_TOPICS])
    model, report = train_probe(X[idx], [labels[i] for i in idx], prompt_embeddings=prompts)
    # Holding one of two examples out would leave leave-one-out for selection; below 4 per class
    # nothing is held out and all three numbers are out-of-fold estimates on the same rows.
    assert report.estimate_method == "cross-validation"
    assert report.n_heldout == 0 and report.n_train == 12
    assert report.selection_method == "repeated-splits"
    assert report.zero_shot_accuracy is not None and report.plain_probe_accuracy is not None
    # Named for what it is: nothing was held out, so it is a cross-validated accuracy.
    assert report.cv_accuracy is not None and report.heldout_accuracy is None
    assert report.accuracy == report.cv_accuracy
    assert "heldout_accuracy" not in report.to_dict() and "cv_accuracy" in report.to_dict()
    assert any("one standard error" in n for n in report.notes)
    assert len(model.predict(X)) == len(X)


def test_one_shot_probe_moves_off_the_zero_shot_classifier_within_the_trust_region(
    minilm_topics: tuple[NDArray[np.float32], list[str], dict[str, NDArray[np.float32]]],
) -> None:
    """Leave-one-out alone would always pick the strongest regularisation at one shot (it never
    sees a class's own example); the few-shot rule must move the probe towards its examples, but
    not further than the trust radius from the prompts."""
    from omnivec.indexer.probes.selection import FEW_SHOT_TRUST_RADIUS

    X, labels, prompts = minilm_topics
    y = np.asarray(labels)
    rng = np.random.default_rng(3)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == t), 1, replace=False) for t in TRAINING_TOPICS])
    model, report = train_probe(X[idx], [labels[i] for i in idx], prompt_embeddings=prompts)
    assert report.selection_method == "leave-one-out" and report.zero_shot_prior_used
    grid = sorted(s.c for s in report.cv_scores)
    assert report.regularization_c > grid[0], "the one-shot probe collapsed onto the zero-shot classifier"
    # The final weights: away from the scaled prompts, but within the radius (the final fit sees
    # one more example than the LOO fits the radius was checked on, hence the slack).
    assert report.prior_scale is not None
    P = np.stack([prompts[c] / np.linalg.norm(prompts[c]) for c in model.classes]).astype(np.float64)
    W0 = report.prior_scale * P
    distance = float(np.linalg.norm(model.weights - W0) / np.linalg.norm(W0))
    assert 1e-3 < distance <= 1.5 * FEW_SHOT_TRUST_RADIUS, distance
    # Its own examples are classified as labelled.
    assert model.predict(X[idx]) == [labels[i] for i in idx]


def test_four_shot_report_uses_heldout_split_with_prompts(
    minilm_topics: tuple[NDArray[np.float32], list[str], dict[str, NDArray[np.float32]]],
) -> None:
    X, labels, prompts = minilm_topics
    y = np.asarray(labels)
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == t), 4, replace=False) for t in TRAINING_TOPICS])
    _, report = train_probe(X[idx], [labels[i] for i in idx], prompt_embeddings=prompts)
    assert report.estimate_method == "held-out split"
    assert report.n_heldout == 6 and report.n_train == 18
    assert report.selection_method == "repeated-splits"  # 3 per class left after the split
    assert report.zero_shot_accuracy is not None and report.plain_probe_accuracy is not None
    assert sum(sum(r) for r in report.confusion_matrix) == 6


# ---------------------------------------------------------------------------------------------
# Calibration and abstention
# ---------------------------------------------------------------------------------------------


def test_temperature_scaling_fixes_an_overconfident_probe() -> None:
    # Few examples in many dimensions with heavy overlap and almost no regularisation: the fit
    # separates the training data and is wildly over-confident on new data.
    X, labels, _ = _clusters(5, 24, 128, noise=0.25, seed=4, shared=1.0)
    cfg = ProbeTrainingConfig(c_grid=(1e4,), refine_steps=0)
    model, report = train_probe(X, labels, config=cfg)
    assert report.temperature > 1.0
    X_test, labels_test, _ = _clusters(5, 60, 128, noise=0.25, seed=4, shared=1.0, sample_seed=7)
    y_test = np.asarray([model.classes.index(lab) for lab in labels_test])
    logits = model.logits(X_test)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    uncalibrated = e / e.sum(axis=1, keepdims=True)
    assert _nll(model.predict_proba(X_test), y_test) < _nll(uncalibrated, y_test)
    # Calibration never changes the decision.
    assert np.array_equal(model.predict_proba(X_test).argmax(1), logits.argmax(1))
    assert report.log_loss is not None and math.isfinite(report.log_loss)


def test_abstain_threshold_returns_none_below_it() -> None:
    model = ProbeModel(
        classes=("a", "b"),
        weights=np.array([[4.0, 0.0], [0.0, 4.0]], dtype=np.float32),
        bias=np.zeros(2, dtype=np.float32),
        temperature=1.0,
        abstain_threshold=0.9,
    )
    X = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    assert model.predict(X) == ["a", None, "b"]
    p = model.predict_proba(X)
    assert p[1, 0] == pytest.approx(0.5) and p[0, 0] > 0.9

    X2, labels2, means2 = _clusters(3, 10, 16, noise=0.05, seed=5)
    m2, _ = train_probe(X2, labels2, config=ProbeTrainingConfig(abstain_threshold=0.999999))
    ambiguous = _unit(means2[0] + means2[1])
    assert m2.predict(ambiguous[None, :]) == [None]
    m3, _ = train_probe(X2, labels2, config=ProbeTrainingConfig(abstain_threshold=None))
    assert m3.predict(ambiguous[None, :])[0] in ("class0", "class1")


# ---------------------------------------------------------------------------------------------
# Storage round trip, progress
# ---------------------------------------------------------------------------------------------


def test_model_round_trips_through_arrays() -> None:
    X, labels, _ = _clusters(3, 8, 16, noise=0.1, seed=6)
    progress: list[tuple[str, int, int]] = []
    model, _ = train_probe(
        X,
        labels,
        config=ProbeTrainingConfig(abstain_threshold=0.5),
        progress=lambda stage, done, total: progress.append((stage, done, total)),
    )
    arrays, meta = model.to_arrays()
    import json

    meta = json.loads(json.dumps(meta))
    again = ProbeModel.from_arrays(arrays, meta)
    assert again.classes == model.classes
    assert again.abstain_threshold == 0.5
    assert np.array_equal(again.predict_proba(X), model.predict_proba(X))
    assert again.predict(X) == model.predict(X)
    assert model.weights.dtype == np.float32 and not model.weights.flags.writeable

    stages = {p[0] for p in progress}
    assert "fit final model" in stages and any(s.startswith("select C") for s in stages)
    for stage in stages:
        last = [p for p in progress if p[0] == stage][-1]
        assert last[1] == last[2]

    with pytest.raises(CorruptDataError):
        ProbeModel.from_arrays({"weights": arrays["weights"]}, meta)
    with pytest.raises(CorruptDataError):
        ProbeModel.from_arrays({**arrays, "bias": np.zeros(7, np.float32)}, meta)
    with pytest.raises(CorruptDataError):
        ProbeModel.from_arrays(arrays, {**meta, "format": 99})


def test_one_example_per_class_without_prompts_says_so() -> None:
    X, labels, _ = _clusters(4, 1, 16, noise=0.05, seed=8)
    model, report = train_probe(X, labels)
    assert report.selection_method == "fixed"
    assert report.estimate_method == "none" and report.heldout_accuracy is None
    assert report.n_heldout == 0 and report.class_metrics == () and report.confusion_matrix == ()
    assert any("no estimate" in n for n in report.notes)
    assert model.predict(X) == labels


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def _ok() -> tuple[NDArray[np.float64], list[str]]:
    X, labels, _ = _clusters(3, 4, 8, noise=0.1, seed=9)
    return X, labels


def test_error_fewer_than_two_classes() -> None:
    X, _ = _ok()
    with pytest.raises(InvalidInputError, match="at least 2 classes"):
        train_probe(X, ["only"] * len(X))


def test_error_class_without_examples() -> None:
    X, labels = _ok()
    with pytest.raises(InvalidInputError, match="label 'extra' has no examples"):
        train_probe(X, labels, class_names=["class0", "class1", "class2", "extra"])
    with pytest.raises(InvalidInputError, match="not one of class_names"):
        train_probe(X, labels, class_names=["class0", "class1"])
    with pytest.raises(InvalidInputError, match="twice"):
        train_probe(X, labels, class_names=["class0", "class1", "class2", "class0"])
    prompts = {lab: X[i] for i, lab in enumerate(labels)}
    prompts["ghost"] = X[0]
    with pytest.raises(InvalidInputError, match="'ghost', which has no examples"):
        train_probe(X, labels, prompt_embeddings=prompts)


def test_class_names_fix_the_order() -> None:
    X, labels = _ok()
    model, report = train_probe(X, labels, class_names=["class2", "class0", "class1"])
    assert model.classes == report.classes == ("class2", "class0", "class1")
    assert model.predict(X) == labels


def test_error_length_mismatch() -> None:
    X, labels = _ok()
    with pytest.raises(InvalidInputError, match="12 rows but there are 11 labels"):
        train_probe(X, labels[:-1])


def test_error_nan_and_zero_vectors() -> None:
    X, labels = _ok()
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(InvalidInputError, match=r"NaN or infinite values in rows \[3\]"):
        train_probe(bad, labels)
    bad = X.copy()
    bad[5] = 0.0
    with pytest.raises(InvalidInputError, match=r"zero vectors in rows \[5\]"):
        train_probe(bad, labels)
    with pytest.raises(InvalidInputError, match="2-D"):
        train_probe(X[0], labels[:1])


def test_error_prompt_dimension_mismatch_and_missing_prompt() -> None:
    X, labels = _ok()
    prompts = {c: np.ones(8) for c in ("class0", "class1", "class2")}
    prompts["class1"] = np.ones(7)
    with pytest.raises(InvalidInputError, match="'class1' has dimension 7, but X has dimension 8"):
        train_probe(X, labels, prompt_embeddings=prompts)
    del prompts["class1"]
    with pytest.raises(InvalidInputError, match="no entry for label 'class1'"):
        train_probe(X, labels, prompt_embeddings=prompts)
    prompts["class1"] = np.zeros(8)
    with pytest.raises(InvalidInputError, match="zero vectors"):
        train_probe(X, labels, prompt_embeddings=prompts)


def test_error_bad_config_and_bad_model_input() -> None:
    with pytest.raises(InvalidInputError, match="c_grid"):
        ProbeTrainingConfig(c_grid=())
    with pytest.raises(InvalidInputError, match="c_grid"):
        ProbeTrainingConfig(c_grid=(1.0, -1.0))
    with pytest.raises(InvalidInputError, match="holdout_fraction"):
        ProbeTrainingConfig(holdout_fraction=1.0)
    with pytest.raises(InvalidInputError, match="abstain_threshold"):
        ProbeTrainingConfig(abstain_threshold=1.5)
    X, labels = _ok()
    model, _ = train_probe(X, labels)
    with pytest.raises(InvalidInputError, match="dimension 5, expected 8"):
        model.predict(np.ones((2, 5)))
    with pytest.raises(InvalidInputError, match="k must be >= 1"):
        model.predict_top_k(X, 0)
    with pytest.raises(InvalidInputError, match="labels must be a sequence"):
        train_probe(X, "class0")  # type: ignore[arg-type]
