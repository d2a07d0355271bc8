"""What a result shows people (a picture's caption as its snippet, why it matched) and how scores are calibrated."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from trove_search import ranking
from trove_search.codec import pack_hits, unpack_hits
from trove_search.models import Candidate, Moment

TABBY = Candidate(
    segment_id=1,
    media_id="m1",
    kind="image",
    start_s=0.0,
    end_s=0.0,
    text="a photo of tabby; tabby cat, cat, feline, animal; grey, photo",
    page=0,
    taken_at=None,
    uploaded_at=None,
    duration_s=None,
    caption="A tabby cat; text: “please do not feed <the> cat”",
    keywords="tabby tabby cat cat feline animal",
)


def _best(candidate: Candidate, query: str) -> Moment:
    (hit,) = ranking.readable(ranking.group([(candidate, 0.0)], min_top=0.0), query=query)
    return hit.best


def test_a_picture_shows_its_caption_with_the_query_words_marked() -> None:
    best = _best(replace(TABBY, text_rank=0.1, text_coverage=1.0), "cat")
    assert best.snippet == "A tabby <mark>cat</mark>; text: “please do not feed &lt;the&gt; <mark>cat</mark>”"
    assert best.reason == "" and best.text == TABBY.text


def test_words_matched_outside_the_caption_are_named() -> None:
    best = _best(replace(TABBY, text_rank=0.1, text_coverage=1.0), "felines")
    assert "<mark>" not in best.snippet and best.reason == "matched: feline"


def test_a_match_by_meaning_names_the_concept_and_a_match_by_looks_says_so() -> None:
    meaning = _best(replace(TABBY, similarity=0.5), "a kitten")
    assert meaning.reason == "matched: tabby cat"
    looks = _best(replace(TABBY, similarity=0.2, image_match=0.8), "a kitten")
    assert looks.reason == "matched: the picture looks like “a kitten”"
    said = replace(TABBY, kind="speech", caption="", text="hello", similarity=0.5)
    assert _best(said, "greetings").reason == "matched: what was said"


def test_a_scene_keeps_its_frame_through_the_cache() -> None:
    scene = replace(TABBY, kind="scene", frame=3, similarity=0.5)
    hits = ranking.group([(scene, 0.0)], min_top=0.0)
    (back,) = ranking.readable(unpack_hits(pack_hits(hits)), query="a kitten")
    assert (back.best.frame, back.best.reason) == (3, "matched: tabby cat")
    assert back == ranking.readable(hits, query="a kitten")[0]


def _candidate(*, kind: str, similarity: float = 0.0, text_rank: float = 0.0, coverage: float = 0.0) -> Candidate:
    return Candidate(
        segment_id=1,
        media_id="m",
        kind=kind,
        start_s=0.0,
        end_s=0.0,
        text="",
        page=0,
        taken_at=None,
        uploaded_at=datetime.now(UTC),
        duration_s=None,
        similarity=similarity,
        text_rank=text_rank,
        text_coverage=coverage,
    )


def test_evidence_is_zero_for_ordinary_unrelated_scores_and_rises_with_surprise() -> None:
    null = ranking.Null(mean=0.1, std=0.1)
    assert null.evidence(0.1) == 0.0 and null.evidence(0.25) == 0.0  # p = 0.5 and 0.07: ordinary
    values = [null.evidence(x) for x in (0.3, 0.4, 0.5, 0.6)]
    assert values == sorted(values) and 0.0 < values[0] < values[-1] <= 1.0
    assert null.evidence(0.9) == 1.0  # p far below P_CERTAIN


def test_pictures_and_words_are_calibrated_on_their_own_nulls() -> None:
    # The same cosine is more surprising for a spoken or written text than for a label sentence.
    similarity = ranking.WORDS_NULL.mean + 3 * ranking.WORDS_NULL.std
    words = ranking.score(_candidate(kind="speech", similarity=similarity))
    picture = ranking.score(_candidate(kind="image", similarity=similarity))
    assert words > picture


def test_a_partial_word_match_is_weak_evidence() -> None:
    full = ranking.score(_candidate(kind="text", text_rank=0.2, coverage=1.0))
    half = ranking.score(_candidate(kind="text", text_rank=0.2, coverage=0.5))
    assert full == pytest.approx(ranking.TEXT_WEIGHT) and half == pytest.approx(ranking.TEXT_WEIGHT / 4)
    assert half < ranking.MIN_TOP_SCORE <= full
