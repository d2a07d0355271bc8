"""The document stage: pages with text become page segments; the view lists them."""

from __future__ import annotations

from trove_analysis.describe import MAX_TEXT_CHARS
from trove_analysis.stages.document import DOCUMENT, DocumentResult, Page


def test_pages_with_text_become_segments() -> None:
    result = DocumentResult(
        pages=(
            Page(number=1, text="Invoice 42", source="text-layer"),
            Page(2, "  ", "ocr"),
            Page(3, "x" * 5000, "ocr"),
        ),
        page_count=3,
    )
    first, third = DOCUMENT.segments(result)
    assert (first.kind, first.page, first.text) == ("page", 1, "Invoice 42")
    assert third.page == 3 and len(third.text) == MAX_TEXT_CHARS
    view = DOCUMENT.view(result)
    assert view["page_count"] == 3 and view["pages"][0] == {"number": 1, "text": "Invoice 42", "source": "text-layer"}


def test_a_stored_document_result_reads_back_typed() -> None:
    stored = {
        "pages": [{"number": 1, "text": "a", "source": "ocr", "width_pt": 612.0, "height_pt": 792}],
        "page_count": 1,
        "truncated": False,
    }
    result = DOCUMENT.decode(stored)
    assert result.pages[0].height_pt == 792 and DOCUMENT.encode(result) == stored
