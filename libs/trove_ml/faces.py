"""Faces in pictures: dlib's HOG detector and its 128-d ResNet face descriptor, weights from face_recognition_models."""

from __future__ import annotations

import importlib.util
import io
import threading
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dlib  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
from PIL import Image

EMBEDDING_DIM = 128
# Same person when the Euclidean distance between two embeddings is below this (dlib's documented threshold,
# about 99.4% accurate on LFW).
SAME_PERSON_DISTANCE = 0.6


@dataclass(frozen=True, slots=True)
class Face:
    """A face: box (x0, y0, x1, y1) in pixels of the image given to `FaceFinder.find`, the detector's margin
    (higher is surer; 0.3 is the cut-off), and a 128-d descriptor for grouping faces into people."""

    box: tuple[int, int, int, int]
    score: float
    embedding: npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class _Models:
    detector: Any
    landmarks: Any
    encoder: Any


def _model_dir() -> Path:
    # Found without importing the package: its __init__ imports pkg_resources, which newer setuptools dropped.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face_recognition_models is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class FaceFinder:
    """Finds frontal and near-frontal faces and describes each one; the models load on the first `find`.

    Args:
        min_score: detections with a smaller HOG margin are dropped. dlib's own cut-off is 0, which lets through
            face-like patterns (a round mission patch in astronaut.png scores 0.12); real faces score 0.5 and up.
        max_side_px: larger pictures are downscaled to this longest side first, which bounds the time per picture.
            The detector is run on a 2x upsampled copy, so faces down to about 40 px at that size are found.
    """

    def __init__(self, *, min_score: float = 0.3, max_side_px: int = 1024) -> None:
        self.model_name: str = f"dlib-{version('dlib-bin')}/hog+resnet_v1"
        self._min_score = min_score
        self._max_side_px = max_side_px
        self._models: _Models | None = None
        self._lock = threading.Lock()

    def _load(self) -> _Models:
        with self._lock:
            if self._models is None:
                models = _model_dir()
                self._models = _Models(
                    detector=dlib.get_frontal_face_detector(),
                    landmarks=dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat")),
                    encoder=dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat")),
                )
            return self._models

    def find(self, image: Image.Image) -> list[Face]:
        """Every face found in `image`, best first; an empty list when there is none."""
        models = self._load()
        rgb = image.convert("RGB")
        scale = min(1.0, self._max_side_px / max(rgb.size))
        if scale < 1.0:
            rgb = rgb.resize(
                (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.LANCZOS
            )
        pixels = np.ascontiguousarray(np.asarray(rgb))
        rects, scores, _ = models.detector.run(pixels, 1, self._min_score)
        faces = []
        for rect, score in zip(rects, scores, strict=True):
            shape = models.landmarks(pixels, rect)
            embedding = np.asarray(models.encoder.compute_face_descriptor(pixels, shape), dtype=np.float32)
            faces.append(Face(box=_box(rect, scale, rgb.size, image.size), score=float(score), embedding=embedding))
        return sorted(faces, key=lambda face: face.score, reverse=True)


def _box(rect: Any, scale: float, scaled: tuple[int, int], original: tuple[int, int]) -> tuple[int, int, int, int]:
    """The detection in the caller's pixel coordinates, clipped to the picture (dlib boxes may overhang it)."""
    x0, y0 = max(0, rect.left()), max(0, rect.top())
    x1, y1 = min(scaled[0], rect.right() + 1), min(scaled[1], rect.bottom() + 1)
    return (int(x0 / scale), int(y0 / scale), min(original[0], round(x1 / scale)), min(original[1], round(y1 / scale)))


def face_crop_jpeg(
    image: Image.Image, box: tuple[int, int, int, int], *, side_px: int = 128, margin: float = 0.3
) -> bytes:
    """A small square JPEG of the face in `box` (pixels of `image`), with `margin` (a share of the box's size) of
    hair and chin around it, for showing the person."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = max(x1 - x0, y1 - y0) * (1 + margin) / 2
    square = (
        max(0, round(cx - half)),
        max(0, round(cy - half)),
        min(image.width, round(cx + half)),
        min(image.height, round(cy + half)),
    )
    crop = image.convert("RGB").crop(square)
    crop.thumbnail((side_px, side_px), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    crop.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()
