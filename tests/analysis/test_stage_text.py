"""The text stage with the local analyzer: it reads what was said and written, or records nothing."""

from __future__ import annotations

from analysis.stage_kit import stage_run
from support import DEV_MEDIA

from trove_analysis.deps import Providers
from trove_analysis.stages.text import TEXT, TextResult


async def test_written_words_are_analysed(providers: Providers) -> None:
    stored = {
        "document": {
            "pages": [{"number": 1, "text": "Ada Lovelace wrote to Charles Babbage in London.", "source": "ocr"}],
            "page_count": 1,
        }
    }
    run = stage_run(kind="document", path=DEV_MEDIA / "page.png", providers=providers, results=stored)
    result = await TEXT.run(run)
    assert isinstance(result, TextResult) and result.language == "en"
    assert "London" in {e.text for e in result.entities}
    assert TEXT.facts(result) == {"language": "en"}
    view = TEXT.view(result)
    assert view["language"] == "en" and {"text", "label", "start_char", "end_char"} <= set(view["entities"][0])


async def test_a_file_without_words_has_no_text_result(providers: Providers) -> None:
    stored = {"image": {"labels": [{"name": "espresso", "score": 0.9}]}}
    run = stage_run(kind="image", path=DEV_MEDIA / "coffee.png", providers=providers, results=stored)
    assert await TEXT.run(run) is None
