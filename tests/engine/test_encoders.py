"""The three real encoders: CLIP parity with open_clip, MiniLM semantics, Whisper transcripts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.paths import SPEECH, TINY_ARCH


def test_clip_image_embeddings_equal_open_clip(engine, tiny_clip_checkpoint: Path, photos) -> None:  # type: ignore[no-untyped-def]
    import open_clip
    import torch
    from PIL import Image

    reference, _, preprocess = open_clip.create_model_and_transforms(
        TINY_ARCH, pretrained=str(tiny_clip_checkpoint)
    )
    reference.eval()
    paths = list(photos.values())
    ours = engine.embed_images(paths).vectors
    with torch.inference_mode():
        batch = torch.stack([preprocess(Image.open(p).convert("RGB")) for p in paths])
        expected = reference.encode_image(batch)
        expected = (expected / expected.norm(dim=-1, keepdim=True)).numpy()
    assert ours.shape == expected.shape == (len(paths), 64)
    np.testing.assert_allclose(ours, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_clip_text_embeddings_equal_open_clip(engine, tiny_clip_checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    import open_clip
    import torch

    reference = open_clip.create_model(TINY_ARCH, pretrained=str(tiny_clip_checkpoint)).eval()
    tokenizer = open_clip.get_tokenizer(TINY_ARCH)
    texts = ["a photo of a cat", "a rocket on the launch pad"]
    with torch.inference_mode():
        expected = reference.encode_text(tokenizer(texts))
        expected = (expected / expected.norm(dim=-1, keepdim=True)).numpy()
    np.testing.assert_allclose(engine.embed_texts(texts, space="clip").vectors, expected, atol=1e-5)


def test_clip_spec_identifies_checkpoint(models, tiny_clip_checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    spec = models.clip().spec
    assert spec.weights == "sha256:" + hashlib.sha256(tiny_clip_checkpoint.read_bytes()).hexdigest()
    assert spec.dim == 64 and spec.model == TINY_ARCH


def test_minilm_ranks_similar_sentences_higher(engine) -> None:  # type: ignore[no-untyped-def]
    result = engine.embed_texts(
        [
            "The cat is sleeping on the sofa.",
            "A kitten naps on the couch.",
            "Quarterly revenue grew by eight percent.",
        ]
    )
    v = result.vectors
    assert v.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3
    assert result.spec.weights == "bundled:all-MiniLM-L6-v2"


def test_bare_string_is_rejected_with_hint(engine) -> None:  # type: ignore[no-untyped-def]
    from omnivec.indexer.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="must be a list"):
        engine.embed_texts("hello")  # type: ignore[arg-type]


MANIFEST = json.loads((SPEECH / "manifest.json").read_text())["files"]


@pytest.fixture(scope="module")
def default_transcriber(settings):  # type: ignore[no-untyped-def]
    """Whisper as users get it: the suite's settings decode greedily (beam 1) for speed, and
    greedy decoding of the long lecture's "a guitar" is "Agatarpa" on CPUs with AVX-512 VNNI,
    whose int8 kernels round differently (seen after a move to such a machine)."""
    from omnivec.indexer.config import SpeechSettings
    from omnivec.indexer.encoders.speech import WhisperTranscriber

    beam = SpeechSettings.model_fields["beam_size"].default
    transcriber = WhisperTranscriber(settings.model_copy(
        update={"speech": settings.speech.model_copy(update={"beam_size": beam})}
    ))
    yield transcriber
    transcriber.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_whisper_transcribes_key_words(default_transcriber, name: str) -> None:  # type: ignore[no-untyped-def]
    transcript = default_transcriber.transcribe(SPEECH / name)
    words = transcript.text.lower()
    for keyword in MANIFEST[name]["keywords"]:
        assert keyword.lower() in words, f"{keyword!r} missing from {transcript.text!r}"
    assert transcript.segments, "segments with times are returned"
    assert all(0 <= s.start <= s.end <= transcript.duration + 1 for s in transcript.segments)


@pytest.mark.slow
def test_audio_bytes_transcribe_like_files(engine) -> None:  # type: ignore[no-untyped-def]
    path = SPEECH / "weather.wav"
    assert engine.transcribe(path.read_bytes()).text == engine.transcribe(path).text
