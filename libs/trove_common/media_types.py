"""The media types Trove accepts: declared content type -> media kind, shared by ingest and the gateway's web page."""

from __future__ import annotations

# Declared content type -> media kind. Aliases browsers and tools send for the same format are listed too.
ALLOWED_TYPES: dict[str, str] = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/gif": "image",
    "image/webp": "image",
    "image/bmp": "image",
    "image/tiff": "image",
    "image/heic": "image",
    "image/heif": "image",
    "video/mp4": "video",
    "video/quicktime": "video",
    "video/webm": "video",
    "video/x-matroska": "video",
    "video/x-msvideo": "video",
    "video/mpeg": "video",
    "audio/mpeg": "audio",
    "audio/mp3": "audio",
    "audio/wav": "audio",
    "audio/x-wav": "audio",
    "audio/wave": "audio",
    "audio/vnd.wave": "audio",
    "audio/mp4": "audio",
    "audio/x-m4a": "audio",
    "audio/m4a": "audio",
    "audio/ogg": "audio",
    "audio/flac": "audio",
    "audio/x-flac": "audio",
    "audio/webm": "audio",
    "audio/aac": "audio",
    "application/pdf": "document",
}


def kind_of(content_type: str) -> str | None:
    """The media kind of an allowed content type (parameters like `; charset=` ignored), else None."""
    return ALLOWED_TYPES.get(content_type.split(";", 1)[0].strip().lower())
