"""Originals kept in an S3 bucket, streamed through the gateway with the headers FileResponse gives local files."""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

from trove_common.objectstore import ObjectStorage
from trove_protos.ingest.v1 import ingest_pb2

# One range, as browsers send for <video> seeking; anything else gets the whole file, as RFC 9110 allows.
_ONE_RANGE = re.compile(r"bytes=(\d+-\d*|-\d+)", re.ASCII)


async def bucket_content(storage: ObjectStorage, media: ingest_pb2.Media, *, range_header: str | None) -> Response:
    """The media's original from the bucket: 200, or 206 with Content-Range for a single `Range: bytes=` header."""
    byte_range = range_header.strip() if range_header and _ONE_RANGE.fullmatch(range_header.strip()) else None
    part = await storage.open_range(media.storage_key, byte_range=byte_range)
    headers = {
        "Cache-Control": "private, max-age=3600",
        "Accept-Ranges": "bytes",
        "Content-Length": str(part.size),
        "Content-Disposition": f"inline; filename*=utf-8''{quote(media.filename)}",
    }
    status = 200
    if part.partial:
        status = 206
        headers["Content-Range"] = f"bytes {part.start}-{part.start + part.size - 1}/{part.total}"
    return StreamingResponse(part.chunks, status_code=status, media_type=media.content_type, headers=headers)
