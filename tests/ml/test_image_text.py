"""Tests for the image-text model: tiny CLIP and SigLIP folders trained on the spot to tie made-up words to colours."""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from tiny_bert import write_tiny_bert
from tiny_clip import PAIRS, colour_image, write_tiny_clip

from trove_ml import ImageTextModel
from trove_ml.errors import ModelFolderError
from trove_ml.image_text import CLIP_CALIBRATION, MODEL_FILES, SIGLIP_CEIL_P, SIGLIP_FLOOR_P, check_folder

WORDS = list(PAIRS)
# Seeds the tiny models never trained on.
UNSEEN = range(500, 503)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Matrices this small gain nothing from a second thread, which stalls when other processes share the CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("image_text")
    return {family: write_tiny_clip(root / f"tiny-{family}", family=family) for family in ("clip", "siglip")}


@pytest.fixture(scope="module")
def models(folders: dict[str, Path]) -> dict[str, ImageTextModel]:
    return {family: ImageTextModel.load(folder) for family, folder in folders.items()}


@pytest.fixture(params=["clip", "siglip"])
def model(request: pytest.FixtureRequest, models: dict[str, ImageTextModel]) -> ImageTextModel:
    return models[request.param]


def _pictures() -> tuple[list[Image.Image], list[str]]:
    """Pictures of every colour (unseen noise) and the word each one belongs to."""
    pictures = [(colour_image(rgb, seed=seed), word) for word, rgb in PAIRS.items() for seed in UNSEEN]
    return [picture for picture, _ in pictures], [word for _, word in pictures]


def test_loads_with_family_name_and_dim(models: dict[str, ImageTextModel]) -> None:
    clip, siglip = models["clip"], models["siglip"]

    assert (clip.family, clip.dim, siglip.family, siglip.dim) == ("clip", 24, "siglip", 32)
    assert re.fullmatch(r"clip:tiny-clip-[0-9a-f]{12}", clip.name), clip.name
    assert re.fullmatch(r"siglip:tiny-siglip-[0-9a-f]{12}", siglip.name), siglip.name


def test_the_name_follows_the_weights_not_the_folder(tmp_path: Path, folders: dict[str, Path]) -> None:
    copy = shutil.copytree(folders["clip"], tmp_path / "tiny-clip")
    assert ImageTextModel.load(copy).name == ImageTextModel.load(folders["clip"]).name

    weights = load_file(copy / "model.safetensors")
    first = next(iter(weights))
    weights[first] = weights[first] + 1.0
    save_file(weights, copy / "model.safetensors")
    assert ImageTextModel.load(copy).name != ImageTextModel.load(folders["clip"]).name


def test_rows_are_unit_length_float32_and_empty_input_is_empty(model: ImageTextModel) -> None:
    images = model.embed_images([colour_image((10, 20, 30)), colour_image((200, 100, 0), size=7)])
    texts = model.embed_texts(["zorblat", "", "Héllo wörld ☕ 東京"])

    assert images.shape == (2, model.dim) and texts.shape == (3, model.dim)
    assert images.dtype == texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(np.vstack([images, texts]), axis=1), 1.0, atol=1e-5)
    assert model.embed_images([]).shape == model.embed_texts([]).shape == (0, model.dim)
    with pytest.raises(TypeError, match="not one str"):
        model.embed_texts("zorblat")


def test_words_find_their_colour(model: ImageTextModel) -> None:
    pictures, owners = _pictures()
    queries = [*WORDS, *(f"a {word} thing" for word in WORDS), *(f"my {word} gizmo" for word in WORDS)]

    similarity = model.embed_texts(queries) @ model.embed_images(pictures).T

    for query, row in zip(queries, similarity, strict=True):
        ranked = [owners[i] for i in np.argsort(-row)]
        word = next(word for word in WORDS if word in query.split())
        assert ranked[: len(UNSEEN)] == [word] * len(UNSEEN), f"{query!r} ranks {ranked}"


def test_text_without_a_known_word_matches_no_colour_as_well_as_the_words_do(model: ImageTextModel) -> None:
    pictures, owners = _pictures()
    vectors = model.embed_images(pictures)

    words = model.embed_texts(WORDS) @ vectors.T
    matches = [words[WORDS.index(owner), i] for i, owner in enumerate(owners)]
    unrelated = model.embed_texts(["something else entirely"]) @ vectors.T

    assert unrelated.max() < min(matches) - 0.3


def test_images_of_any_mode_and_size(model: ImageTextModel) -> None:
    red = colour_image(PAIRS["zorblat"], seed=7)
    variants = [red.convert("RGBA"), red.convert("P"), red.resize((300, 90)), red.resize((1, 1))]

    vectors = model.embed_images([red, *variants])
    zorblat = model.embed_texts(WORDS)[0]
    others = model.embed_texts(WORDS[1:])

    np.testing.assert_allclose(vectors[1], vectors[0], atol=1e-5)  # alpha dropped, same pixels
    for vector in vectors:
        assert vector @ zorblat > (others @ vector).max()


def test_long_texts_are_cut_to_the_models_length(model: ImageTextModel) -> None:
    long, longer = model.embed_texts(["a zorblat " + "thing " * 200, "a zorblat " + "thing " * 2000])
    colours = model.embed_images([colour_image(rgb) for rgb in PAIRS.values()])

    np.testing.assert_allclose(long, longer, atol=1e-6)
    assert int(np.argmax(colours @ long)) == 0


