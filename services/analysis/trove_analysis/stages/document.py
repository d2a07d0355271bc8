"""The document stage: each page's text (its text layer, or OCR of the rendered page) and the first page's picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trove_analysis.describe import MAX_TEXT_CHARS
from trove_analysis.models import SegmentText
from trove_analysis.stages.base import Stage, StageRun
from trove_analysis.stages.thumbnails import keep_thumbnail

if TYPE_CHECKING:
    from trove_analysis.deps import Providers


@dataclass(frozen=True, slots=True)
class Page:
    number: int  # from 1
    text: str
    source: str  # "text-layer" or "ocr"
    width_pt: float = 0.0
    height_pt: float = 0.0


@dataclass(frozen=True, slots=True)
class DocumentResult:
    pages: tuple[Page, ...]
    page_count: int
    truncated: bool = False  # it had more pages than were read


class DocumentStage(Stage[DocumentResult]):
    name = "document"
    family = "image"
    result_type = DocumentResult

    def provider(self, providers: Providers) -> str:
        return providers.document.provider

    def applies(self, kind: str, *, has_audio: bool) -> bool:
        return kind == "document"

    async def run(self, run: StageRun) -> DocumentResult:
        facts, first_page = await run.providers.document.analyze_document(run.path)
        result = self.decode(facts)
        await keep_thumbnail(run, first_page)
        return result

    def segments(self, result: DocumentResult) -> list[SegmentText]:
        return [
            SegmentText(kind="page", start_s=0.0, end_s=0.0, text=page.text[:MAX_TEXT_CHARS], page=page.number)
            for page in result.pages
            if page.text.strip()
        ]

    def view(self, result: DocumentResult) -> dict[str, Any]:
        return {
            "pages": [{"number": p.number, "text": p.text, "source": p.source} for p in result.pages],
            "page_count": result.page_count,
        }


DOCUMENT = DocumentStage()
