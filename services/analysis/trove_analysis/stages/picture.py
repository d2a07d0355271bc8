"""What a vision provider sees in one picture (a photo, a video keyframe): the shape image and video results share."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from trove_analysis import describe
from trove_analysis.models import IndexedFace, SegmentText
from trove_analysis.stages._codec import encode


@dataclass(frozen=True, slots=True)
class Label:
    name: str  # comma-separated synonyms, most telling first
    score: float
    wnid: str = ""
    broader: tuple[str, ...] = ()  # broader terms ("tabby" is also a "cat")


@dataclass(frozen=True, slots=True)
class Pixels:
    colours: tuple[str, ...] = ()
    black_and_white: bool = False
    brightness: str = ""
    style: str = ""
    words: tuple[str, ...] = ()  # searchable words for these facts


@dataclass(frozen=True, slots=True)
class OcrLine:
    text: str
    box: tuple[int, ...]  # x0, y0, x1, y1 in pixels


@dataclass(frozen=True, slots=True)
class Ocr:
    text: str = ""
    lines: tuple[OcrLine, ...] = ()


@dataclass(frozen=True, slots=True)
class Face:
    box: tuple[int, ...]  # x0, y0, x1, y1 in pixels
    score: float = 0.0
    embedding: tuple[float, ...] = ()
    crop: str = ""  # a small JPEG of the face, base64 (results stored before crops were made have none)


@dataclass(frozen=True, slots=True, kw_only=True)
class Picture:
    width: int = 0
    height: int = 0
    labels: tuple[Label, ...] = ()
    pixels: Pixels = Pixels()
    ocr: Ocr = Ocr()
    faces: tuple[Face, ...] = ()
    image_vector: tuple[float, ...] | None = None  # in the image-text model's space, when one is configured


def view(picture: Picture) -> dict[str, Any]:
    """A picture for people: labels, description, colours and style, its text, its faces."""
    return {
        "labels": [{"name": x.name, "score": x.score, "broader": list(x.broader)} for x in picture.labels],
        "description": describe.picture_text(picture),
        "caption": describe.caption(picture),
        "colours": list(picture.pixels.colours),
        "style": picture.pixels.style,
        "black_and_white": picture.pixels.black_and_white,
        "brightness": picture.pixels.brightness,
        "text": picture.ocr.text,
        "faces": {"count": len(picture.faces), "boxes": [encode(face.box) for face in picture.faces]},
    }


def image_vector(picture: Picture) -> list[float] | None:
    return list(picture.image_vector) if picture.image_vector is not None else None


def text_segment(picture: Picture) -> SegmentText | None:
    """The picture's own text (OCR) as a segment, when there is enough of it."""
    text = describe.ocr_text(picture)
    return SegmentText(kind="text", start_s=0.0, end_s=0.0, text=text) if text else None


def faces(picture: Picture, *, start_s: float = 0.0, end_s: float = 0.0) -> list[IndexedFace]:
    """The picture's faces for people, boxes as fractions of the picture; faces without a descriptor are left out."""
    if picture.width <= 0 or picture.height <= 0:
        return []
    found = []
    for face in picture.faces:
        if len(face.box) != 4 or not face.embedding:
            continue
        x0, y0, x1, y1 = face.box
        box = (x0 / picture.width, y0 / picture.height, x1 / picture.width, y1 / picture.height)
        if not (0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1):
            continue
        found.append(
            IndexedFace(
                box=box,
                score=face.score,
                embedding=face.embedding,
                start_s=start_s,
                end_s=end_s,
                crop=_crop(face.crop),
            )
        )
    return found


def _crop(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return b""


def conse_phrase(label: Label) -> str:
    """The words a label is embedded from for a ConSE picture vector: its first two names ("tiger cat, tabby")."""
    return ", ".join([name.strip() for name in label.name.split(",") if name.strip()][:2])
