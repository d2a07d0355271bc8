"""Query understanding: kinds, dates and people read from a query's words (pure functions, no servers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from trove_common.errors import InvalidArgumentError
from trove_search.models import Filters
from trove_search.search import Query, understood_query
from trove_search.understand import split_exclusions, understand

NOW = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)  # a Friday
PARIS = ZoneInfo("Europe/Paris")


def _read(q: str, *, now: datetime = NOW, tz: ZoneInfo = PARIS, **kwargs: object):  # type: ignore[no-untyped-def]
    return understand(q, now=now, tz=tz, **kwargs)  # type: ignore[arg-type]


def _days(q: str, *, now: datetime = NOW) -> tuple[date | None, date | None]:
    """The local first and last day of the range the query names."""
    found = _read(q, now=now)
    return (
        found.date_from.date() if found.date_from else None,
        found.date_to.date() if found.date_to else None,
    )


@pytest.mark.parametrize(
    ("q", "kinds", "text"),
    [
        ("videos about the volcano", ("video",), "volcano"),
        ("photos of my dog", ("image",), "dog"),
        ("a picture of a cat", ("image",), "cat"),
        ("voice memo about the dentist", ("audio",), "dentist"),
        ("voice notes from the standup", ("audio",), "standup"),
        ("podcast on gardening", ("audio",), "gardening"),
        ("scanned receipts", ("document",), "receipts"),
        ("pdf invoices", ("document",), "invoices"),
        ("recordings of the choir", ("audio", "video"), "choir"),
        ("screen recording of the bug", ("video",), "bug"),
        ("photos and videos of the beach", ("image", "video"), "beach"),
        ("clips, pictures: fireworks", ("image", "video"), "fireworks"),
        ("Movie night popcorn", ("video",), "night popcorn"),
    ],
)
def test_kinds_are_taken_out_of_the_text(q: str, kinds: tuple[str, ...], text: str) -> None:
    found = _read(q)
    assert found.kinds == kinds
    assert found.text == text
    assert found.date_from is None and found.date_to is None and found.people == ()


@pytest.mark.parametrize(
    "q",
    [
        "rain, tomato sauce, a cat, soup",
        "receipt for the hammer",
        "the song at the wedding",
        "page two of the contract",
        "may the force be with you",
        "march of the penguins",
        "Jan's birthday cake",
        "which soups can I get for lunch",
        "invoice for business cards",
        "cat & !dog",
        '"unclosed phrase',
        "  padded query  ",
        "2023 tax return",
        "december invoice",
        "monday meeting notes",
        "summer dress",
        "may 5 is cinco de mayo",
    ],
)
def test_a_query_without_kind_or_date_words_is_unchanged(q: str) -> None:
    assert _read(q) == type(_read(q))(text=q.strip())


@pytest.mark.parametrize(
    ("q", "first", "last"),
    [
        ("yesterday", date(2026, 12, 3), date(2026, 12, 3)),
        ("today", date(2026, 12, 4), date(2026, 12, 4)),
        ("this week", date(2026, 11, 30), date(2026, 12, 6)),
        ("last week", date(2026, 11, 23), date(2026, 11, 29)),
        ("this month", date(2026, 12, 1), date(2026, 12, 31)),
        ("last month", date(2026, 11, 1), date(2026, 11, 30)),
        ("this year", date(2026, 1, 1), date(2026, 12, 31)),
        ("last year", date(2025, 1, 1), date(2025, 12, 31)),
        ("past week", date(2026, 11, 27), date(2026, 12, 4)),
        ("last 3 days", date(2026, 12, 1), date(2026, 12, 4)),
        ("past two weeks", date(2026, 11, 20), date(2026, 12, 4)),
        ("3 days ago", date(2026, 12, 1), date(2026, 12, 1)),
        ("a year ago", date(2025, 1, 1), date(2025, 12, 31)),
        ("in 2023", date(2023, 1, 1), date(2023, 12, 31)),
        ("from 2019", date(2019, 1, 1), date(2019, 12, 31)),
        ("March 2025", date(2025, 3, 1), date(2025, 3, 31)),
        ("from March 2025", date(2025, 3, 1), date(2025, 3, 31)),
        ("in May", date(2026, 5, 1), date(2026, 5, 31)),
        ("last March", date(2026, 3, 1), date(2026, 3, 31)),
        ("in December", date(2026, 12, 1), date(2026, 12, 31)),
        ("last December", date(2025, 12, 1), date(2025, 12, 31)),
        ("March 14, 2025", date(2025, 3, 14), date(2025, 3, 14)),
        ("14 March 2025", date(2025, 3, 14), date(2025, 3, 14)),
        ("the 3rd of May", date(2026, 5, 3), date(2026, 5, 3)),
        ("December 25", date(2025, 12, 25), date(2025, 12, 25)),
        ("2025-03-14", date(2025, 3, 14), date(2025, 3, 14)),
        ("2025-03", date(2025, 3, 1), date(2025, 3, 31)),
        ("last summer", date(2026, 6, 1), date(2026, 8, 31)),
        ("in the summer of 2023", date(2023, 6, 1), date(2023, 8, 31)),
        ("summer 2023", date(2023, 6, 1), date(2023, 8, 31)),
        ("this winter", date(2026, 12, 1), date(2027, 2, 28)),
        ("last winter", date(2025, 12, 1), date(2026, 2, 28)),
        ("during autumn", date(2026, 9, 1), date(2026, 11, 30)),
        ("between May and July", date(2026, 5, 1), date(2026, 7, 31)),
        ("between November and February", date(2025, 11, 1), date(2026, 2, 28)),
        ("from March to June 2025", date(2025, 3, 1), date(2025, 6, 30)),
        ("May - July 2024", date(2024, 5, 1), date(2024, 7, 31)),
        ("between 2020 and 2022", date(2020, 1, 1), date(2022, 12, 31)),
        ("since Monday", date(2026, 11, 30), None),
        ("since 2024", date(2024, 1, 1), None),
        ("after 2024", date(2025, 1, 1), None),
        ("until March 2025", None, date(2025, 3, 31)),
        ("before 2020", None, date(2019, 12, 31)),
        ("on Friday", date(2026, 12, 4), date(2026, 12, 4)),
        ("last Friday", date(2026, 11, 27), date(2026, 11, 27)),
        ("on Tuesday", date(2026, 12, 1), date(2026, 12, 1)),
    ],
)
def test_dates_and_ranges(q: str, first: date | None, last: date | None) -> None:
    assert _days(q) == (first, last)
    assert _read(q).text == ""


def test_seasons_and_months_are_the_latest_that_began_or_ended() -> None:
    july = datetime(2026, 7, 10, tzinfo=UTC)
    assert _days("last summer", now=july) == (date(2025, 6, 1), date(2025, 8, 31))
    assert _days("this summer", now=july) == (date(2026, 6, 1), date(2026, 8, 31))
    assert _days("in summer", now=july) == (date(2026, 6, 1), date(2026, 8, 31))
    assert _days("in December", now=july) == (date(2025, 12, 1), date(2025, 12, 31))
    january = datetime(2027, 1, 15, tzinfo=UTC)
    assert _days("this winter", now=january) == (date(2026, 12, 1), date(2027, 2, 28))
    assert _days("between May and July", now=datetime(2026, 3, 1, tzinfo=UTC)) == (date(2025, 5, 1), date(2025, 7, 31))


def test_dates_are_read_in_the_users_time_zone() -> None:
    late = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)  # already Saturday in Tokyo, still Friday in New York
    tokyo = _read("yesterday", now=late, tz=ZoneInfo("Asia/Tokyo"))
    assert tokyo.date_from == datetime(2026, 12, 4, tzinfo=ZoneInfo("Asia/Tokyo"))
    new_york = _read("yesterday", now=late, tz=ZoneInfo("America/New_York"))
    assert new_york.date_from == datetime(2026, 12, 3, tzinfo=ZoneInfo("America/New_York"))
    assert new_york.date_to is not None
    assert new_york.date_to - new_york.date_from == timedelta(days=1, microseconds=-1)


def test_kinds_dates_and_text_together() -> None:
    found = _read("videos of the dog from last summer")
    assert (found.kinds, found.text) == (("video",), "dog")
    assert found.date_from == datetime(2026, 6, 1, tzinfo=PARIS)
    found = _read("scanned receipts from March 2025")
    assert (found.kinds, found.text) == (("document",), "receipts")
    assert found.date_from == datetime(2025, 3, 1, tzinfo=PARIS)
    found = _read("birthday photos, yesterday evening")
    assert (found.kinds, found.text) == (("image",), "birthday, evening")
    # One date per query: a second one is left to the text.
    found = _read("in 2023 trip photos in 2024")
    assert found.date_from == datetime(2023, 1, 1, tzinfo=PARIS) and found.text == "trip in 2024"


def test_only_the_parts_asked_for_are_read() -> None:
    assert _read("videos from 2023", parts=["dates"]).kinds == ()
    assert _read("videos from 2023", parts=["dates"]).text == "videos"
    only_kinds = _read("videos from 2023", parts=["kinds"])
    assert only_kinds.date_from is None and only_kinds.text == "2023"
    assert _read("videos from 2023", parts=[]).text == "videos from 2023"


def test_people_come_from_a_vocabulary() -> None:
    people = {"Ana": "p-1", "Grandma Rose": "p-2"}
    found = _read("grandma rose at the beach with ana", people=people)
    assert found.people == ("p-2", "p-1")
    assert found.text == "beach"
    assert _read("grandma rose at the beach", people=people, parts=["kinds", "dates"]).people == ()


def test_names_with_hyphens_apostrophes_and_many_words_are_read_as_typed() -> None:
    people = {"Anne-Marie O'Brien": "p-1", "  Ana  ": "p-2", "???": "p-3"}
    found = _read("photos of anne-marie o'brien and ANA by the lake", people=people)
    assert found.people == ("p-1", "p-2") and found.kinds == ("image",)
    assert found.text == "by the lake"


def test_understood_query_lets_explicit_filters_win() -> None:
    query = Query(text="videos about rain yesterday", limit=10, tz="Europe/Paris")
    merged, found = understood_query(query, now=NOW)
    assert merged.text == "rain" and merged.filters.kinds == ("video",)
    assert merged.filters.date_field == "any" and merged.filters.date_from == found.date_from
    explicit = Query(text="videos about rain yesterday", limit=10, filters=Filters(kinds=("audio",)))
    merged, found = understood_query(explicit, now=NOW)
    assert merged.filters.kinds == ("audio",) and found.kinds == ()
    assert merged.text == "videos about rain" and merged.filters.date_from is not None
    literal = Query(text="videos about rain yesterday", limit=10, literal=("all",))
    merged, found = understood_query(literal, now=NOW)
    assert merged == literal and found.text == "videos about rain yesterday"
    # Nothing left once the filters are out: the whole query still ranks.
    merged, found = understood_query(Query(text="videos", limit=10), now=NOW)
    assert merged.text == "videos" and merged.filters.kinds == ("video",) and found.text == ""


@pytest.mark.parametrize(
    ("q", "text", "excluded"),
    [
        ("beach -dog", "beach", ("dog",)),
        ("a -Dog at the -dog  -cat", "a at the", ("dog", "cat")),
        ("café -crème brûlée", "café brûlée", ("crème",)),
        ("t-shirt sale", "t-shirt sale", ()),  # a hyphen inside a word
        ("temperature -5 degrees", "temperature -5 degrees", ()),  # a number
        ("this - that", "this - that", ()),
    ],
)
def test_minus_words_are_taken_out(q: str, text: str, excluded: tuple[str, ...]) -> None:
    assert split_exclusions(q) == (text, excluded)


def test_a_minus_word_is_left_out_and_names_no_filter() -> None:
    merged, found = understood_query(Query(text="beach -videos -dog", limit=10), now=NOW)
    assert merged.text == "beach" and merged.filters.kinds == () and merged.filters.excluded == ("videos", "dog")
    assert found.excluded == ("videos", "dog") and found.text == "beach"
    assert merged.filters.as_json() == {"excluded": ["videos", "dog"]}
    # Only exclusions (and filters): what passes them is listed.
    merged, found = understood_query(Query(text="photos -dog", limit=10), now=NOW)
    assert merged.filters.kinds == ("image",) and merged.filters.excluded == ("dog",) and found.text == ""


@pytest.mark.parametrize("tz", ["Mars/Olympus", "../etc/passwd", "/etc/localtime", "x" * 80])
def test_an_unknown_time_zone_is_refused(tz: str) -> None:
    with pytest.raises(InvalidArgumentError, match="tz"):
        understood_query(Query(text="cat", limit=1, tz=tz), now=NOW)


def test_an_unknown_literal_part_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="literal"):
        understood_query(Query(text="cat", limit=1, literal=("colours",)), now=NOW)
