"""Text in pictures: RapidOCR with the PP-OCRv6 ONNX models that ship inside its wheel, on CPU."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import rapidocr
from PIL import Image
from rapidocr import RapidOCR
from rapidocr.utils.output import RapidOCROutput

# The wheel carries these files; naming them explicitly means RapidOCR never reaches its download path.
_MODEL_DIR = Path(rapidocr.__file__).resolve().parent / "models"
_DET_MODEL = _MODEL_DIR / "PP-OCRv6_det_small.onnx"
_REC_MODEL = _MODEL_DIR / "PP-OCRv6_rec_small.onnx"
# Detection runs on a copy whose longest side is at most this; recognition still reads the full-size crops.
# Small pictures are not upscaled (RapidOCR's default blows a 384 px page up to 1472 px and gets slower and worse).
_DET_SIDE_PX = 1280
_MIN_SIDE_PX = 8


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One line of text; box is (x0, y0, x1, y1) in pixels of the image given to `TextReader.read`."""

    text: str
    score: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class OcrResult:
    """The lines in reading order (top to bottom, left to right) and their texts joined with newlines."""

    text: str
    lines: list[OcrLine]


class TextReader:
    """Reads printed or photographed text; the models load on the first `read`.

    Args:
        min_score: lines the recogniser is less sure of than this (0-1) are dropped; garbled text from
            textures and blurred print mostly scores below 0.6.
        max_side_px: larger pictures are downscaled to this longest side first, which bounds the time per picture.
    """

    def __init__(self, *, min_score: float = 0.6, max_side_px: int = 2000) -> None:
        self.model_name: str = f"rapidocr-{version('rapidocr')}/PP-OCRv6-small"
        self._min_score = min_score
        self._max_side_px = max_side_px
        self._engine: RapidOCR | None = None
        self._lock = threading.Lock()

    def _load(self) -> RapidOCR:
        with self._lock:
            if self._engine is None:
                missing = [p.name for p in (_DET_MODEL, _REC_MODEL) if not p.is_file()]
                if missing:
                    raise RuntimeError(f"rapidocr is installed without its bundled models: {missing}")
                self._engine = RapidOCR(
                    params={
                        "Global.log_level": "error",
                        "Global.text_score": self._min_score,
                        # The 0/180 degree classifier flipped correct lines of small print in our tests; upside-down
                        # text is rare in photos and scans, so it is off and its model never loads.
                        "Global.use_cls": False,
                        "Det.model_path": str(_DET_MODEL),
                        "Det.limit_type": "max",
                        "Det.limit_side_len": _DET_SIDE_PX,
                        "Rec.model_path": str(_REC_MODEL),
                    }
                )
            return self._engine

    def read(self, image: Image.Image) -> OcrResult:
        """The text in `image`; an empty result when there is none."""
        engine = self._load()
        rgb = image.convert("RGB")
        scale = min(1.0, self._max_side_px / max(rgb.size))
        # Detection needs some height to find a line in (RapidOCR fails on slivers); such strips hold no text.
        if min(rgb.size) * scale < _MIN_SIDE_PX:
            return OcrResult(text="", lines=[])
        if scale < 1.0:
            rgb = rgb.resize(
                (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), Image.Resampling.LANCZOS
            )
        # RapidOCR takes arrays in OpenCV's BGR order.
        bgr = np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
        output = engine(bgr)
        if not isinstance(output, RapidOCROutput) or output.boxes is None or output.txts is None:
            return OcrResult(text="", lines=[])
        lines = [
            OcrLine(text=text.strip(), score=float(score), box=_box(points, scale))
            for points, text, score in zip(output.boxes, output.txts, output.scores or (), strict=True)
            if text.strip() and score >= self._min_score
        ]
        return OcrResult(text="\n".join(line.text for line in lines), lines=lines)


def _box(points: np.ndarray, scale: float) -> tuple[int, int, int, int]:
    """The axis-aligned bounds of a detected quadrilateral, in the caller's pixel coordinates."""
    xs, ys = points[:, 0] / scale, points[:, 1] / scale
    return int(xs.min()), int(ys.min()), int(np.ceil(xs.max())), int(np.ceil(ys.max()))
