"""Text of PDF pages: the embedded text layer where a page has one, OCR of the rendered page where it has not."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pypdfium2 as pdfium  # type: ignore[import-untyped]
import pypdfium2.raw as pdfium_c  # type: ignore[import-untyped]
from PIL import Image

from trove_ml.errors import MediaError
from trove_ml.ocr import TextReader

# Pages without a usable text layer are rendered at this resolution for OCR: print-size text is 25-35 px high,
# which PP-OCR reads reliably, while an A4/Letter page stays under 2000 px (the OCR cap) on its long side.
OCR_DPI = 170
# Posters and drawings can be metres wide; the rendered bitmap is capped on its longest side.
_MAX_RENDER_SIDE_PX = 2000
# A text layer with fewer visible characters than this (a page number or stamp on a scan) is ignored and the
# page is OCRed instead; on a page that really holds only a word, OCR reads the same word.
_MIN_TEXT_LAYER_CHARS = 16
# PDFium is not thread-safe even across documents, and the services call this from executor threads.
_PDFIUM_LOCK = threading.Lock()
# PDFium marks soft hyphens and unknown glyphs with control characters; they would only pollute search.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_OPEN_ERRORS = {
    pdfium_c.FPDF_ERR_PASSWORD: "This PDF is protected by a password, so its pages cannot be read.",
    pdfium_c.FPDF_ERR_SECURITY: "This PDF uses an encryption scheme that is not supported, so it cannot be read.",
    pdfium_c.FPDF_ERR_FORMAT: "This file is not a valid PDF or it is damaged.",
    pdfium_c.FPDF_ERR_FILE: "This PDF could not be opened.",
}


@dataclass(frozen=True, slots=True)
class PdfPage:
    """One page's text; number counts from 1, the size is in PDF points (1/72 inch)."""

    number: int
    text: str
    source: Literal["text-layer", "ocr"]
    width_pt: float
    height_pt: float


@dataclass(frozen=True, slots=True)
class PdfText:
    """The text of the first pages of a PDF; truncated when it had more than were read."""

    pages: list[PdfPage]
    page_count: int
    truncated: bool


def read_pdf(path: Path, *, reader: TextReader, max_pages: int) -> PdfText:
    """The text of each of the first `max_pages` pages of the PDF at `path`.

    Raises:
        MediaError: the file is not a PDF, is damaged, has no pages, or needs a password.
    """
    with _PDFIUM_LOCK:
        doc = _open(path)
    try:
        with _PDFIUM_LOCK:
            page_count = len(doc)
        pages = []
        for index in range(min(page_count, max_pages)):
            # OCR runs outside the lock so that other threads can use PDFium meanwhile.
            with _PDFIUM_LOCK:
                text, image, size = _page_content(doc, index)
            if image is not None:
                # A blank page has nothing to read: OCR would spend seconds on it (a PDF of 200 blank pages
                # kept a worker busy for ten minutes).
                text = "" if _blank(image) else reader.read(image).text
            pages.append(
                PdfPage(
                    number=index + 1,
                    text=text,
                    source="text-layer" if image is None else "ocr",
                    width_pt=size[0],
                    height_pt=size[1],
                )
            )
    finally:
        with _PDFIUM_LOCK:
            doc.close()
    return PdfText(pages=pages, page_count=page_count, truncated=page_count > max_pages)


def _blank(image: Image.Image) -> bool:
    """One colour all over (every band's darkest and lightest pixel equal)."""
    extrema = image.getextrema()
    bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
    return all(low == high for low, high in bands)


def render_page(path: Path, number: int, *, dpi: float = OCR_DPI) -> Image.Image:
    """Page `number` (from 1) as an RGB picture at `dpi`, at most 2000 px on its longest side.

    Raises:
        MediaError: the file is not a PDF, is damaged, needs a password, or has no such page.
    """
    with _PDFIUM_LOCK:
        doc = _open(path)
        try:
            if not 1 <= number <= len(doc):
                raise MediaError(f"This PDF has {len(doc)} pages, so it has no page {number}.")
            page = _load_page(doc, number - 1)
            return _render(page, dpi)
        finally:
            doc.close()


def _open(path: Path) -> Any:
    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        reason = _OPEN_ERRORS.get(exc.err_code, "This PDF cannot be read.")
        raise MediaError(f"{reason} ({path.name}: {exc})") from exc
    if len(doc) == 0:
        doc.close()
        raise MediaError(f"This PDF has no pages ({path.name}).")
    return doc


def _load_page(doc: Any, index: int) -> Any:
    try:
        return doc[index]
    except pdfium.PdfiumError as exc:
        raise MediaError(f"Page {index + 1} of this PDF is damaged and cannot be read.") from exc


def _page_content(doc: Any, index: int) -> tuple[str, Image.Image | None, tuple[float, float]]:
    """The page's text layer, or a rendering of the page for OCR when it has too little text; and its size."""
    page = _load_page(doc, index)
    width_pt, height_pt = page.get_size()
    text = _clean(page.get_textpage().get_text_range())
    if sum(not ch.isspace() for ch in text) >= _MIN_TEXT_LAYER_CHARS:
        return text, None, (float(width_pt), float(height_pt))
    return "", _render(page, OCR_DPI), (float(width_pt), float(height_pt))


def _render(page: Any, dpi: float) -> Image.Image:
    width_pt, height_pt = page.get_size()
    scale = min(dpi / 72.0, _MAX_RENDER_SIDE_PX / max(width_pt, height_pt, 1.0))
    try:
        bitmap = page.render(scale=scale)
    except pdfium.PdfiumError as exc:
        raise MediaError(f"A page of this PDF cannot be drawn: {exc}") from exc
    # convert() copies the pixels out of PDFium's buffer, which is freed with the document.
    return bitmap.to_pil().convert("RGB")  # type: ignore[no-any-return]


def _clean(text: str) -> str:
    lines = (_CONTROL_CHARS.sub("", line).strip() for line in text.replace("\r\n", "\n").split("\n"))
    return "\n".join(line for line in lines if line)
