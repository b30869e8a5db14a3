"""Byte-range responses for stored media, so an audio player can seek to a hit's start.

Files are served by Starlette's ``FileResponse``, which answers ranges itself; bytes kept in the
table get the same behaviour here: one ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range (what
browsers send) answers 206, anything unsatisfiable 416, and no Range header the whole body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi.responses import Response

__all__ = ["bytes_response"]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def bytes_response(
    data: bytes, media_type: str, range_header: str | None, headers: Mapping[str, str]
) -> Response:
    base = {**headers, "accept-ranges": "bytes"}
    size = len(data)
    match = _RANGE.match((range_header or "").strip())
    if range_header is None or match is None or match.group(0) == "bytes=-":
        return Response(data, media_type=media_type, headers=base)
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(0, size - int(last)), size - 1
    if start >= size or start > end:
        return Response(status_code=416, headers={**base, "content-range": f"bytes */{size}"})
    return Response(
        data[start : end + 1], status_code=206, media_type=media_type,
        headers={**base, "content-range": f"bytes {start}-{end}/{size}"},
    )
