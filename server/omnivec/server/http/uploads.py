"""Reading uploaded files (multipart parts) into bytes for the engine."""

from __future__ import annotations

from fastapi import UploadFile

from omnivec.indexer.errors import MediaError

__all__ = ["read_upload"]


def read_upload(upload: UploadFile, field: str) -> bytes:
    """The part's bytes; an empty upload is refused here with its name (the body as a whole is
    already bounded by the edge's size limit)."""
    data = upload.file.read()
    if not data:
        raise MediaError(upload.filename or field, "the uploaded file is empty")
    return data
