"""Learning from the collection's unlabelled rows: class means re-estimated by EM.

A few labelled examples say little about where a class lies; the thousands of unlabelled rows
already embedded in the same space say a lot about where the clusters are. :func:`em_directions`
fits a mixture of von Mises-Fisher components with one shared concentration over the unlabelled
rows, one component per class, initialised at the prompt and labelled means, in the collection's
own whitened coordinates:

- **Background first.** One E-step in the raw space, at the starting means, with a background
  component of fixed score ``BACKGROUND_COSINE`` (concentration ``EM_CONCENTRATION``), gives each
  row its share outside the background: rows that fit no class (another distribution, junk) get
  almost none, so they shape neither the whitening nor any mean (measured: 400 random directions
  next to 12 labelled rows cost 3-8 points without it, nothing with it);
- **Whitening** (:func:`fit_whitening`): rows are centred on the collection's (weighted) mean and
  multiplied by its covariance to the power -1/2, shrunk by ``WHITENING_SHRINKAGE`` towards the
  identity, then renormalised. Sentence and CLIP embeddings are anisotropic: a few directions
  carry most of the spread whatever the topic, so a raw cosine counts them over and over. In the
  whitened space a class mean is a Fisher-like direction of the collection (LDA with a shared,
  shrunk covariance). Measured on the EM classifier alone at 4 shots (5 draws): +2.4, +2.9, +1.2
  points on the three Debian sets and +0.7 on the independent fortunes;
- E-step: each row's class posterior is ``softmax(kappa * (x . mu_k + a * x . p_k))`` (whitened
  rows, means and prompts; ``WHITENED_CONCENTRATION``), the current mean's cosine plus the
  zero-shot prompt's cosine weighted by ``PROMPT_ANCHOR`` (a). The prompt term keeps every
  component tied to its class name, so a component cannot wander off to another cluster
  (TransCLIP's KL term towards the zero-shot predictions does the same job);
- M-step: ``mu_k`` is the renormalised sum of the unlabelled rows weighted by their posterior and
  their share outside the background, plus the class's labelled rows (clamped to their label).

The classifier the probe is then regularised towards is ``normalise(mu_k + a * p_k)`` per class
(:func:`transductive_directions`, the E-step's score), mapped back to the raw space
(:meth:`Whitening.to_raw`): a direction ``v`` in the whitened space scores a raw row ``x`` as
``(x - m) W v``, which ranks classes as the raw direction ``W v`` does up to a per-class offset,
so what was learnt from the collection and the prompts stays one linear classifier on the
embeddings, and the served probe needs nothing but its weights.

Chosen over self-training, label propagation on a kNN graph and Tip-Adapter-style cache logits
by ``scripts/compare_unlabeled_methods.py`` on the three Debian section sets
(``benchmarks/results/unlabeled_methods.txt``); the constants below were set on the first set and
confirmed on the other two, as the few-shot rule was.

Cost: whitening is one (rows x dim x dim) product, one iteration two (rows x dim x classes)
products; 100k rows x 384-d x 50 classes is ~0.3 s an iteration on one core, so the final fit
uses every unlabelled row up to ``MAX_UNLABELED_ROWS`` (a seeded random sample above it, and the
report says so; the covariance reads ``WHITENING_ROWS`` of them). Cross-validation refits the
means per fold (the fold's labels only, its validation rows as unlabelled inputs: they would be
unlabelled if the user had not labelled them) on a smaller sample, ``CV_UNLABELED_ROWS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from omnivec.indexer.probes.numerics import F64, IntArr, softmax

__all__ = [
    "CV_UNLABELED_ROWS",
    "EM_CONCENTRATION",
    "EM_ITERATIONS",
    "EM_WARM_ITERATIONS",
    "BACKGROUND_COSINE",
    "MAX_UNLABELED_ROWS",
    "PROMPT_ANCHOR",
    "UNLABELED_TRUST_RADIUS",
    "EmFit",
    "WHITENED_CONCENTRATION",
    "WHITENING_SHRINKAGE",
    "Whitening",
    "em_directions",
    "fit_whitening",
    "min_unlabeled_rows",
    "sample_rows",
    "transductive_directions",
]

# Concentration of the raw-space E-step that sets each row's share outside the background: raw
# cosines of MiniLM/CLIP rows to their class mean differ by ~0.05-0.2 between classes, so 50 turns
# a 0.05 gap into odds of e^2.5 (it was the whole EM's concentration when EM ran in the raw space:
# 20 and 30 gave 1-3 points less on the first Debian set, 80-150 the same within noise).
EM_CONCENTRATION = 50.0
# Weight of the prompt's cosine next to the mean's in the E-step and in the final classifier.
# 0 lets the components drift to whatever clusters the rows form (2-5 points worse); 1-2 trusts
# the prompts too much when they are poor (raw section names); 0.5 was best on the first set.
PROMPT_ANCHOR = 0.5
EM_ITERATIONS = 10
# The background component's score (a raw cosine, on the E-step's scale). Rows of the collection's
# own domain score 0.3-0.8 against their class (mean cosine plus half the prompt's), so at
# concentration 50 the background takes e^-7 or less of them; a random direction in 384-d scores
# ~0.05 against every class and goes almost wholly to the background.
BACKGROUND_COSINE = 0.15
EM_WARM_ITERATIONS = 3
# The final fit reads at most this many unlabelled rows (a seeded sample above it): the class
# means of a 200k-row sample are as good as those of a million rows, at a bounded cost.
MAX_UNLABELED_ROWS = 200_000
# Each cross-validation fold re-estimates the means on this many rows (plus its validation rows).
CV_UNLABELED_ROWS = 2048
# The few-shot rule's trust region around the re-estimated classifier (see
# omnivec.indexer.probes.selection.FEW_SHOT_TRUST_RADIUS, 0.5 around the prompts).
UNLABELED_TRUST_RADIUS = 0.25
# The whitening's covariance is shrunk this far towards a multiple of the identity: the total
# covariance mixes the spread within classes with the spread between them, and whitening it fully
# would flatten the directions that separate classes too.
WHITENING_SHRINKAGE = 0.75
# Concentration of the components in the whitened space, where cosines to a class mean are smaller
# (0.1-0.4 for MiniLM rows against 0.3-0.8 in the raw space). Shrinkage 0.5-0.92 and concentration
# 20-50 were compared on the three Debian sets (EM alone, 5 draws at 1-16 shots): 0.75 and 30 were
# the best or within 1 point of the best at every shot count on each.
WHITENED_CONCENTRATION = 30.0
# The whitening is estimated on at most this many rows (an even sample above it).
WHITENING_ROWS = 20_000
# Below this many unlabelled rows per class there is no cluster to find.
_MIN_ROWS_PER_CLASS = 5
_MIN_ROWS = 50


def min_unlabeled_rows(n_classes: int) -> int:
    """The fewest unlabelled rows worth learning from for ``n_classes`` classes."""
    return max(_MIN_ROWS, _MIN_ROWS_PER_CLASS * n_classes)


def sample_rows(U: NDArray[Any], cap: int, rng: np.random.Generator) -> NDArray[Any]:
    """``U`` itself, or ``cap`` of its rows drawn without replacement (in their original order)."""
    if len(U) <= cap:
        return U
    keep = np.sort(rng.choice(len(U), size=cap, replace=False))
    return U[keep]


_Rows = TypeVar("_Rows", bound=NDArray[Any])


def _unit(rows: _Rows) -> _Rows:
    out: _Rows = rows / np.maximum(np.linalg.norm(rows, axis=-1, keepdims=True), 1e-12)
    return out


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays have no single truth value
class Whitening:
    """The collection's own coordinates: rows centred on its mean and scaled by its shrunk
    covariance to the power -1/2, then renormalised (:func:`fit_whitening`)."""

    centre: F64
    matrix: F64  # symmetric (dim, dim)

    def apply(self, rows: _Rows) -> _Rows:
        """``rows`` in the whitened coordinates, in their own precision (EM whitens the big
        unlabelled pool in float32, the labelled rows and prompts in float64)."""
        centre: NDArray[Any] = self.centre.astype(rows.dtype)
        matrix: NDArray[Any] = self.matrix.astype(rows.dtype)
        whitened: _Rows = (rows - centre) @ matrix
        return _unit(whitened)

    def to_raw(self, directions: F64) -> F64:
        """Unit directions in the raw space whose scores rank classes as ``directions`` do in the
        whitened one, up to the per-class offset ``-centre . w`` that a direction cannot carry
        (the probe fitted after it has its own intercept)."""
        return _unit(directions @ self.matrix)


def fit_whitening(U: NDArray[Any], weights: F64) -> Whitening:
    """Whitening estimated on the unlabelled rows ``U``, each counted with its ``weights`` (its
    share outside the background component, so rows of another distribution do not shape it)."""
    total = float(weights.sum())
    if total <= 1e-9:
        weights, total = np.ones(len(U)), float(len(U))
    centre = (weights @ U) / total
    centred = U - centre
    covariance = (centred * weights[:, None]).T @ centred / total
    dim = U.shape[1]
    target = max(float(np.trace(covariance)) / dim, 1e-12)
    shrunk = (1 - WHITENING_SHRINKAGE) * covariance + WHITENING_SHRINKAGE * target * np.eye(dim)
    values, vectors = np.linalg.eigh(shrunk)
    matrix = (vectors * np.maximum(values, 1e-12) ** -0.5) @ vectors.T
    return Whitening(centre, matrix)


def _in_domain_weights(U32: np.ndarray, start: F64, prompt_logits: F64 | None) -> F64:
    """Each unlabelled row's share outside the background component, from one E-step in the raw
    space at the starting means (labelled rows plus prompts)."""
    logits = (U32 @ start.T.astype(np.float32)).astype(np.float64) * EM_CONCENTRATION
    if prompt_logits is not None:
        logits += prompt_logits
    background = np.full((len(U32), 1), EM_CONCENTRATION * BACKGROUND_COSINE)
    posterior = softmax(np.hstack([logits, background]))
    weights: F64 = 1.0 - posterior[:, -1]
    return weights


@dataclass(frozen=True, eq=False)
class EmFit:
    """What EM learnt: the raw-space classifier directions a probe is regularised towards, and
    the whitened class means (to warm-start a fit on nearly the same rows)."""

    directions: F64
    means: F64


def em_directions(
    X: F64,
    y: IntArr,
    U: NDArray[Any],
    prompts: F64 | None,
    n_classes: int,
    *,
    init: F64 | None = None,
) -> EmFit | None:
    """The classifier re-estimated on the unlabelled rows ``U`` (the module docstring).

    ``X``/``y`` are the labelled rows (unit length), clamped to their class; ``prompts`` the unit
    prompt embeddings per class, or None (then the components start at the labelled means and
    nothing anchors them). Returns None when some class has neither a prompt nor a labelled row
    (a leave-one-out fold without prompts): there is nothing to start its component from.
    ``init`` (whitened means of a previous fit on nearly the same rows) warm-starts the
    iterations, which then need only ``EM_WARM_ITERATIONS``.
    """
    dim = X.shape[1]
    labelled = np.zeros((n_classes, dim))
    np.add.at(labelled, y, X)
    anchor = np.zeros((n_classes, dim)) if prompts is None else prompts
    start = labelled + anchor
    norms = np.linalg.norm(start, axis=1)
    if np.any(norms <= 1e-12):
        return None
    start /= norms[:, None]
    if not len(U):
        return EmFit(transductive_directions(start, prompts), start)
    # float32 for the big products (the cost), float64 for what accumulates: as the solver.
    U32 = np.ascontiguousarray(U, dtype=np.float32)
    raw_prompt_logits = None
    if prompts is not None:
        raw_prompt_logits = (U32 @ prompts.T.astype(np.float32)).astype(np.float64)
        raw_prompt_logits *= EM_CONCENTRATION * PROMPT_ANCHOR
    weights = _in_domain_weights(U32, start, raw_prompt_logits)
    step = -(-len(U) // WHITENING_ROWS)  # an even sample of at most WHITENING_ROWS rows
    whitening = fit_whitening(U[::step], weights[::step])
    Uw = whitening.apply(U32)
    Xw = whitening.apply(X)
    Pw = None if prompts is None else whitening.apply(prompts)
    labelled_w = np.zeros((n_classes, dim))
    np.add.at(labelled_w, y, Xw)
    if init is not None:
        means, iterations = np.array(init, dtype=np.float64), EM_WARM_ITERATIONS
    else:
        means, iterations = _unit(labelled_w + (0 if Pw is None else Pw)), EM_ITERATIONS
    prompt_logits = None
    if Pw is not None:
        prompt_logits = (Uw @ Pw.T.astype(np.float32)).astype(np.float64)
        prompt_logits *= WHITENED_CONCENTRATION * PROMPT_ANCHOR
    for _ in range(iterations):
        logits = (Uw @ means.T.astype(np.float32)).astype(np.float64) * WHITENED_CONCENTRATION
        if prompt_logits is not None:
            logits += prompt_logits
        posterior = (softmax(logits) * weights[:, None]).astype(np.float32)
        sums = (posterior.T @ Uw).astype(np.float64) + labelled_w
        norms = np.linalg.norm(sums, axis=1)
        # A class with no labelled row and no posterior mass keeps its previous mean.
        ok = norms > 1e-12
        means[ok] = sums[ok] / norms[ok, None]
    return EmFit(whitening.to_raw(transductive_directions(means, Pw)), means)


def transductive_directions(means: F64, prompts: F64 | None) -> F64:
    """The E-step's score as one direction per class: ``normalise(mu_k + a * p_k)``, or the
    means alone without prompts."""
    if prompts is None:
        return means
    return _unit(means + PROMPT_ANCHOR * prompts)
