"""Learning from the collection's unlabelled rows: class means re-estimated by EM.

A few labelled examples say little about where a class lies; the thousands of unlabelled rows
already embedded in the same space say a lot about where the clusters are. :func:`em_class_means`
fits a mixture of von Mises-Fisher components with one shared concentration (``EM_CONCENTRATION``)
over the unlabelled rows, one component per class, initialised at the prompt and labelled means:

- E-step: each unlabelled row's class posterior is ``softmax(kappa * (x . mu_k + a * x . p_k))``,
  the current mean's cosine plus the zero-shot prompt's cosine weighted by ``PROMPT_ANCHOR`` (a).
  The prompt term keeps every component tied to its class name, so a component cannot wander off
  to another cluster (TransCLIP's KL term towards the zero-shot predictions does the same job);
- a background component with a fixed score ``BACKGROUND_COSINE`` takes the rows that fit no
  class (another distribution, junk): a row whose best class score is far below it adds almost
  nothing to any mean, so unrelated rows cannot drag the means away (measured: 400 random
  directions next to 12 labelled rows cost 3-8 points without it, nothing with it);
- M-step: ``mu_k`` is the renormalised sum of the posteriors-weighted unlabelled rows plus the
  class's labelled rows (clamped to their label).

The classifier the probe is then regularised towards (:func:`transductive_directions`) is
``normalise(mu_k + a * p_k)`` per class: the same score the E-step uses, so what was learnt from
the collection and the prompts are one linear classifier, and the served probe stays linear.

Chosen over self-training, label propagation on a kNN graph and Tip-Adapter-style cache logits
by ``scripts/compare_unlabeled_methods.py`` on the three Debian section sets
(``benchmarks/results/unlabeled_methods.txt``); the constants below were set on the first set and
confirmed on the other two, as the few-shot rule was.

Cost: one iteration is two (rows x dim x classes) products; 100k rows x 384-d x 50 classes is
~0.3 s on one core, so the final fit uses every unlabelled row up to ``MAX_UNLABELED_ROWS`` (a
seeded random sample above it, and the report says so). Cross-validation refits the means per
fold (the fold's labels only, its validation rows as unlabelled inputs: they would be unlabelled
if the user had not labelled them) on a smaller sample, ``CV_UNLABELED_ROWS``.
"""

from __future__ import annotations

import numpy as np

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
    "em_class_means",
    "min_unlabeled_rows",
    "sample_rows",
    "transductive_directions",
]

# Shared concentration of the components: cosines of MiniLM/CLIP rows to their class mean differ
# by ~0.05-0.2 between classes, so 50 turns a 0.05 gap into odds of e^2.5 (measured on the first
# Debian set: 20 and 30 gave 1-3 points less, 80-150 the same within noise).
EM_CONCENTRATION = 50.0
# Weight of the prompt's cosine next to the mean's in the E-step and in the final classifier.
# 0 lets the components drift to whatever clusters the rows form (2-5 points worse); 1-2 trusts
# the prompts too much when they are poor (raw section names); 0.5 was best on the first set.
PROMPT_ANCHOR = 0.5
EM_ITERATIONS = 10
# The background component's score (a cosine, on the E-step's scale). Rows of the collection's
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
# Below this many unlabelled rows per class there is no cluster to find.
_MIN_ROWS_PER_CLASS = 5
_MIN_ROWS = 50


def min_unlabeled_rows(n_classes: int) -> int:
    """The fewest unlabelled rows worth learning from for ``n_classes`` classes."""
    return max(_MIN_ROWS, _MIN_ROWS_PER_CLASS * n_classes)


def sample_rows(U: F64, cap: int, rng: np.random.Generator) -> F64:
    """``U`` itself, or ``cap`` of its rows drawn without replacement (in their original order)."""
    if len(U) <= cap:
        return U
    keep = np.sort(rng.choice(len(U), size=cap, replace=False))
    return U[keep]


def em_class_means(
    X: F64,
    y: IntArr,
    U: F64,
    prompts: F64 | None,
    n_classes: int,
    *,
    init: F64 | None = None,
) -> F64 | None:
    """Unit class means (n_classes, dim) re-estimated on the unlabelled rows ``U``.

    ``X``/``y`` are the labelled rows (unit length), clamped to their class; ``prompts`` the unit
    prompt embeddings per class, or None (then the components start at the labelled means and
    nothing anchors them). Returns None when some class has neither a prompt nor a labelled row
    (a leave-one-out fold without prompts): there is nothing to start its component from.
    ``init`` (means of a previous fit on nearly the same rows) warm-starts the iterations, which
    then need only ``EM_WARM_ITERATIONS``.
    """
    dim = X.shape[1]
    labelled = np.zeros((n_classes, dim))
    np.add.at(labelled, y, X)
    anchor = np.zeros((n_classes, dim)) if prompts is None else prompts
    start = labelled + anchor
    norms = np.linalg.norm(start, axis=1)
    if np.any(norms <= 1e-12):
        return None
    means = start / norms[:, None] if init is None else np.array(init, dtype=np.float64)
    iterations = EM_ITERATIONS if init is None else EM_WARM_ITERATIONS
    if not len(U):
        return means
    # float32 for the two big products (the cost), float64 for what accumulates: as the solver.
    U32 = np.ascontiguousarray(U, dtype=np.float32)
    prompt_logits = None
    if prompts is not None:
        prompt_logits = (U32 @ prompts.T.astype(np.float32)).astype(np.float64)
        prompt_logits *= EM_CONCENTRATION * PROMPT_ANCHOR
    for _ in range(iterations):
        logits = (U32 @ means.T.astype(np.float32)).astype(np.float64) * EM_CONCENTRATION
        if prompt_logits is not None:
            logits += prompt_logits
        background = np.full((len(U32), 1), EM_CONCENTRATION * BACKGROUND_COSINE)
        posterior = softmax(np.hstack([logits, background]))[:, :n_classes].astype(np.float32)
        sums = (posterior.T @ U32).astype(np.float64) + labelled
        norms = np.linalg.norm(sums, axis=1)
        # A class with no labelled row and no posterior mass keeps its previous mean.
        ok = norms > 1e-12
        means[ok] = sums[ok] / norms[ok, None]
    return means


def transductive_directions(means: F64, prompts: F64 | None) -> F64:
    """The classifier a probe is regularised towards: ``normalise(mu_k + a * p_k)`` per class
    (the E-step's score), or the means alone without prompts."""
    if prompts is None:
        return means
    combined = means + PROMPT_ANCHOR * prompts
    norms: F64 = np.linalg.norm(combined, axis=1, keepdims=True)
    out: F64 = combined / norms
    return out
