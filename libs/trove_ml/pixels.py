"""Plain facts read straight from an image's pixels (colours, brightness, kind of picture); no model involved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

Brightness = Literal["dark", "normal", "bright"]
Style = Literal["photo", "document", "screenshot"]

# Facts are read from a thumbnail: colour shares and flat areas survive downscaling, and it keeps this at 20-60 ms.
_THUMB_SIDE_PX = 512
# A colour name counts as dominant when it covers this share of the picture; at most three are kept.
_DOMINANT_SHARE = 0.15
_MAX_COLOURS = 3
# max(R,G,B) - min(R,G,B) above which a pixel is visibly coloured; JPEG noise in grey pictures stays below it.
_COLOURFUL_CHROMA = 40
# A picture is black and white when fewer than this share of its pixels are visibly coloured.
_BW_MAX_COLOURFUL = 0.02
# Mean luma (0-255) bounds for "dark" and "bright".
_DARK_MEAN_LUMA = 70
_BRIGHT_MEAN_LUMA = 185

_COLOUR_NAMES = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
# Hue bands for coloured pixels: (upper bound in degrees, exclusive; name).
_HUE_BANDS = (
    (15.0, "red"),
    (45.0, "orange"),
    (70.0, "yellow"),
    (170.0, "green"),
    (260.0, "blue"),
    (315.0, "purple"),
    (345.0, "pink"),
    (361.0, "red"),
)


@dataclass(frozen=True, slots=True)
class PixelFacts:
    """What the pixels alone say about a picture."""

    colours: tuple[str, ...]
    black_and_white: bool
    brightness: Brightness
    style: Style

    def words(self) -> list[str]:
        """Searchable words and phrases for these facts, e.g. ["green", "dark", "photo"]."""
        words = list(self.colours)
        if self.black_and_white:
            words += ["black and white", "monochrome"]
            if self.style == "photo":
                words.append("black and white photo")
        if self.brightness != "normal":
            words.append(self.brightness)
        words += {"photo": ["photo"], "document": ["document", "scan"], "screenshot": ["screenshot"]}[self.style]
        return words


def describe_pixels(image: Image.Image) -> PixelFacts:
    """Dominant colour names, black and white or not, brightness and kind of picture.

    The kind is a heuristic, checked in this order:
    - document: a light page (median luma >= 150) with almost no colour, where 1-35% of the pixels are ink much
      darker than the page and that ink is mostly thin strokes (text, lines) rather than solid blocks;
    - screenshot: flat fills: the 8 most frequent exact colours cover at least half the picture. Camera pictures
      never do (sensor noise and JPEG keep neighbouring pixels apart; our photos reach 0.01-0.12);
    - photo: everything else.
    """
    thumb = image.convert("RGB")
    # BOX averaging keeps flat areas exactly flat, which the screenshot check relies on.
    thumb.thumbnail((_THUMB_SIDE_PX, _THUMB_SIDE_PX), Image.Resampling.BOX)
    rgb = np.asarray(thumb, dtype=np.int32)
    luma = np.asarray(thumb.convert("L"), dtype=np.int32)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    colourful_share = float((chroma > _COLOURFUL_CHROMA).mean())
    mean_luma = float(luma.mean())
    brightness: Brightness = (
        "dark" if mean_luma < _DARK_MEAN_LUMA else "bright" if mean_luma > _BRIGHT_MEAN_LUMA else "normal"
    )
    return PixelFacts(
        colours=_dominant_colours(thumb),
        black_and_white=colourful_share < _BW_MAX_COLOURFUL,
        brightness=brightness,
        style=_style(rgb, luma, colourful_share),
    )


def _dominant_colours(thumb: Image.Image) -> tuple[str, ...]:
    hsv = np.asarray(thumb.convert("HSV"), dtype=np.float32) / 255.0
    names = _name_pixels(hue_deg=hsv[..., 0] * 360.0, sat=hsv[..., 1], val=hsv[..., 2])
    shares = np.bincount(names.ravel(), minlength=len(_COLOUR_NAMES)) / names.size
    order = np.argsort(-shares, kind="stable")
    return tuple(_COLOUR_NAMES[i] for i in order[:_MAX_COLOURS] if shares[i] >= _DOMINANT_SHARE)


def _name_pixels(
    *, hue_deg: npt.NDArray[np.float32], sat: npt.NDArray[np.float32], val: npt.NDArray[np.float32]
) -> npt.NDArray[np.intp]:
    """Index into _COLOUR_NAMES for every pixel: colours by hue band, then the exceptions people make."""
    band = np.searchsorted(np.array([b for b, _ in _HUE_BANDS]), hue_deg, side="right")
    names = np.array([_COLOUR_NAMES.index(n) for _, n in _HUE_BANDS], dtype=np.intp)[band]
    idx = _COLOUR_NAMES.index
    # sat * val is the chroma on a 0-1 scale, the same measure black_and_white uses.
    coloured = sat * val >= 0.1
    warm = (hue_deg < 70) | (hue_deg >= 345)
    # Dark or washed-out oranges, yellows and reds are what people call brown (wood, earth, tan, skin).
    names[warm & ((val < 0.45) | ((hue_deg >= 15) & (hue_deg < 70) & ((val < 0.6) | (sat < 0.4))))] = idx("brown")
    names[(names == idx("red")) & (sat < 0.5) & (val > 0.7)] = idx("pink")
    names[(names == idx("pink")) & (val < 0.5)] = idx("purple")
    names[~coloured] = np.where(val[~coloured] > 0.85, idx("white"), idx("grey"))
    names[val < 0.18] = idx("black")
    return names


def _style(rgb: npt.NDArray[np.int32], luma: npt.NDArray[np.int32], colourful_share: float) -> Style:
    if _looks_like_document(luma, colourful_share):
        return "document"
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    counts = np.sort(np.unique(packed, return_counts=True)[1])
    if counts[-8:].sum() >= 0.5 * packed.size:
        return "screenshot"
    return "photo"


def _looks_like_document(luma: npt.NDArray[np.int32], colourful_share: float) -> bool:
    page = float(np.median(luma))
    if page < 150 or colourful_share >= 0.1:
        return False
    ink = luma < page - 80
    ink_share = float(ink.mean())
    if not 0.01 <= ink_share <= 0.35:
        return False
    # Ink pixels whose 8 neighbours are all ink belong to solid blocks (a dark sidebar, a photo), not to strokes.
    core = ink[1:-1, 1:-1].copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            core &= ink[1 + dy : ink.shape[0] - 1 + dy, 1 + dx : ink.shape[1] - 1 + dx]
    return float(core.sum()) < 0.5 * float(ink.sum())
