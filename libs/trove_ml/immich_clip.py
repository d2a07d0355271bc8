"""CLIP models in the ONNX folder layout an Immich installation keeps, run with onnxruntime.

Layout (Immich machine learning, CLIP): `<name>/config.json` (open_clip: embed_dim, text_cfg.context_length),
`<name>/visual/model.onnx` with `visual/preprocess_cfg.json` (size, mean, std), and `<name>/textual/model.onnx`
with `textual/tokenizer.json` and `textual/tokenizer_config.json` (pad_token). The visual model takes `image`
(float32, N x 3 x H x W, normalised) and the textual model `text` (int32 token ids padded to context_length); the
first output of each is the embedding.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from trove_ml.errors import ModelFolderError
from trove_ml.image_text import CLIP_CALIBRATION, ImageTextModel
from trove_ml.model_folder import folder_model_name, read_json

IMMICH_FILES = (
    "config.json",
    "visual/model.onnx",
    "visual/preprocess_cfg.json",
    "textual/model.onnx",
    "textual/tokenizer.json",
    "textual/tokenizer_config.json",
)


def is_immich_folder(folder: Path) -> bool:
    return (folder / "visual" / "model.onnx").is_file() or (folder / "textual" / "model.onnx").is_file()


def check_immich_folder(folder: Path) -> None:
    """The files exist and config.json has embed_dim; else ModelFolderError naming what is missing."""
    missing = [name for name in IMMICH_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelFolderError(f"{folder} is not an Immich CLIP model folder: missing {', '.join(missing)}")
    if not isinstance(read_json(folder / "config.json").get("embed_dim"), int):
        raise ModelFolderError(f"{folder}/config.json has no embed_dim")


def _size(value: Any) -> int:
    return int(value[0] if isinstance(value, list) else value)


class ImmichClipModel(ImageTextModel):
    """An Immich CLIP folder: same interface and calibration as a Hugging Face CLIP folder."""

    def __init__(self, *, folder: Path) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]
        from tokenizers import Tokenizer

        check_immich_folder(folder)
        config = read_json(folder / "config.json")
        preprocess = read_json(folder / "visual" / "preprocess_cfg.json")
        tokenizer_config = read_json(folder / "textual" / "tokenizer_config.json")
        self.family = "clip"
        digest = folder_model_name(folder.resolve(), IMMICH_FILES)
        self.name = f"clip:{re.sub(r'[^A-Za-z0-9._-]', '_', digest)}"
        self.dim = int(config["embed_dim"])
        self.calibration = CLIP_CALIBRATION
        self._context = int(config.get("text_cfg", {}).get("context_length", 77))
        vision = config.get("vision_cfg", {})
        self._image_size = _size(preprocess.get("size", vision.get("image_size", 224)))
        self._mean = np.asarray(preprocess.get("mean", [0.48145466, 0.4578275, 0.40821073]), np.float32)
        self._std = np.asarray(preprocess.get("std", [0.26862954, 0.2613026, 0.2757771]), np.float32)
        try:
            tokenizer = Tokenizer.from_file(str(folder / "textual" / "tokenizer.json"))
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self._visual = ort.InferenceSession(
                str(folder / "visual" / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
            self._textual = ort.InferenceSession(
                str(folder / "textual" / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime and tokenizers raise their own exception types
            raise ModelFolderError(f"{folder} cannot be loaded as an Immich CLIP model: {exc}") from exc
        pad = tokenizer_config.get("pad_token", "<|endoftext|>")
        pad = pad.get("content", "") if isinstance(pad, dict) else str(pad)
        pad_id = tokenizer.token_to_id(pad)
        if pad_id is None:
            raise ModelFolderError(f"{folder}/textual/tokenizer.json has no pad token {pad!r}")
        tokenizer.enable_padding(length=self._context, pad_token=pad, pad_id=pad_id)
        tokenizer.enable_truncation(max_length=self._context)
        self._tok = tokenizer
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: Path) -> ImmichClipModel:
        return cls(folder=folder)

    def _pixels(self, image: Image.Image) -> npt.NDArray[np.float32]:
        """Shortest side to the model's size (bicubic), centre crop, scale to 0-1, normalise; 3 x H x W."""
        size = self._image_size
        image = image.convert("RGB")
        scale = size / min(image.size)
        width, height = max(size, round(image.width * scale)), max(size, round(image.height * scale))
        image = image.resize((width, height), Image.Resampling.BICUBIC)
        left, top = (width - size) // 2, (height - size) // 2
        image = image.crop((left, top, left + size, top + size))
        pixels = (np.asarray(image, dtype=np.float32) / 255.0 - self._mean) / self._std
        return pixels.transpose(2, 0, 1)

    def embed_images(self, images: Sequence[Image.Image]) -> npt.NDArray[np.float32]:
        out = np.empty((len(images), self.dim), dtype=np.float32)
        for i, image in enumerate(images):
            with self._lock:
                vector = self._visual.run(None, {"image": self._pixels(image)[None]})[0][0]
            out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return out

    def embed_texts(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if isinstance(texts, str):
            raise TypeError("embed_texts() takes a sequence of texts, not one str")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            ids = np.asarray([self._tok.encode(text).ids], dtype=np.int32)
            with self._lock:
                vector = self._textual.run(None, {"text": ids})[0][0]
            out[i] = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return out
