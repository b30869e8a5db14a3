"""Search (SearchService): by text or stored item (JSON), by image or audio upload (multipart)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from omnivec.client.types import Fusion, SearchMode, SearchQuery
from omnivec.indexer.errors import InvalidInputError
from omnivec.server.http import convert
from omnivec.server.http import schemas as s
from omnivec.server.http.routes import engine
from omnivec.server.http.uploads import read_upload
from omnivec.server.limits import check_query_text

__all__ = ["router"]

router = APIRouter(tags=["search"])


@router.post("/collections/{name}/search", response_model=s.SearchOut)
def search(request: Request, name: str, body: s.SearchIn) -> s.SearchOut:
    """Search with a text (both spaces where they apply) or a stored item ("more like this")."""
    if (body.text is None) == (body.item_id is None):
        raise InvalidInputError(
            "give exactly one of text or item_id (to search by an image or audio file, "
            "POST it to .../search/media)"
        )
    if body.text is not None:
        check_query_text(body.text, "the search query")
    query = SearchQuery(
        text=body.text, item_id=body.item_id, k=body.k, where=body.where or None,
        modalities=tuple(dict.fromkeys(body.modalities)), spaces=tuple(dict.fromkeys(body.spaces)),
        mode=body.mode,
        fusion=Fusion(dict(body.fusion.weights), body.fusion.route_by_modality)
        if body.fusion is not None else None,
    )
    return convert.search_result(name, engine(request).search(name, query))


@router.post("/collections/{name}/search/media", response_model=s.SearchOut)
def search_media(
    request: Request,
    name: str,
    image: Annotated[UploadFile | None, File(description="an image to find similar items to")] = None,
    audio: Annotated[UploadFile | None, File(description="speech: transcribed, then searched")] = None,
    k: Annotated[int, Form(ge=1, le=1000)] = 10,
    where: Annotated[str | None, Form()] = None,
    modalities: Annotated[list[s.Modality] | None, Form()] = None,
    spaces: Annotated[list[str] | None, Form()] = None,
    mode: Annotated[SearchMode | None, Form(description="vector, keyword or hybrid")] = None,
) -> s.SearchOut:
    """Search with an uploaded image or audio clip (multipart/form-data)."""
    if (image is None) == (audio is None):
        raise InvalidInputError("upload exactly one file, as the form field image or audio")
    query = SearchQuery(
        image=read_upload(image, "image") if image is not None else None,
        audio=read_upload(audio, "audio") if audio is not None else None,
        k=k, where=where or None, modalities=tuple(dict.fromkeys(modalities or ())),
        spaces=tuple(dict.fromkeys(spaces or ())), mode=mode,
    )
    return convert.search_result(name, engine(request).search(name, query))
