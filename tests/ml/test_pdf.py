"""read_pdf and render_page on PDFs made here: a text layer, scanned pages, a password, damaged files."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw

from trove_ml.errors import MediaError
from trove_ml.ocr import TextReader
from trove_ml.pdf import read_pdf, render_page

# The padding string of the PDF standard security handler (ISO 32000-1, 7.6.3.3).
PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
FILE_ID = bytes(range(16))


@pytest.fixture(scope="module")
def reader() -> TextReader:
    return TextReader()


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out, i, j = bytearray(), 0, 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _rc4_40_handler(user_password: bytes) -> tuple[bytes, bytes]:
    """The file key and /Encrypt dictionary of 40-bit RC4 (revision 2), per ISO 32000-1 algorithms 2, 3 and 4."""
    padded = (user_password + PAD)[:32]
    owner_key = hashlib.md5(padded).digest()[:5]  # same owner as user password
    owner_entry = _rc4(owner_key, padded)
    permissions = -4
    file_key = hashlib.md5(padded + owner_entry + permissions.to_bytes(4, "little", signed=True) + FILE_ID).digest()[:5]
    user_entry = _rc4(file_key, PAD)
    encrypt = b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P %d >>" % (
        owner_entry.hex().encode(),
        user_entry.hex().encode(),
        permissions,
    )
    return file_key, encrypt


def _text_pdf(pages: list[list[str]], *, password: bytes | None = None) -> bytes:
    """A PDF with a real text layer (Helvetica), one list of lines per page, optionally encrypted."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    file_key, encrypt = _rc4_40_handler(password) if password is not None else (b"", b"")
    kids = []
    for lines in pages:
        shown = b" 0 -22 Td ".join(b"(%s) Tj" % line.encode() for line in lines)
        content = b"BT /F1 16 Tf 72 720 Td " + shown + b" ET"
        number = len(objects) + 2  # the content stream's object number
        if password is not None:
            object_key = hashlib.md5(file_key + number.to_bytes(3, "little") + b"\0\0").digest()[:10]
            content = _rc4(object_key, content)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents %d 0 R >>" % number
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        kids.append(b"%d 0 R" % (number - 1))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(pages))
    if password is not None:
        objects.append(encrypt)
    return _assemble(objects, encrypt_ref=len(objects) if password is not None else None)


def _assemble(objects: list[bytes], *, encrypt_ref: int | None) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    extra = b" /Encrypt %d 0 R" % encrypt_ref if encrypt_ref else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>]%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        FILE_ID.hex().encode(),
        FILE_ID.hex().encode(),
        extra,
        xref,
    )
    return bytes(out)


def _scanned_pdf(path: Path, pages: list[str]) -> None:
    """A PDF of pictures only (no text layer), like a scanner makes: A4 at 150 dpi."""
    images = []
    for text in pages:
        image = Image.new("RGB", (1240, 1754), "white")
        ImageDraw.Draw(image).text((150, 200), text, fill="black", font_size=48)
        images.append(image)
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=150)


def test_text_layer_pages(tmp_path: Path, reader: TextReader) -> None:
    path = tmp_path / "letter.pdf"
    path.write_bytes(
        _text_pdf(
            [
                ["Quarterly report for the garden club", "Tomatoes did well"],
                ["Second page about the budget", "Total spent 340 dollars"],
            ]
        )
    )

    result = read_pdf(path, reader=reader, max_pages=10)

    assert result.page_count == 2 and not result.truncated
    assert [page.number for page in result.pages] == [1, 2]
    assert [page.source for page in result.pages] == ["text-layer", "text-layer"]
    assert result.pages[0].text == "Quarterly report for the garden club\nTomatoes did well"
    assert "Total spent 340 dollars" in result.pages[1].text
    assert (result.pages[0].width_pt, result.pages[0].height_pt) == (612.0, 792.0)


def test_scanned_pages_are_read_with_ocr(tmp_path: Path, reader: TextReader) -> None:
    path = tmp_path / "scan.pdf"
    _scanned_pdf(path, ["INVOICE 4471 TOTAL 109.00", "MEETING NOTES MONDAY"])

    result = read_pdf(path, reader=reader, max_pages=10)

    assert [page.source for page in result.pages] == ["ocr", "ocr"]
    assert "TOTAL 109.00" in result.pages[0].text
    assert "MEETING NOTES" in result.pages[1].text
    assert round(result.pages[0].width_pt) == 595 and round(result.pages[0].height_pt) == 842


def test_only_the_first_pages_are_read_from_a_long_pdf(tmp_path: Path, reader: TextReader) -> None:
    path = tmp_path / "long.pdf"
    path.write_bytes(_text_pdf([[f"This is page number {n} of the long file"] for n in range(1, 6)]))

    result = read_pdf(path, reader=reader, max_pages=2)

    assert result.truncated and result.page_count == 5
    assert [page.text for page in result.pages] == [
        "This is page number 1 of the long file",
        "This is page number 2 of the long file",
    ]


def test_password_protected_pdf_is_a_media_error(tmp_path: Path, reader: TextReader) -> None:
    path = tmp_path / "locked.pdf"
    path.write_bytes(_text_pdf([["Private bank statement with account details"]], password=b"secret"))
    # The file is a valid encrypted PDF: with the password, PDFium reads its text.
    with pdfium.PdfDocument(path, password="secret") as doc:
        assert "Private bank statement" in doc[0].get_textpage().get_text_range()

    with pytest.raises(MediaError, match="password"):
        read_pdf(path, reader=reader, max_pages=10)
    with pytest.raises(MediaError, match="password"):
        render_page(path, 1)


def test_garbage_and_truncated_files_are_media_errors(tmp_path: Path, reader: TextReader) -> None:
    garbage = tmp_path / "garbage.pdf"
    garbage.write_bytes(b"this is not a pdf at all\n" * 200)
    truncated = tmp_path / "truncated.pdf"
    whole = _text_pdf([["Some text that is cut off halfway"], ["A second page"]])
    truncated.write_bytes(whole[: len(whole) // 2])

    for path in (garbage, truncated):
        with pytest.raises(MediaError, match="not a valid PDF or it is damaged"):
            read_pdf(path, reader=reader, max_pages=10)


def test_render_page_for_thumbnails(tmp_path: Path) -> None:
    path = tmp_path / "letter.pdf"
    path.write_bytes(_text_pdf([["First page"], ["Second page"]]))

    image = render_page(path, 2, dpi=72)

    assert image.mode == "RGB" and image.size == (612, 792)
    assert image.getextrema()[0][0] < 100  # some dark text was drawn on the white page
    with pytest.raises(MediaError, match="no page 3"):
        render_page(path, 3)


def test_blank_pages_are_not_read_by_ocr(tmp_path: Path) -> None:
    """A PDF of blank letter pages costs no OCR (seconds per page otherwise: a cheap way to stall a worker)."""
    pages = [Image.new("RGB", (1240, 1754), "white") for _ in range(5)]
    path = tmp_path / "blank.pdf"
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], resolution=150)
    started = time.perf_counter()
    text = read_pdf(path, reader=TextReader(), max_pages=200)
    assert [p.text for p in text.pages] == [""] * 5
    assert time.perf_counter() - started < 5
