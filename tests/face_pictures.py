"""Pictures of two real people built from the sample corpus (samples/media): Grace Hopper and Eileen Collins (the
astronaut), each as the original portrait and pasted, scaled, mirrored or greyed, onto other sample photos; and their
faces as the search service receives them from analysis."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageOps
from support import DEV_MEDIA

from trove_ml.faces import FaceFinder
from trove_protos.search.v1 import search_pb2


def _open(name: str) -> Image.Image:
    return Image.open(DEV_MEDIA / name).convert("RGB")


def _pasted(person: str, background: str, *, scale: float, mirror: bool, at: tuple[int, int]) -> Image.Image:
    picture = _open(background)
    face = _open(person)
    face = face.resize((int(face.width * scale), int(face.height * scale)))
    picture.paste(ImageOps.mirror(face) if mirror else face, at)
    return picture


def pictures() -> dict[str, Image.Image]:
    """name -> picture; names start with the person: hopper_* or collins_*."""
    return {
        "hopper_portrait": _open("grace_hopper.jpg"),
        "hopper_by_the_lake": _pasted("grace_hopper.jpg", "china.jpg", scale=0.6, mirror=True, at=(50, 20)),
        "hopper_grey": ImageOps.grayscale(_open("grace_hopper.jpg")).convert("RGB"),
        "hopper_at_the_cafe": _pasted("grace_hopper.jpg", "coffee.png", scale=0.45, mirror=False, at=(300, 60)),
        "collins_portrait": _open("astronaut.png"),
        "collins_by_the_lake": _pasted("astronaut.png", "china.jpg", scale=0.7, mirror=True, at=(200, 10)),
        "collins_at_the_cafe": _pasted("astronaut.png", "coffee.png", scale=0.6, mirror=False, at=(10, 10)),
    }


def jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@cache
def finder() -> FaceFinder:
    return FaceFinder()


def faces_in(picture: Image.Image, *, start_s: float = 0.0, end_s: float = 0.0) -> list[search_pb2.Face]:
    """The faces FaceFinder finds, with their boxes as fractions and a crop, as analysis sends them."""
    found = []
    for face in finder().find(picture):
        x0, y0, x1, y1 = face.box
        crop = picture.crop(face.box)
        crop.thumbnail((160, 160))
        found.append(
            search_pb2.Face(
                box=[x0 / picture.width, y0 / picture.height, x1 / picture.width, y1 / picture.height],
                score=face.score,
                embedding=face.embedding.tolist(),
                start_s=start_s,
                end_s=end_s,
                crop=jpeg(crop),
            )
        )
    return found
