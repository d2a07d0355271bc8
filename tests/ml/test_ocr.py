"""TextReader on real pictures: printed documents, a photo without text, a large picture."""

from __future__ import annotations

import socket
import time

import pytest
from PIL import Image, ImageDraw
from support import DEV_MEDIA

from trove_ml.ocr import TextReader


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader()


def test_invoice_total_is_read_in_reading_order(reader: TextReader) -> None:
    image = Image.open(DEV_MEDIA / "invoice_printing.png")
    started = time.perf_counter()
    result = reader.read(image)
    seconds = time.perf_counter() - started

    assert "TOTAL DUE" in result.text
    assert "109.00" in result.text
    assert result.text == "\n".join(line.text for line in result.lines)
    title, total = result.lines[0], next(line for line in result.lines if "TOTAL DUE" in line.text)
    assert "NORTHWIND" in title.text
    assert title.box[3] <= total.box[1]
    for line in result.lines:
        x0, y0, x1, y1 = line.box
        assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height
        assert line.score >= 0.6
    # A 900x540 page takes 2-7 s on 2 shared cores; the bound only catches a runaway (e.g. huge upscaling).
    assert seconds < 60


def test_menu_mentions_soup_without_any_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> socket.socket:
        raise AssertionError("OCR tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    reader = TextReader()  # a fresh one, so that loading the models happens without network too

    result = reader.read(Image.open(DEV_MEDIA / "menu_cafe.png"))

    assert "soup" in result.text.lower()
    assert "PP-OCRv6" in reader.model_name


def test_photo_without_text_gives_little_or_no_text(reader: TextReader) -> None:
    result = reader.read(Image.open(DEV_MEDIA / "grass.png"))

    assert len(result.text) < 10


def test_large_picture_is_downscaled_and_boxes_stay_in_its_coordinates(reader: TextReader) -> None:
    image = Image.new("RGB", (6000, 4000), "white")
    ImageDraw.Draw(image).text((3000, 2000), "LARGE PRINT", fill="black", font_size=300)

    result = reader.read(image)

    assert result.text == "LARGE PRINT"
    x0, y0, x1, y1 = result.lines[0].box
    assert 2900 <= x0 <= 3100 and 1950 <= y0 <= 2150 and x1 > 4500


def test_slivers_and_tiny_pictures_give_no_text(reader: TextReader) -> None:
    assert reader.read(Image.new("RGB", (5000, 6), "white")).lines == []
    assert reader.read(Image.new("L", (1, 1))).text == ""
