"""An Immich-layout CLIP folder (ONNX towers) exported from the tiny trained CLIP loads and embeds like it."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_clip import IMAGE_SIZE, MAX_TOKENS, PAIRS, colour_image, write_tiny_clip
from transformers import CLIPModel

from trove_ml.errors import ModelFolderError
from trove_ml.image_text import ImageTextModel, check_folder
from trove_ml.immich_clip import ImmichClipModel


class _Visual(torch.nn.Module):
    def __init__(self, model: CLIPModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model.get_image_features(pixel_values=image).pooler_output


class _Textual(torch.nn.Module):
    def __init__(self, model: CLIPModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.model.get_text_features(input_ids=text.long()).pooler_output


def _export(model: CLIPModel, folder: Path) -> None:
    torch.onnx.export(
        _Visual(model),
        (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),),
        str(folder / "visual" / "model.onnx"),
        input_names=["image"],
        output_names=["embedding"],
        dynamo=False,
    )
    torch.onnx.export(
        _Textual(model),
        (torch.zeros(1, MAX_TOKENS, dtype=torch.int32),),
        str(folder / "textual" / "model.onnx"),
        input_names=["text"],
        output_names=["embedding"],
        dynamo=False,
    )


def _export_immich(hf: Path, folder: Path) -> Path:
    """The HF folder's towers as Immich keeps a CLIP model: visual/ and textual/ ONNX models plus configs."""
    model = CLIPModel.from_pretrained(hf, local_files_only=True).eval()
    for part in ("visual", "textual"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated but needs no onnxscript
        warnings.simplefilter("ignore")
        _export(model, folder)
    processor = json.loads((hf / "preprocessor_config.json").read_text())
    config = {
        "embed_dim": model.config.projection_dim,
        "vision_cfg": {"image_size": IMAGE_SIZE},
        "text_cfg": {"context_length": MAX_TOKENS},
    }
    (folder / "config.json").write_text(json.dumps(config))
    preprocess = {"size": [IMAGE_SIZE, IMAGE_SIZE], "mean": processor["image_mean"], "std": processor["image_std"]}
    (folder / "visual" / "preprocess_cfg.json").write_text(json.dumps(preprocess))
    shutil.copy(hf / "tokenizer.json", folder / "textual" / "tokenizer.json")
    tokenizer_config = json.loads((hf / "tokenizer_config.json").read_text())
    (folder / "textual" / "tokenizer_config.json").write_text(json.dumps({"pad_token": tokenizer_config["pad_token"]}))
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    hf = write_tiny_clip(tmp_path_factory.mktemp("hf") / "tiny-clip")
    return hf, _export_immich(hf, tmp_path_factory.mktemp("immich") / "tiny-clip-onnx")


def test_an_immich_folder_loads_and_embeds_like_the_hugging_face_one(folders: tuple[Path, Path]) -> None:
    hf, immich = folders
    check_folder(immich)
    reference = ImageTextModel.load(hf)
    model = ImageTextModel.load(immich)
    assert isinstance(model, ImmichClipModel)
    assert model.dim == reference.dim and model.family == "clip" and model.name.startswith("clip:")
    texts = [f"a photo of a {word}" for word in PAIRS] + ["some big picture"]
    images = [colour_image(rgb, seed=7) for rgb in PAIRS.values()]
    assert np.allclose(model.embed_texts(texts), reference.embed_texts(texts), atol=1e-4)
    assert np.allclose(model.embed_images(images), reference.embed_images(images), atol=1e-4)


def test_an_immich_folder_searches_by_the_words_it_learned(folders: tuple[Path, Path]) -> None:
    _, immich = folders
    model = ImageTextModel.load(immich)
    images = model.embed_images([colour_image(rgb, seed=3) for rgb in PAIRS.values()])
    for i, word in enumerate(PAIRS):
        scores = images @ model.embed_texts([word])[0]
        assert int(np.argmax(scores)) == i, (word, scores)


def test_an_incomplete_immich_folder_is_refused_by_name(folders: tuple[Path, Path], tmp_path: Path) -> None:
    _, immich = folders
    broken = shutil.copytree(immich, tmp_path / "broken")
    (broken / "textual" / "tokenizer.json").unlink()
    with pytest.raises(ModelFolderError, match="textual/tokenizer.json"):
        check_folder(broken)
