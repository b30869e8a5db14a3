"""Zero-shot classification (labels as text prompts) and the media embedding probes share.

Zero-shot: each label becomes a prompt (``prompt_template.format(label)``), embedded with the text
encoder of the *same* space as the input, and the input's class probabilities are
``softmax(scale * cosine(input, prompt))`` over the labels.

The scale is the temperature each space's encoder was trained with, so the probabilities are as
sharp as the model's own training objective made them:

- ``clip``: 100, CLIP's learned logit scale (``exp(logit_scale)`` is clamped to 100 in training and
  every released OpenAI/open_clip checkpoint sits at that cap). Image-text cosines span ~0.15-0.35,
  so a 0.05 gap becomes odds of e^5.
- ``text``: 20, the scale of the in-batch softmax (MultipleNegativesRankingLoss, ``scale=20``) that
  all-MiniLM-L6-v2 was fine-tuned with. Text-text cosines span a much wider range (~0-0.8) than
  CLIP's image-text ones; 100 would turn every MiniLM answer into a hard one-hot, while 20 keeps a
  0.1 gap at odds of e^2, which is about how often such a gap is right.

These are fixed, documented constants, not calibrated per data set: a calibrated classifier is what
a probe is for (its temperature is fitted on held-out predictions).

Long texts and transcripts are embedded like the indexer stores them (chunked with the collection
settings) and pooled into one vector: the mean of the chunk vectors, renormalised (``mean``
pooling, the same rule probes use for stored items), so a file classified on the fly and the same
file classified through its stored item get the same vector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from omnivec.indexer.chunking import chunk_text, chunk_transcript
from omnivec.indexer.errors import InvalidInputError, MediaError, OmnivecError
from omnivec.indexer.media import MediaKind, decode_audio, decode_text, kind_for_path, sniff_kind
from omnivec.indexer.models import EMBEDDING_SPACES, ModelHub

__all__ = [
    "LOGIT_SCALES",
    "MediaInput",
    "check_labels",
    "embed_media",
    "embed_prompts",
    "format_prompt",
    "pool_unit_mean",
    "zero_shot_classify",
]

LOGIT_SCALES: dict[str, float] = {"clip": 100.0, "text": 20.0}


@dataclass(frozen=True)
class MediaInput:
    """Inline content to embed: text, or a file / bytes of an image, audio or text.

    ``modality`` may be left out for files (known by extension or content) and for image/audio
    bytes (known by their leading bytes); ``name`` labels errors (a file name for bytes).
    """

    text: str | None = None
    path: Path | None = None
    data: bytes | None = None
    modality: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        given = [x for x in (self.text, self.path, self.data) if x is not None]
        if len(given) != 1:
            raise InvalidInputError("media input needs exactly one of text, path or data")
        if self.path is not None and not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(self.path))
        if self.modality is not None:
            try:
                MediaKind(self.modality)
            except ValueError:
                raise InvalidInputError(
                    f"unknown modality {self.modality!r}; use image, text or audio"
                ) from None

    def describe(self) -> str:
        if self.name:
            return self.name
        if self.path is not None:
            return str(self.path)
        if self.text is not None:
            snippet = " ".join(self.text.split())
            return f"text {snippet[:40]!r}" + ("…" if len(snippet) > 40 else "")
        return "<bytes>"

    def kind(self) -> MediaKind:
        """The modality: stated, else by extension, else by content."""
        if self.text is not None:
            return MediaKind.TEXT
        if self.modality is not None:
            return MediaKind(self.modality)
        if self.path is not None:
            by_name = kind_for_path(self.path)
            if by_name is not None:
                return by_name
            try:
                with open(self.path, "rb") as handle:
                    head = handle.read(16)
            except OSError as exc:
                raise MediaError(str(self.path), f"cannot be read: {exc.strerror or exc}") from exc
            sniffed = sniff_kind(head)
            if sniffed is None:
                raise MediaError(
                    str(self.path),
                    f"unsupported file type {self.path.suffix or '(none)'}; use an image, audio "
                    "or .txt/.md file",
                )
            return sniffed
        assert self.data is not None
        sniffed = sniff_kind(self.data[:16])
        if sniffed is None:
            raise MediaError(
                self.describe(), "not a recognised image or audio file; say the modality (text?)"
            )
        return sniffed

    def source(self) -> Path | bytes:
        assert self.text is None
        return self.path if self.path is not None else self.data  # type: ignore[return-value]


def pool_unit_mean(vectors: np.ndarray) -> np.ndarray:
    """Mean of unit vectors, renormalised (one vector for a multi-chunk item)."""
    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if not math.isfinite(norm) or norm <= 1e-12:
        raise InvalidInputError("the item's chunk vectors cancel out; it has no direction")
    out: np.ndarray = (mean / norm).astype(np.float32)
    return out


def _chunks_of(models: ModelHub, media: MediaInput, kind: MediaKind) -> list[str]:
    idx = models.settings.index
    if kind is MediaKind.TEXT:
        text = media.text if media.text is not None else decode_text(media.source(), name=media.name)
        if not text.strip():
            raise MediaError(media.describe(), "text is empty")
        return [c.text for c in chunk_text(text, max_chars=idx.chunk_chars, overlap_chars=idx.chunk_overlap_chars)]
    # audio: transcribe, chunk the transcript like the indexer does
    samples = decode_audio(media.source(), name=media.name)
    transcript = models.speech().transcribe(samples, name=media.describe())
    if not transcript.segments:
        raise MediaError(media.describe(), "no speech was recognised in the audio")
    chunks = chunk_transcript(
        transcript.segments, max_seconds=idx.audio_chunk_seconds,
        overlap_seconds=idx.audio_chunk_overlap_seconds,
    )
    texts = [c.text for c in chunks if c.text.strip()]
    if not texts:
        raise MediaError(media.describe(), "no speech was recognised in the audio")
    return texts


def embed_media(
    models: ModelHub, space: str, inputs: Sequence[MediaInput]
) -> list[np.ndarray | OmnivecError]:
    """One unit vector per input in ``space`` (or the error that input raised, so one bad file
    never fails the others). Images need the clip space; audio is transcribed and embedded as
    text; texts are chunked and mean-pooled."""
    _check_space(space)
    out: list[np.ndarray | OmnivecError] = [InvalidInputError("not embedded")] * len(inputs)
    chunk_texts: list[str] = []
    owners: list[tuple[int, int, int]] = []  # (input index, start, end) into chunk_texts
    images: list[tuple[int, Any]] = []
    for i, media in enumerate(inputs):
        try:
            kind = media.kind()
            if kind is MediaKind.IMAGE:
                if space != "clip":
                    raise InvalidInputError(
                        f"{media.describe()} is an image; images can only be embedded in the "
                        f"clip space, not {space!r}"
                    )
                images.append((i, models.clip().load_image_tensor(media.source(), name=media.describe())))
                continue
            texts = _chunks_of(models, media, kind)
            owners.append((i, len(chunk_texts), len(chunk_texts) + len(texts)))
            chunk_texts.extend(texts)
        except OmnivecError as exc:
            out[i] = exc
    if chunk_texts:
        vectors = models.embedder(space).encode_texts(chunk_texts)
        for i, start, end in owners:
            out[i] = pool_unit_mean(vectors[start:end])
    if images:
        vectors = models.clip().encode_image_tensors([t for _, t in images])
        for (i, _), vec in zip(images, vectors):
            out[i] = np.asarray(vec, dtype=np.float32)
    return out


def format_prompt(template: str, name: str) -> str:
    """``template`` with its one ``{}`` replaced by ``name``."""
    if not isinstance(template, str) or template.count("{}") != 1:
        raise InvalidInputError(
            f"prompt template {template!r} must contain exactly one '{{}}' for the class name, "
            "e.g. \"a photo of a {}\""
        )
    try:
        return template.format(name)
    except (IndexError, KeyError, ValueError) as exc:
        raise InvalidInputError(
            f"prompt template {template!r} cannot be filled ({exc}); use '{{}}' for the class name "
            "and write other braces as '{{{{' and '}}}}'"
        ) from exc


def embed_prompts(
    models: ModelHub,
    space: str,
    labels: Sequence[str],
    prompt_template: str | Sequence[str],
    class_names: Mapping[str, str] | None = None,
) -> np.ndarray:
    """(n_labels, dim) unit prompt embeddings from the *same* space's text encoder.

    Several templates make an ensemble: each label's vector is the mean of its prompts' unit
    embeddings, renormalised (CLIP's prompt ensembling); ``class_names`` maps a label to the words
    put in its prompts."""
    from omnivec.indexer.prompt_sets import resolve_templates

    templates = resolve_templates(prompt_template)
    if not templates:
        raise InvalidInputError("give at least one prompt template, e.g. \"a photo of a {}\"")
    names = class_names or {}
    prompts = [
        format_prompt(template, names.get(label, label)) for label in labels for template in templates
    ]
    vectors = np.asarray(models.embedder(_check_space(space)).encode_texts(prompts), dtype=np.float64)
    vectors = vectors.reshape(len(labels), len(templates), -1)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    mean = vectors.mean(axis=1)
    return np.asarray(mean / np.linalg.norm(mean, axis=1, keepdims=True), dtype=np.float32)


def _check_space(space: str) -> str:
    if space not in EMBEDDING_SPACES:
        raise InvalidInputError(f"unknown space {space!r}; use one of: {', '.join(EMBEDDING_SPACES)}")
    return space


def check_labels(labels: Sequence[str]) -> list[str]:
    if isinstance(labels, (str, bytes)):
        raise InvalidInputError("labels must be a list of strings, not one string")
    out = list(labels)
    for i, label in enumerate(out):
        if not isinstance(label, str) or not label.strip():
            raise InvalidInputError(f"labels[{i}] must be a non-empty string, got {label!r}")
    if len(out) < 2:
        raise InvalidInputError(f"zero-shot classification needs at least 2 labels, got {len(out)}")
    seen: set[str] = set()
    for label in out:
        if label in seen:
            raise InvalidInputError(f"label {label!r} is given twice; labels must be distinct")
        seen.add(label)
    return out


def zero_shot_classify(
    models: ModelHub,
    labels: Sequence[str],
    *,
    text: str | None = None,
    image: Path | bytes | None = None,
    audio: Path | bytes | None = None,
    item_vector: np.ndarray | None = None,
    prompt_template: str | Sequence[str] = "{}",
    class_names: Mapping[str, str] | None = None,
    space: str,
    top_k: int = 0,
) -> list[tuple[str, float]]:
    """(label, probability) best first; ``top_k`` 0 returns all labels. Probabilities over all
    labels sum to 1 (``top_k`` only truncates the list). Several templates are an ensemble
    (:func:`embed_prompts`); ``class_names`` maps a label to the words its prompts use, and the
    answer names the label, never the words."""
    labels = check_labels(labels)
    _check_space(space)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise InvalidInputError(f"top_k must be >= 0 (0 means all labels), got {top_k!r}")
    given = [x for x in (text, image, audio, item_vector) if x is not None]
    if len(given) != 1:
        raise InvalidInputError("give exactly one input: text, image, audio or an item vector")
    from omnivec.indexer.prompt_sets import resolve_templates

    templates = resolve_templates(prompt_template) or ["{}"]  # validated before loading anything
    names = _check_class_names(class_names, labels)
    if item_vector is not None:
        vec = np.asarray(item_vector, dtype=np.float64).reshape(-1)
        norm = float(np.linalg.norm(vec))
        if vec.size == 0 or not math.isfinite(norm) or norm <= 1e-12:
            raise InvalidInputError("the item vector is empty, zero or not finite")
        query = vec / norm
    else:
        if text is not None:
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError("the text to classify is empty")
            media = MediaInput(text=text)
        elif image is not None:
            if space != "clip":
                raise InvalidInputError(
                    f"images can only be classified in the clip space, not {space!r}"
                )
            media = _media(image, "image")
        else:
            assert audio is not None
            media = _media(audio, "audio")
        result = embed_media(models, space, [media])[0]
        if isinstance(result, OmnivecError):
            raise result
        query = result.astype(np.float64)
    prompts = embed_prompts(models, space, labels, templates, names).astype(np.float64)
    if prompts.shape[1] != query.shape[0]:
        raise InvalidInputError(
            f"the input vector has dimension {query.shape[0]} but the {space!r} encoder makes "
            f"{prompts.shape[1]}-d vectors"
        )
    logits = LOGIT_SCALES[space] * (prompts @ query)
    logits -= logits.max()
    proba = np.exp(logits)
    proba /= proba.sum()
    order = np.argsort(-proba, kind="stable")
    if top_k:
        order = order[:top_k]
    return [(labels[int(j)], float(proba[j])) for j in order]


def _check_class_names(class_names: Mapping[str, str] | None, labels: Sequence[str]) -> dict[str, str]:
    """``class_names`` as a dict whose keys are all labels and whose words are not empty."""
    names = dict(class_names or {})
    known = set(labels)
    for label, words in names.items():
        if label not in known:
            raise InvalidInputError(
                f"class name given for {label!r}, which is not one of the labels "
                f"({', '.join(labels)}); write LABEL=WORDS for a listed label"
            )
        if not isinstance(words, str) or not words.strip():
            raise InvalidInputError(f"the words for label {label!r} are empty")
    return names


def _media(source: Path | bytes, modality: str) -> MediaInput:
    if isinstance(source, (bytes, bytearray)):
        return MediaInput(data=bytes(source), modality=modality)
    return MediaInput(path=Path(source), modality=modality)
