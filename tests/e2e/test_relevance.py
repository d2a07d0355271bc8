"""Honest relevance through the REST API: a query with no answer returns nothing, a weak but real answer is listed.

The library is a few sample files and distractor photos from the repo (samples/distractors), among them the near
misses that used to pass the cut-off: an invoice and a wooden pier for a hammer receipt nobody has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from support import DEV_MEDIA, REPO, Api

NewApi = Callable[[], Awaitable[Api]]

DISTRACTORS = REPO / "samples" / "distractors"
LIBRARY = [
    DEV_MEDIA / "invoice_printing.png",
    DEV_MEDIA / "chelsea.png",
    DEV_MEDIA / "weather_report.wav",
    DISTRACTORS / "wooden_pier_over_lake_001.jpg",
    DISTRACTORS / "polar_bear_snow_165.jpg",
    DISTRACTORS / "wall_clock_closeup_017.jpg",
    DISTRACTORS / "german_shepherd_dog_123.jpg",
]
TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".wav": "audio/wav"}


@pytest.fixture(scope="module")
async def library(new_api_module: NewApi) -> Api:
    api = await new_api_module()
    ids = [await api.upload(path.read_bytes(), path.name, TYPES[path.suffix]) for path in LIBRARY]
    for media_id in ids:
        assert (await api.wait_done(media_id, timeout_s=300))["status"] == "completed"
    return api


async def _names(api: Api, q: str) -> list[str]:
    response = await api.search(q)
    assert response.status_code == 200, response.text
    return [r["filename"] for r in response.json()["results"]]


@pytest.mark.parametrize(
    "q", ["receipt for the hammer", "a birthday cake with candles", "voice memo about the dentist"]
)
async def test_a_query_with_no_answer_returns_nothing(library: Api, q: str) -> None:
    assert await _names(library, q) == []


@pytest.mark.parametrize(
    ("q", "answer"),
    [("a polar bear in the snow", "polar_bear_snow_165.jpg"), ("my dog", "german_shepherd_dog_123.jpg")],
)
async def test_a_weak_but_real_answer_is_returned_first(library: Api, q: str, answer: str) -> None:
    names = await _names(library, q)
    assert names[:1] == [answer]


async def test_strong_answers_still_come_first(library: Api) -> None:
    assert (await _names(library, "invoice for business cards"))[:1] == ["invoice_printing.png"]
    assert (await _names(library, "will it rain this afternoon"))[:1] == ["weather_report.wav"]
    assert (await _names(library, "a cat"))[:1] == ["chelsea.png"]
