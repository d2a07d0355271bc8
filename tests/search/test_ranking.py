"""The calibration of each retriever's score against its null distribution (trove_search.ranking)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trove_search import ranking
from trove_search.models import Candidate


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
