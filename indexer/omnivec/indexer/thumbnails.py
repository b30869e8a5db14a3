"""Small previews of images, stored with their rows so results can show pictures.

Every image is given a thumbnail when it is indexed (the ``thumbnail`` column, see
:mod:`omnivec.indexer.table_schema`): the web app shows it for uploaded bytes and for sources the
server cannot (or may not) read, and it never needs the original again. WebP at quality 80 keeps
a 256-pixel preview of a photo around 10-20 KB; the longer side is scaled to
:data:`THUMBNAIL_SIDE`, smaller images keep their size.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image

from omnivec.indexer.media import MediaSource, decode_image

__all__ = ["THUMBNAIL_MEDIA_TYPE", "THUMBNAIL_SIDE", "make_thumbnail", "thumbnail_of"]

THUMBNAIL_SIDE: Final = 256
THUMBNAIL_MEDIA_TYPE: Final = "image/webp"


def thumbnail_of(image: Image.Image) -> bytes:
    """The WebP thumbnail of an already decoded image (the indexer decodes each image once)."""
    preview = image.copy()
    preview.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    preview.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue()


def make_thumbnail(source: MediaSource, *, name: str | None = None) -> bytes:
    """Decode ``source`` (strictly, like indexing does) and return its thumbnail; MediaError
    when it is not a readable image."""
    return thumbnail_of(decode_image(source, name=name))
