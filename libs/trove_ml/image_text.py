"""Joint image-text vectors from a CLIP or SigLIP checkpoint folder the user supplies (Hugging Face layout).

Nothing is downloaded: the folder must hold the weights, tokenizer and preprocessing settings. transformers is
imported only when a model is loaded, since importing it takes seconds that services without such a model
should not pay.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from safetensors import SafetensorError
from torch.nn import functional as F

from trove_ml.errors import ModelFolderError
from trove_ml.model_folder import folder_model_name, read_json

if TYPE_CHECKING:
    from transformers import BaseImageProcessor, CLIPModel, PreTrainedTokenizerBase, SiglipModel

MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "preprocessor_config.json")
FAMILIES = ("clip", "siglip")
# CLIP has no bias to calibrate against, so these are published cosines for OpenAI's ViT-B/32: LAION-5B kept
# image-alt-text pairs at 0.28 and above (LAION-400M's human review found 0.28-0.3 "okay"), while unrelated
# pairs typically score 0.15-0.20.
CLIP_CALIBRATION = (0.18, 0.28)
# SigLIP is trained as a binary classifier, p(match) = sigmoid(scale * cosine + bias). Its own decision boundary,
# p = 0.5, is a good caption (published examples give exact captions p ~ 0.3, so 0.95 would be out of reach);
# p = 0.01 is unrelated.
SIGLIP_FLOOR_P, SIGLIP_CEIL_P = 0.01, 0.5
_IMAGE_BATCH = 16
_TEXT_BATCH = 64


def check_folder(folder: Path) -> None:
    """Cheap check for settings validation (no weights loaded): the files exist and config.json names a
    supported model_type (or it is an Immich CLIP folder); else ModelFolderError naming what is missing."""
    if not folder.is_dir():
        raise ModelFolderError(f"{folder} is not a directory")
    from trove_ml import immich_clip

    if immich_clip.is_immich_folder(folder):
        immich_clip.check_immich_folder(folder)
        return
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        # Google's SigLIP folders ship only spiece.model, which needs the sentencepiece package Trove does not install.
        hint = (
            " (it has spiece.model: write tokenizer.json once where sentencepiece is installed, with"
            " AutoTokenizer.from_pretrained(folder).save_pretrained(folder))"
            if (folder / "spiece.model").is_file()
            else ""
        )
        raise ModelFolderError(f"{folder} is not a CLIP/SigLIP model folder: missing {', '.join(missing)}{hint}")
    model_type = read_json(folder / "config.json").get("model_type")
    if model_type not in FAMILIES:
        raise ModelFolderError(
            f"{folder}: model_type {model_type!r} is not supported; only {' and '.join(FAMILIES)} image-text models"
        )


def _siglip_calibration(logit_scale: float, logit_bias: float) -> tuple[float, float]:
    def cosine_at(p: float) -> float:
        return (math.log(p / (1 - p)) - logit_bias) / math.exp(logit_scale)

    return cosine_at(SIGLIP_FLOOR_P), cosine_at(SIGLIP_CEIL_P)


class ImageTextModel:
    """A CLIP or SigLIP checkpoint run on the CPU with torch; safe to share between threads.

    Attributes:
        name: "<family>:<folder name>", e.g. "clip:clip-vit-base-patch32" (characters [A-Za-z0-9._:-]).
        dim: length of the (L2-normalised) image and text vectors.
        family: "clip" or "siglip", from config.json's model_type.
        calibration: (floor, ceil) cosine between a text and an image vector: below floor is unrelated, at or
            above ceil is a good caption. See CLIP_CALIBRATION and SIGLIP_FLOOR_P/SIGLIP_CEIL_P.
    """

    def __init__(
        self,
        *,
        folder: Path,
        model: CLIPModel | SiglipModel,
        tokenizer: PreTrainedTokenizerBase,
        image_processor: BaseImageProcessor,
    ) -> None:
        config: dict[str, Any] = model.config.to_dict()  # with transformers' defaults for what config.json omits
        self.family: str = config["model_type"]
        # The folder's name plus a digest of its files: new weights under an old name make a new space.
        self.name = f"{self.family}:{re.sub(r'[^A-Za-z0-9._-]', '_', folder_model_name(folder.resolve(), MODEL_FILES))}"
        # SigLIP has no separate projection: its text head maps to the vision tower's width.
        self.dim = int(config["projection_dim"] if self.family == "clip" else config["text_config"]["projection_size"])
        self._max_tokens = int(config["text_config"]["max_position_embeddings"])
        self._model = model
        self._tokenizer = tokenizer
        self._image_processor = image_processor
        self._lock = threading.Lock()
        self.calibration = CLIP_CALIBRATION
        if self.family == "siglip":
            state = model.state_dict()
            self.calibration = _siglip_calibration(float(state["logit_scale"]), float(state["logit_bias"]))

    @classmethod
    def load(cls, folder: Path) -> ImageTextModel:
        """Load the folder's model, tokenizer and image preprocessing; a ModelFolderError if it cannot be used.
        An Immich CLIP folder (visual/ and textual/ ONNX models) loads as an ImmichClipModel."""
        check_folder(folder)
        from trove_ml import immich_clip

        if immich_clip.is_immich_folder(folder):
            return immich_clip.ImmichClipModel.load(folder)
        from transformers import (
            AutoTokenizer,
            CLIPImageProcessorPil,
            CLIPModel,
            SiglipImageProcessorPil,
            SiglipModel,
        )
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # a bar per load on stderr is noise in a service's logs

        clip = read_json(folder / "config.json")["model_type"] == "clip"
        model_class = CLIPModel if clip else SiglipModel
        processor_class = CLIPImageProcessorPil if clip else SiglipImageProcessorPil
        try:
            loaded = model_class.from_pretrained(
                folder, local_files_only=True, dtype=torch.float32, output_loading_info=True
            )
            model, report = cast(tuple["CLIPModel | SiglipModel", dict[str, list[Any]]], loaded)
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            image_processor = processor_class.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
            raise ModelFolderError(f"{folder} cannot be loaded as a {model_class.__name__}: {exc}") from exc
        # transformers fills tensors a checkpoint lacks with random values; such a model would embed noise.
        if missing := sorted(report["missing_keys"]):
            raise ModelFolderError(
                f"{folder}/model.safetensors lacks {len(missing)} tensors that config.json describes, e.g. {missing[0]}"
            )
        torch.nn.Module.eval(model)  # from_pretrained does this too; inference must never run dropout
        return cls(folder=folder, model=model, tokenizer=tokenizer, image_processor=image_processor)

    def embed_images(self, images: Sequence[Image.Image]) -> npt.NDArray[np.float32]:
        """One unit-length row per image (any mode or size; converted to RGB)."""
        out = np.empty((len(images), self.dim), dtype=np.float32)
        for start in range(0, len(images), _IMAGE_BATCH):
            batch = [image.convert("RGB") for image in images[start : start + _IMAGE_BATCH]]
            pixels = self._image_processor(images=batch, return_tensors="pt")["pixel_values"]
            with self._lock, torch.inference_mode():
                vectors = self._model.get_image_features(pixel_values=pixels).pooler_output
                out[start : start + len(batch)] = F.normalize(vectors, dim=-1).numpy()
        return out

    def embed_texts(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One unit-length row per text; texts longer than the model's max tokens are cut."""
        if isinstance(texts, str):
            raise TypeError("embed_texts() takes a sequence of texts, not one str")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), _TEXT_BATCH):
            batch = list(texts[start : start + _TEXT_BATCH])
            with self._lock, torch.inference_mode():
                vectors = self._text_features(batch)
                out[start : start + len(batch)] = F.normalize(vectors, dim=-1).numpy()
        return out

    def _text_features(self, texts: list[str]) -> torch.Tensor:
        # SigLIP was trained on texts padded to max length with no attention mask and pools the last position;
        # CLIP pools at each text's end token, so padding to the longest text in the batch is enough.
        padding = "max_length" if self.family == "siglip" else "longest"
        tokens = self._tokenizer(
            texts, padding=padding, truncation=True, max_length=self._max_tokens, return_tensors="pt"
        )
        mask = tokens["attention_mask"] if self.family == "clip" else None
        features: torch.Tensor = self._model.get_text_features(
            input_ids=tokens["input_ids"], attention_mask=mask
        ).pooler_output
        return features
