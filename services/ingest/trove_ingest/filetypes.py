"""Which files Trove accepts: the content-type allow-list, media kinds, and sniffing the real type from bytes."""

from __future__ import annotations

import filetype

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

# Bytes needed to recognise every allowed format by its magic number.
SNIFF_BYTES = 8192


def kind_of(content_type: str) -> str | None:
    """The media kind of an allowed content type (parameters like `; charset=` ignored), else None."""
    return ALLOWED_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def sniff(head: bytes) -> tuple[str, str] | None:
    """(content type, kind) judged from the first bytes of a file, or None if it is no format we accept.

    Containers shared by audio and video (MP4, WebM, Matroska) are judged by their brand only, so a sound-only
    .m4a or .webm may sniff as video; `compatible` treats the two kinds as one for those containers.
    """
    guess = filetype.guess(head)
    if guess is None:
        return None
    mime = str(guess.mime)
    kind = kind_of(mime)
    return (mime, kind) if kind else None


_AV_CONTAINERS = {"video/mp4", "video/webm", "video/x-matroska", "audio/mp4", "audio/webm", "audio/x-m4a"}


def compatible(*, declared_kind: str, sniffed_type: str, sniffed_kind: str) -> bool:
    """Whether the bytes fit what the uploader declared (same kind; audio/video containers are interchangeable)."""
    if declared_kind == sniffed_kind:
        return True
    return {declared_kind, sniffed_kind} == {"audio", "video"} and sniffed_type in _AV_CONTAINERS
