"""Which files Trove accepts: media kinds of the shared allow-list, and sniffing the real type from bytes."""

from __future__ import annotations

import filetype

from trove_common.media_types import ALLOWED_TYPES

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
