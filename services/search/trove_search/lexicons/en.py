"""English table of query understanding.

Kinds are the words people use for a kind of file. Words that say what a file shows or contains stay in the text:
"receipt", "song", "page", "selfie" and "screenshot" describe content, and "scanned receipts" is a document
(from "scanned") about receipts.
"""

from __future__ import annotations

from trove_search.lexicons.lexicon import Lexicon

_IMAGE = ("image",)
_VIDEO = ("video",)
_AUDIO = ("audio",)
_DOCUMENT = ("document",)

_KINDS: dict[str, tuple[str, ...]] = {}
for _words, _kinds in (
    ("photo photos photograph photographs picture pictures pic pics image images snapshot snapshots", _IMAGE),
    ("video videos clip clips movie movies footage", _VIDEO),
    ("audio audios podcast podcasts", _AUDIO),
    ("document documents doc docs scan scans scanned pdf pdfs", _DOCUMENT),
    ("recording recordings", ("audio", "video")),
):
    for _word in _words.split():
        _KINDS[_word] = _kinds
for _phrase, _kinds in (
    ("voice memo", _AUDIO),
    ("voice memos", _AUDIO),
    ("voice note", _AUDIO),
    ("voice notes", _AUDIO),
    ("voice message", _AUDIO),
    ("voice messages", _AUDIO),
    ("voice recording", _AUDIO),
    ("voice recordings", _AUDIO),
    ("audio recording", _AUDIO),
    ("audio recordings", _AUDIO),
    ("sound recording", _AUDIO),
    ("sound recordings", _AUDIO),
    ("video recording", _VIDEO),
    ("video recordings", _VIDEO),
    ("screen recording", _VIDEO),
    ("screen recordings", _VIDEO),
    ("home video", _VIDEO),
    ("home videos", _VIDEO),
    ("scanned document", _DOCUMENT),
    ("scanned documents", _DOCUMENT),
    ("pdf file", _DOCUMENT),
    ("pdf files", _DOCUMENT),
):
    _KINDS[_phrase] = _kinds

_MONTHS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}

LEXICON = Lexicon(
    kinds=_KINDS,
    kind_joiners=frozenset({"and", "or", "&"}),
    months=_MONTHS,
    ambiguous_months=frozenset({"may", "march", "mar", "jan", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "feb"}),
    weekdays={
        "monday": 0,
        "tuesday": 1,
        "wednesday": 2,
        "thursday": 3,
        "friday": 4,
        "saturday": 5,
        "sunday": 6,
    },
    seasons={"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)},
    days_back={"today": 0, "yesterday": 1},
    units={
        "day": "day",
        "days": "day",
        "week": "week",
        "weeks": "week",
        "month": "month",
        "months": "month",
        "year": "year",
        "years": "year",
    },
    numbers={
        "a": 1,
        "one": 1,
        "two": 2,
        "three": 3,
        "four": 4,
        "five": 5,
        "six": 6,
        "seven": 7,
        "eight": 8,
        "nine": 9,
        "ten": 10,
        "eleven": 11,
        "twelve": 12,
    },
    this=frozenset({"this"}),
    last=frozenset({"last", "previous"}),
    past=frozenset({"past"}),
    ago=frozenset({"ago"}),
    during=frozenset({"in", "on", "during", "from", "of"}),
    since=frozenset({"since"}),
    after=frozenset({"after"}),
    until=frozenset({"until", "till"}),
    before=frozenset({"before"}),
    between=frozenset({"between"}),
    range_and=frozenset({"and"}),
    range_to=frozenset({"to", "through", "until", "till", "-"}),
    articles=frozenset({"the"}),
    of=frozenset({"of"}),
    ordinal_suffixes=("st", "nd", "rd", "th"),
    fillers=frozenset(
        {
            "a",
            "an",
            "my",
            "our",
            "all",
            "any",
            "some",
            "of",
            "about",
            "with",
            "showing",
            "featuring",
            "from",
            "in",
            "on",
            "at",
            "during",
            "taken",
            "made",
            "recorded",
            "that",
            "where",
            "which",
            "and",
            "or",
            "&",
        }
    ),
)