def test_batching_does_not_change_vectors(model: ImageTextModel) -> None:
    texts = [f"a {word} " + "thing " * i for i, word in enumerate(WORDS * 20)]
    images = [colour_image(PAIRS[word], seed=i) for i, word in enumerate(WORDS * 5)]

    np.testing.assert_allclose(model.embed_texts(texts), np.vstack([model.embed_texts([t]) for t in texts]), atol=1e-5)
    np.testing.assert_allclose(
        model.embed_images(images), np.vstack([model.embed_images([i]) for i in images]), atol=1e-5
    )


def test_threads_embedding_at_once_get_the_same_vectors(model: ImageTextModel) -> None:
    texts = [f"the {word} picture" for word in WORDS] * 4
    images = [colour_image(rgb, seed=3) for rgb in PAIRS.values()] * 4
    expected_texts, expected_images = model.embed_texts(texts), model.embed_images(images)

    with ThreadPoolExecutor(max_workers=2) as pool:
        text_runs = [pool.submit(model.embed_texts, texts) for _ in range(4)]
        image_runs = [pool.submit(model.embed_images, images) for _ in range(4)]
        for run in text_runs:
            np.testing.assert_allclose(run.result(), expected_texts, atol=1e-6)
        for run in image_runs:
            np.testing.assert_allclose(run.result(), expected_images, atol=1e-6)


def test_clip_calibration_is_the_documented_default(models: dict[str, ImageTextModel]) -> None:
    assert models["clip"].calibration == CLIP_CALIBRATION == (0.18, 0.28)


def test_siglip_calibration_follows_the_checkpoints_scale_and_bias(
    folders: dict[str, Path], models: dict[str, ImageTextModel]
) -> None:
    weights = load_file(folders["siglip"] / "model.safetensors")
    scale, bias = math.exp(weights["logit_scale"].item()), weights["logit_bias"].item()
    floor, ceil = models["siglip"].calibration

    def probability(cosine: float) -> float:
        return 1 / (1 + math.exp(-(scale * cosine + bias)))

    assert probability(floor) == pytest.approx(SIGLIP_FLOOR_P) and probability(ceil) == pytest.approx(SIGLIP_CEIL_P)
    assert floor < ceil


def test_siglip_calibration_separates_the_trained_words(models: dict[str, ImageTextModel]) -> None:
    siglip = models["siglip"]
    floor, ceil = siglip.calibration
    pictures, owners = _pictures()

    similarity = siglip.embed_texts(WORDS) @ siglip.embed_images(pictures).T

    for row, word in zip(similarity, WORDS, strict=True):
        assert all(s >= ceil for s, owner in zip(row, owners, strict=True) if owner == word)
        assert all(s < floor for s, owner in zip(row, owners, strict=True) if owner != word)


def test_check_folder_names_what_is_missing_or_unsupported(tmp_path: Path, folders: dict[str, Path]) -> None:
    with pytest.raises(ModelFolderError, match="is not a directory"):
        check_folder(tmp_path / "nowhere")
    with pytest.raises(ModelFolderError, match=f"missing {', '.join(MODEL_FILES)}$"):
        check_folder(tmp_path)
    bert = write_tiny_bert(tmp_path / "bert")
    with pytest.raises(ModelFolderError, match="missing preprocessor_config.json$"):
        check_folder(bert)
    shutil.copy(folders["clip"] / "preprocessor_config.json", bert)
    with pytest.raises(ModelFolderError, match="model_type 'bert' is not supported; only clip and siglip"):
        check_folder(bert)

    odd = shutil.copytree(folders["clip"], tmp_path / "odd")
    (odd / "config.json").write_text(json.dumps({"model_type": "blip"}))
    with pytest.raises(ModelFolderError, match="model_type 'blip' is not supported"):
        check_folder(odd)
    (odd / "config.json").write_text("{not json")
    with pytest.raises(ModelFolderError, match="config.json cannot be read as JSON"):
        check_folder(odd)
    check_folder(folders["clip"])
    check_folder(folders["siglip"])


def test_a_sentencepiece_only_siglip_folder_is_told_how_to_get_a_tokenizer(
    tmp_path: Path, folders: dict[str, Path]
) -> None:
    google_layout = shutil.copytree(folders["siglip"], tmp_path / "siglip-base-patch16-224")
    (google_layout / "tokenizer.json").rename(google_layout / "spiece.model")

    with pytest.raises(ModelFolderError, match=r"missing tokenizer.json \(it has spiece.model: write tokenizer.json"):
        ImageTextModel.load(google_layout)


def test_load_refuses_weights_that_do_not_fit(tmp_path: Path, folders: dict[str, Path]) -> None:
    folder = shutil.copytree(folders["clip"], tmp_path / "broken")
    (folder / "model.safetensors").write_bytes((folders["clip"] / "model.safetensors").read_bytes()[:1000])
    with pytest.raises(ModelFolderError, match="cannot be loaded as a CLIPModel"):
        ImageTextModel.load(folder)

    shutil.copy(write_tiny_bert(tmp_path / "bert") / "model.safetensors", folder)
    with pytest.raises(ModelFolderError, match="model.safetensors lacks .* tensors that config.json describes"):
        ImageTextModel.load(folder)

    config = json.loads((folders["clip"] / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "projection_dim": 48}))
    shutil.copy(folders["clip"] / "model.safetensors", folder)
    with pytest.raises(ModelFolderError, match="cannot be loaded as a CLIPModel"):
        ImageTextModel.load(folder)


def test_a_rebuilt_tiny_model_is_the_same_model(tmp_path: Path, models: dict[str, ImageTextModel]) -> None:
    again = ImageTextModel.load(write_tiny_clip(tmp_path / "tiny-clip"))

    np.testing.assert_allclose(again.embed_texts(WORDS), models["clip"].embed_texts(WORDS), atol=1e-5)
