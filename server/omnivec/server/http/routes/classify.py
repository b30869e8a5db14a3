"""Zero-shot classification (ClassifyService), embeddings and transcription (EmbedService)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.models import EMBEDDING_SPACES
from omnivec.server.http import convert
from omnivec.server.http import schemas as s
from omnivec.server.http.routes import deps, engine
from omnivec.server.http.uploads import read_upload
from omnivec.server.limits import check_item_count, check_query_text
from omnivec.server.servicers.embed import MAX_EMBED_INPUTS

__all__ = ["router"]

router = APIRouter(tags=["classify and embed"])


@router.post("/classify", response_model=s.ClassifyOut)
def zero_shot(request: Request, body: s.ClassifyIn) -> s.ClassifyOut:
    """Zero-shot: each label as a text prompt, compared with a text or a stored item."""
    check_item_count(len(body.labels), deps(request).settings.max_items_per_request, "labels")
    if (body.text is None) == (body.item_id is None):
        raise InvalidInputError("give exactly one of text or item_id (images: POST /api/classify/media)")
    if body.text is not None:
        check_query_text(body.text, "text")
    scores = engine(request).zero_shot_classify(
        body.labels, text=body.text, item_id=body.item_id, collection=body.collection,
        prompt_template=body.prompt_template, space=body.space, top_k=body.top_k,
    )
    return s.ClassifyOut(labels=convert.label_scores(scores), space=body.space)


@router.post("/classify/media", response_model=s.ClassifyOut)
def zero_shot_media(
    request: Request,
    labels: Annotated[list[str], Form()],
    image: Annotated[UploadFile | None, File()] = None,
    audio: Annotated[UploadFile | None, File()] = None,
    prompt_template: Annotated[str, Form()] = "{}",
    space: Annotated[str | None, Form()] = None,
    top_k: Annotated[int, Form(ge=0)] = 0,
) -> s.ClassifyOut:
    """Zero-shot for an uploaded image (clip space) or audio clip (its transcript)."""
    check_item_count(len(labels), deps(request).settings.max_items_per_request, "labels")
    if (image is None) == (audio is None):
        raise InvalidInputError("upload exactly one file, as the form field image or audio")
    chosen = space or ("clip" if image is not None else "text")
    scores = engine(request).zero_shot_classify(
        labels, image=read_upload(image, "image") if image is not None else None,
        audio=read_upload(audio, "audio") if audio is not None else None,
        prompt_template=prompt_template, space=chosen, top_k=top_k,
    )
    return s.ClassifyOut(labels=convert.label_scores(scores), space=chosen)


@router.post("/embed", response_model=s.EmbedOut)
def embed(request: Request, body: s.EmbedIn) -> s.EmbedOut:
    """Vectors for texts in one space (images: use the gRPC Embed or the SDK)."""
    if not body.texts:
        raise InvalidInputError("embed needs at least one text")
    check_item_count(len(body.texts), min(MAX_EMBED_INPUTS, deps(request).settings.max_items_per_request), "embed")
    if body.space not in EMBEDDING_SPACES:
        raise InvalidInputError(f"unknown space {body.space!r}; use one of: {', '.join(EMBEDDING_SPACES)}")
    for i, text in enumerate(body.texts):
        check_query_text(text, f"texts[{i}]")
    result = engine(request).embed_texts(body.texts, space=body.space)
    return s.EmbedOut(vectors=result.vectors.tolist(), dim=int(result.vectors.shape[1]),
                      encoder=convert.encoder(result.spec))


@router.post("/transcribe", response_model=s.TranscriptOut)
def transcribe(request: Request, audio: Annotated[UploadFile, File()]) -> s.TranscriptOut:
    transcript = engine(request).transcribe(read_upload(audio, "audio"))
    return s.TranscriptOut(
        text=transcript.text,
        segments=[s.SpanOut(text=x.text, start_s=x.start, end_s=x.end) for x in transcript.segments],
        language=transcript.language, duration_s=transcript.duration,
    )
