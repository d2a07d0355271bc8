"""FaceFinder on real photos: faces found where there are faces, none elsewhere, embeddings that tell people apart."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image
from support import DEV_MEDIA

from trove_ml.faces import EMBEDDING_DIM, SAME_PERSON_DISTANCE, FaceFinder, face_crop_jpeg


@pytest.fixture(scope="module")
def finder() -> FaceFinder:
    return FaceFinder()


def test_grace_hopper_has_one_face_in_the_upper_part(finder: FaceFinder) -> None:
    image = Image.open(DEV_MEDIA / "grace_hopper.jpg")
    finder.find(image)  # loads the models, so the timing below is per picture
    started = time.perf_counter()
    faces = finder.find(image)
    seconds = time.perf_counter() - started

    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height
    assert (y0 + y1) / 2 < image.height / 2
    assert faces[0].score > 0.5
    assert faces[0].embedding.shape == (EMBEDDING_DIM,)
    assert faces[0].embedding.dtype == np.float32
    # About 0.3-0.6 s for a 512x600 picture on 2 shared cores; the bound only catches a runaway.
    assert seconds < 20


@pytest.mark.parametrize("name", ["grass.png", "rocket.jpg", "coffee.png", "chelsea.png"])
def test_pictures_without_people_have_no_faces(finder: FaceFinder, name: str) -> None:
    assert finder.find(Image.open(DEV_MEDIA / name)) == []


def test_astronaut_has_one_face_and_not_the_round_mission_patch(finder: FaceFinder) -> None:
    faces = finder.find(Image.open(DEV_MEDIA / "astronaut.png"))

    assert len(faces) == 1
    assert faces[0].box[1] < 150  # the face; the patch on the arm is lower down, around y=335


def test_same_person_is_closer_than_another_person(finder: FaceFinder) -> None:
    grace = Image.open(DEV_MEDIA / "grace_hopper.jpg").convert("RGB")
    copy = grace.crop((30, 20, 500, 560)).resize((400, 460))
    (original,) = finder.find(grace)
    (recropped,) = finder.find(copy)
    (astronaut,) = finder.find(Image.open(DEV_MEDIA / "astronaut.png"))

    same = float(np.linalg.norm(original.embedding - recropped.embedding))
    other = float(np.linalg.norm(original.embedding - astronaut.embedding))
    assert same < SAME_PERSON_DISTANCE < other


def test_large_picture_is_capped_and_boxes_stay_in_its_coordinates(finder: FaceFinder) -> None:
    small = Image.open(DEV_MEDIA / "grace_hopper.jpg")
    large = small.resize((small.width * 5, small.height * 5))

    (face_small,) = finder.find(small)
    (face_large,) = finder.find(large)

    for a, b in zip(face_small.box, face_large.box, strict=True):
        assert abs(a * 5 - b) < 0.1 * large.width


def test_a_face_crop_is_a_small_jpeg_of_the_face(finder: FaceFinder) -> None:
    grace = Image.open(DEV_MEDIA / "grace_hopper.jpg")
    (face,) = finder.find(grace)
    crop = Image.open(io.BytesIO(face_crop_jpeg(grace, face.box)))
    assert crop.format == "JPEG" and max(crop.size) <= 128
    assert abs(crop.width - crop.height) <= 2  # square, unless the picture's edge cuts it
    (again,) = finder.find(crop.resize((crop.width * 3, crop.height * 3)))  # still her face
    assert float(np.linalg.norm(again.embedding - face.embedding)) < SAME_PERSON_DISTANCE
