"""Items (IndexingService and viewing): upsert by upload or JSON, delete, and read one back: its
chunks, its thumbnail, its audio (only what :mod:`omnivec.indexer.item_media` allows)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response

from omnivec.indexer.errors import InvalidInputError
from omnivec.indexer.ingest import IndexEvent, IngestItem
from omnivec.indexer.media import MediaKind, kind_for_path, sniff_kind
from omnivec.server.http import convert
from omnivec.server.http import schemas as s
from omnivec.server.http.ranges import bytes_response
from omnivec.server.http.routes import deps, engine, index_root
from omnivec.server.limits import MAX_UPLOAD_TEXT_BYTES, check_item_count, text_size

__all__ = ["router"]

router = APIRouter(tags=["items"])

# The engine's words for an item's fate -> the API's (the gRPC enum's, as plain words).
_STATUS = {"indexed": "ok", "unchanged": "unchanged", "failed": "failed"}
_PRIVATE = {"cache-control": "private, max-age=3600"}


def _upsert(request: Request, name: str, items: Sequence[IngestItem | str]) -> s.UpsertOut:
    """Index the items (a str is a reason that item already failed) and answer one result per
    item, in request order, each acknowledged only once durably committed."""
    eng = engine(request)
    eng.collection(name)  # NOT_FOUND before any work
    results: dict[int, s.UpsertResultOut] = {}
    for index, item in enumerate(items):
        if isinstance(item, str):
            results[index] = s.UpsertResultOut(index=index, id="", status="failed", error=item)

    def on_event(event: IndexEvent) -> None:
        index = int(event.item.key)
        results[index] = s.UpsertResultOut(
            index=index, id=event.item_id or event.item.item_id or "",
            status=_STATUS[event.status],
            error=event.reason if event.status == "failed" else None,
            chunk_count=event.chunks if event.status == "indexed" else 0,
        )

    eng.upsert(name, [i for i in items if isinstance(i, IngestItem)], on_event=on_event)
    ordered = [results[i] for i in sorted(results)]
    return s.UpsertOut(
        results=ordered,
        indexed=sum(r.status == "ok" for r in ordered),
        unchanged=sum(r.status == "unchanged" for r in ordered),
        failed=sum(r.status == "failed" for r in ordered),
    )


def _text_item(text: str, index: int, **common: Any) -> IngestItem | str:
    size = text_size(text, MAX_UPLOAD_TEXT_BYTES)
    if size is not None:
        return (f"text is {size} bytes, over the server's limit of {MAX_UPLOAD_TEXT_BYTES} bytes "
                "for one uploaded item; split it into several items")
    return IngestItem(label=f"item #{index}", modality=MediaKind.TEXT, text=text, key=index, **common)


def _media_item(data: bytes, filename: str | None, index: int, **common: Any) -> IngestItem:
    label = filename or f"item #{index}"
    kind = sniff_kind(data[:16]) or (kind_for_path(Path(filename)) if filename else None)
    return IngestItem(label=label, modality=kind, data=data, key=index, **common)


@router.post("/collections/{name}/items", response_model=s.UpsertOut)
def upsert_files(
    request: Request,
    name: str,
    file: Annotated[list[UploadFile] | None, File(description="images, audio or text files: one item each")] = None,
    text: Annotated[list[str] | None, Form(description="texts: one item each")] = None,
    metadata: Annotated[str | None, Form(description="a JSON object given to every item")] = None,
    store_media: Annotated[bool, Form(description="keep the files' bytes so the server can play them back")] = False,
) -> s.UpsertOut:
    """Upsert uploaded files and texts (multipart/form-data); ids are content hashes."""
    files, texts = file or [], text or []
    if not files and not texts:
        raise InvalidInputError("nothing to upsert: add file and/or text form fields")
    check_item_count(len(files) + len(texts), deps(request).settings.max_items_per_request, "upsert")
    shared: dict[str, Any] = {}
    if metadata:
        try:
            shared = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"metadata is not valid JSON: {exc}") from exc
        if not isinstance(shared, dict):
            raise InvalidInputError("metadata must be a JSON object, e.g. {\"album\": \"2024\"}")
    items: list[IngestItem | str] = []
    for upload in files:
        data = upload.file.read()
        common = {"metadata": shared, "store_media": store_media, "source_uri": upload.filename or ""}
        items.append(_media_item(data, upload.filename, len(items), **common))
    for value in texts:
        items.append(_text_item(value, len(items), metadata=shared))
    return _upsert(request, name, items)


@router.post("/collections/{name}/items/json", response_model=s.UpsertOut)
def upsert_json(request: Request, name: str, body: s.UpsertJsonIn) -> s.UpsertOut:
    """Upsert items given as JSON: texts, or media as base64, each with its own id and metadata."""
    check_item_count(len(body.items), deps(request).settings.max_items_per_request, "upsert")
    items: list[IngestItem | str] = []
    for index, entry in enumerate(body.items):
        common: dict[str, Any] = {
            "item_id": entry.id or None, "source_uri": entry.source_uri,
            "metadata": entry.metadata,
        }
        if (entry.text is None) == (entry.data_base64 is None):
            items.append("give exactly one of text or data_base64")
        elif entry.text is not None:
            items.append(_text_item(entry.text, index, **common))
        else:
            try:
                data = base64.b64decode(entry.data_base64 or "", validate=True)
            except (binascii.Error, ValueError) as exc:
                items.append(f"data_base64 is not valid base64 ({exc})")
                continue
            items.append(_media_item(data, entry.filename, index, store_media=entry.store_media, **common))
    return _upsert(request, name, items)


@router.post("/collections/{name}/items/delete", response_model=s.DeleteItemsOut)
def delete_items(request: Request, name: str, body: s.DeleteItemsIn) -> s.DeleteItemsOut:
    if not body.ids and not body.source_uris:
        raise InvalidInputError("give ids and/or source_uris of the items to delete")
    return s.DeleteItemsOut(deleted=engine(request).delete_items(name, body.ids, body.source_uris))


@router.get("/collections/{name}/item", response_model=s.ItemOut)
def get_item(request: Request, name: str, id: str) -> s.ItemOut:  # noqa: A002 - the API's word
    """One item with all of its chunks (the whole text or transcript) and its probe labels."""
    return convert.item(name, engine(request).item(name, id))


@router.get("/collections/{name}/thumbnail", response_class=Response,
            responses={200: {"content": {"image/webp": {}}}})
def get_thumbnail(request: Request, name: str, id: str) -> Response:  # noqa: A002
    """The small WebP preview stored when the image was indexed."""
    data, media_type = engine(request).thumbnail(name, id, index_root(request))
    return Response(data, media_type=media_type, headers=_PRIVATE)


@router.get("/collections/{name}/audio", response_class=Response,
            responses={200: {"content": {"audio/wav": {}}}, 206: {"description": "a byte range"}})
def get_audio(request: Request, name: str, id: str) -> Response:  # noqa: A002
    """An audio item's sound: bytes stored at upload, or its file under the server's index root
    (nothing else is ever read). Range requests work, so players can seek to a hit's start."""
    source = engine(request).item_audio(name, id, index_root(request))
    if source.path is not None:
        return FileResponse(source.path, media_type=source.media_type, headers=_PRIVATE)
    assert source.data is not None
    return bytes_response(source.data, source.media_type, request.headers.get("range"), _PRIVATE)
