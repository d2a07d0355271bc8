"""Tests for the EfficientNet-Lite0 ImageNet classifier on real photos."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support import DEV_MEDIA

from trove_ml import ImageClassifier, Label

CLASSES_TSV = Path(__file__).resolve().parents[2] / "libs" / "trove_ml" / "imagenet_classes.tsv"
CAT_WNIDS = {"n02123045", "n02123159", "n02124075"}  # tabby, tiger cat, Egyptian cat


@pytest.fixture(scope="module")
def classifier() -> ImageClassifier:
    return ImageClassifier()


@pytest.fixture(scope="module")
def chelsea() -> Image.Image:
    with Image.open(DEV_MEDIA / "chelsea.png") as image:
        return image.convert("RGB")


def primary_names(labels: list[Label]) -> list[str]:
    return [label.name.split(", ")[0] for label in labels]


def test_chelsea_is_a_cat(classifier: ImageClassifier, chelsea: Image.Image) -> None:
    labels = classifier.classify(chelsea, top_k=3)

    assert labels[0].wnid in CAT_WNIDS
    assert {label.wnid for label in labels} == CAT_WNIDS
    assert sum(label.score for label in labels) > 0.8


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("coffee.png", {"espresso", "cup", "coffee mug"}),
        ("rocket.jpg", {"missile", "projectile", "space shuttle"}),
        ("grace_hopper.jpg", {"military uniform"}),
        ("china.jpg", {"palace", "monastery", "bell cote", "pagoda"}),
    ],
)
def test_clear_photos_have_the_right_class_in_top_3(
    classifier: ImageClassifier, file_name: str, expected: set[str]
) -> None:
    with Image.open(DEV_MEDIA / file_name) as image:
        labels = classifier.classify(image, top_k=3)

    assert expected & set(primary_names(labels))


def test_coffee_is_confidently_espresso(classifier: ImageClassifier) -> None:
    with Image.open(DEV_MEDIA / "coffee.png") as image:
        top = classifier.classify(image, top_k=1)[0]

    assert (top.index, top.wnid, top.name) == (967, "n07920052", "espresso")
    assert top.score > 0.9


def test_labels_are_sorted_probabilities(classifier: ImageClassifier, chelsea: Image.Image) -> None:
    labels = classifier.classify(chelsea, top_k=10)

    scores = [label.score for label in labels]
    assert len(labels) == 10
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= score <= 1.0 for score in scores)
    assert sum(scores) <= 1.0 + 1e-6
    assert len({label.index for label in labels}) == 10


def test_top_k_out_of_range_is_rejected(classifier: ImageClassifier, chelsea: Image.Image) -> None:
    with pytest.raises(ValueError, match="top_k"):
        classifier.classify(chelsea, top_k=0)
    with pytest.raises(ValueError, match="top_k"):
        classifier.classify(chelsea, top_k=1001)


def test_class_table_is_the_standard_imagenet_order() -> None:
    rows = [line.split("\t") for line in CLASSES_TSV.read_text(encoding="utf-8").splitlines()]

    assert rows[0] == ["index", "wnid", "name"]
    assert [int(index) for index, _, _ in rows[1:]] == list(range(1000))
    wnids = [wnid for _, wnid, _ in rows[1:]]
    assert wnids == sorted(set(wnids))
    assert rows[1][1:] == ["n01440764", "tench, Tinca tinca"]
    assert rows[282][1:] == ["n02123045", "tabby, tabby cat"]


@pytest.mark.parametrize("mode", ["RGBA", "P", "L", "LA", "CMYK", "1"])
def test_other_pixel_modes_still_classify(classifier: ImageClassifier, chelsea: Image.Image, mode: str) -> None:
    labels = classifier.classify(chelsea.convert(mode), top_k=3)

    assert CAT_WNIDS & {label.wnid for label in labels}


def test_16_bit_greyscale_is_scaled_not_clipped(classifier: ImageClassifier, chelsea: Image.Image) -> None:
    grey = chelsea.convert("L")
    sixteen_bit = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
    assert sixteen_bit.mode == "I;16"

    expected = classifier.classify(grey, top_k=3)
    labels = classifier.classify(sixteen_bit, top_k=3)

    assert [label.wnid for label in labels] == [label.wnid for label in expected]
    assert labels[0].score == pytest.approx(expected[0].score, abs=1e-3)


def test_16_bit_png_file_classifies_like_its_8_bit_version(
    classifier: ImageClassifier, chelsea: Image.Image, tmp_path: Path
) -> None:
    grey = chelsea.convert("L")
    Image.fromarray(np.asarray(grey).astype(np.uint16) * 257).save(tmp_path / "chelsea16.png")

    with Image.open(tmp_path / "chelsea16.png") as image:
        labels = classifier.classify(image, top_k=1)

    assert labels[0].wnid == classifier.classify(grey, top_k=1)[0].wnid


def test_transparent_pixels_count_as_white(classifier: ImageClassifier) -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=(240, 320, 4), dtype=np.uint8)
    noise[..., 3] = 0
    invisible = Image.fromarray(noise, mode="RGBA")
    white = Image.new("RGB", (320, 240), (255, 255, 255))

    assert classifier.classify(invisible, top_k=3) == classifier.classify(white, top_k=3)


def test_exif_orientation_is_applied(classifier: ImageClassifier, chelsea: Image.Image) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated; a viewer turns it 90 degrees clockwise
    buffer = io.BytesIO()
    chelsea.transpose(Image.Transpose.ROTATE_90).save(buffer, format="PNG", exif=exif)

    with Image.open(buffer) as sideways:
        labels = classifier.classify(sideways, top_k=3)

    assert labels == classifier.classify(chelsea, top_k=3)


def test_concurrent_first_calls_agree(chelsea: Image.Image) -> None:
    fresh = ImageClassifier()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: fresh.classify(chelsea, top_k=3), range(4)))

    assert all(result == results[0] for result in results)
    assert results[0][0].wnid in CAT_WNIDS
