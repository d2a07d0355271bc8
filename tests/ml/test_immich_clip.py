"""An Immich-layout CLIP folder (ONNX towers) exported from the tiny trained CLIP loads and embeds like it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from tiny_clip import PAIRS, colour_image, write_immich_clip, write_tiny_clip

from trove_ml.errors import ModelFolderError
from trove_ml.image_text import ImageTextModel, check_folder
from trove_ml.immich_clip import ImmichClipModel


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    hf = write_tiny_clip(tmp_path_factory.mktemp("hf") / "tiny-clip")
    return hf, write_immich_clip(hf, tmp_path_factory.mktemp("immich") / "tiny-clip-onnx")


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
