"""describe_pixels on real photos and documents and on pictures made here with known colours and layout."""

from __future__ import annotations

from io import BytesIO

import numpy as np
from PIL import Image, ImageDraw
from support import DEV_MEDIA

from trove_ml.pixels import describe_pixels


def _noisy(colour: tuple[int, int, int], *, spread: int = 25, size: tuple[int, int] = (400, 300)) -> Image.Image:
    """A photo-like picture: one colour with sensor-like noise, so no two neighbouring pixels are equal."""
    rng = np.random.default_rng(7)
    noise = rng.integers(-spread, spread + 1, size=(size[1], size[0], 3))
    return Image.fromarray(np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8))


def test_grass_is_a_black_and_white_photo() -> None:
    # The dev grass.png is a greyscale picture of grass, so its pixels say grey, not green.
    facts = describe_pixels(Image.open(DEV_MEDIA / "grass.png"))

    assert facts.style == "photo"
    assert facts.black_and_white
    assert facts.colours == ("grey",)
    assert "black and white photo" in facts.words()


def test_green_photo_is_green() -> None:
    facts = describe_pixels(_noisy((60, 150, 50)))

    assert facts.colours[0] == "green"
    assert facts.style == "photo"
    assert not facts.black_and_white
    assert facts.words() == ["green", "photo"]


def test_colour_photos_name_their_colours() -> None:
    rocket = describe_pixels(Image.open(DEV_MEDIA / "rocket.jpg"))
    cat = describe_pixels(Image.open(DEV_MEDIA / "chelsea.png"))

    assert "blue" in rocket.colours and rocket.brightness == "dark" and rocket.style == "photo"
    assert set(cat.colours) <= {"brown", "orange"} and cat.style == "photo"


def test_printed_and_photographed_pages_are_documents() -> None:
    invoice = describe_pixels(Image.open(DEV_MEDIA / "invoice_printing.png"))
    page = describe_pixels(Image.open(DEV_MEDIA / "page.png"))  # a photo of a book page, grey and unevenly lit

    assert invoice.style == "document"
    assert invoice.brightness == "bright"
    assert {"document", "scan"} <= set(invoice.words())
    assert page.style == "document"


def test_greyscale_picture_is_black_and_white() -> None:
    colour = Image.open(DEV_MEDIA / "coffee.png").convert("RGB")

    assert not describe_pixels(colour).black_and_white
    assert describe_pixels(colour.convert("L").convert("RGB")).black_and_white
    assert describe_pixels(colour.convert("L")).black_and_white


def test_near_black_picture_is_dark() -> None:
    facts = describe_pixels(_noisy((14, 12, 16), spread=6))

    assert facts.brightness == "dark"
    assert facts.colours == ("black",)
    assert "dark" in facts.words()


def test_flat_ui_with_text_boxes_is_a_screenshot() -> None:
    ui = Image.new("RGB", (1280, 800), (243, 244, 246))
    draw = ImageDraw.Draw(ui)
    draw.rectangle((0, 0, 240, 800), fill=(31, 41, 55))
    draw.rectangle((240, 0, 1280, 64), fill=(37, 99, 235))
    for row in range(4):
        top = 100 + row * 170
        draw.rectangle((280, top, 1240, top + 140), fill="white", outline=(209, 213, 219))
        draw.text((300, top + 20), f"Project {row} settings", fill=(17, 24, 39), font_size=28)
        draw.text((300, top + 70), "Last edited two days ago", fill=(107, 114, 128), font_size=20)
    for item in range(6):
        draw.text((24, 100 + item * 48), f"Menu item {item}", fill=(229, 231, 235), font_size=22)

    facts = describe_pixels(ui)

    assert facts.style == "screenshot"
    assert "screenshot" in facts.words()
    # The same screen saved as JPEG loses exact colours only at edges; flat areas stay flat.
    assert describe_pixels(_jpeg(ui)).style == "screenshot"


def _jpeg(image: Image.Image) -> Image.Image:
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return Image.open(BytesIO(buffer.getvalue()))
