"""The shape of a language's table for query understanding (trove_search.understand)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Lower-case words and phrases of one language; phrases are space-separated words."""

    # Phrases naming kinds of media ("voice memo" -> audio); a phrase may name several ("recording").
    kinds: Mapping[str, tuple[str, ...]]
    # Words joining two kind phrases ("photos and videos").
    kind_joiners: frozenset[str]
    months: Mapping[str, int]  # word -> 1..12
    # Month words that are also common words ("may", "march"): a month only after a date preposition or "last"/
    # "this", or before a year. (Any month alone, a weekday, a season or a year is a date only after those words.)
    ambiguous_months: frozenset[str]
    weekdays: Mapping[str, int]  # word -> 0 (Monday) .. 6
    seasons: Mapping[str, tuple[int, int]]  # word -> (first month, last month); winter wraps past December
    days_back: Mapping[str, int]  # "today" -> 0, "yesterday" -> 1
    units: Mapping[str, str]  # "days" -> day, "week" -> week, "months" -> month, "year" -> year
    numbers: Mapping[str, int]  # number words: "two" -> 2
    this: frozenset[str]  # "this" (the current week, month, year, season)
    last: frozenset[str]  # "last", "previous" (the one before)
    past: frozenset[str]  # "past" ("past 3 days": a rolling span ending today)
    ago: frozenset[str]  # "ago" ("3 days ago"), after the number and unit
    during: frozenset[str]  # "in", "on", "during", "from" (when no "to" follows): the span itself
    since: frozenset[str]  # "since": from the start of the span on
    after: frozenset[str]  # "after": from the end of the span on
    until: frozenset[str]  # "until", "till": up to the end of the span
    before: frozenset[str]  # "before": up to the start of the span
    between: frozenset[str]  # "between" ... "and"
    range_and: frozenset[str]  # "and" of "between X and Y"
    range_to: frozenset[str]  # "to", "through", "until", "-" of "from X to Y"
    articles: frozenset[str]  # "the" of "in the summer"
    of: frozenset[str]  # "of" in "summer of 2023" or "the 3rd of May"
    ordinal_suffixes: tuple[str, ...]  # "st", "nd", "rd", "th" of "3rd"
    # Words dropped from the ends of what remains once kinds or dates were taken out ("videos *of* the dog").
    fillers: frozenset[str]
