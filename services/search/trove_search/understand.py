"""Query understanding: kinds of media, dates and people named in a query become filters; the rest is the text.

Pure functions over a language's word table (trove_search.lexicons): "videos of the dog from last summer" is
kinds (video), a date range (last summer, in the user's time zone) and the text "the dog". A query with no such
words comes back unchanged. People are matched against a vocabulary the caller passes (names -> person ids):
search passes the user's named people (trove_search.people), whole names of up to six words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from trove_common.errors import InvalidArgumentError
from trove_search.lexicons import LEXICONS, Lexicon

PARTS = ("kinds", "dates", "people")
MAX_NAME_WORDS = 6  # words (and hyphens) of a person's name read from a query
_TOKEN = re.compile(r"\d{4}-\d{2}(?:-\d{2})?\b|\d+[^\W\d_]*|[^\W\d_]+|[&-]")
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_ISO_MONTH = re.compile(r"(\d{4})-(\d{2})")
_SPACE_BEFORE_MARK = re.compile(r"\s+([,;:.!?])")
_MIN_YEAR, _MAX_YEAR = 1900, 2100


@dataclass(frozen=True, slots=True)
class Understood:
    """What a query asks for: filters plus the text left to rank by (the whole query when nothing was taken)."""

    text: str
    kinds: tuple[str, ...] = ()
    date_from: datetime | None = None  # inclusive
    date_to: datetime | None = None  # inclusive
    people: tuple[str, ...] = ()  # person ids
    excluded: tuple[str, ...] = ()  # words no result may contain ("-word")


# "-word" leaves out every file that says the word, as web search does; a word only, starting with a letter, after
# a space or at the start ("t-shirt" and "-5" are not exclusions).
_EXCLUDED = re.compile(r"(?<!\S)-([^\W\d_][\w'’]*)")


def split_exclusions(query: str) -> tuple[str, tuple[str, ...]]:
    """The query without its "-word"s, and those words (lower-case, each once, in order)."""
    excluded = tuple(dict.fromkeys(m.group(1).lower() for m in _EXCLUDED.finditer(query)))
    return " ".join(_EXCLUDED.sub(" ", query).split()), excluded


@dataclass(frozen=True, slots=True)
class Span:
    """Local days [start, end); None is open."""

    start: date | None
    end: date | None


@dataclass(frozen=True, slots=True)
class _Token:
    word: str  # lower case
    start: int
    end: int


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(name: str) -> ZoneInfo:
    """The IANA time zone of that name (UTC when empty); an unknown name is an InvalidArgumentError."""
    if not name:
        return ZoneInfo("UTC")
    if name not in _zone_names():
        raise InvalidArgumentError("tz must be an IANA time zone name, like Europe/Paris")
    return ZoneInfo(name)


def understand(
    query: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    language: str = "en",
    parts: Iterable[str] = PARTS,
    people: Mapping[str, str] | None = None,
) -> Understood:
    """The filters the query names, with `now` and the dates read in `tz`; only the given parts are looked for."""
    lexicon = LEXICONS.get(language, LEXICONS["en"])
    tokens = [_Token(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(query)]
    reader = _Reader(tokens=tokens, lexicon=lexicon, today=now.astimezone(tz).date())
    # A name is matched as the words the query is read as ("Anne-Marie O'Brien": anne - marie o brien).
    names = {" ".join(m.group().lower() for m in _TOKEN.finditer(k)): v for k, v in (people or {}).items()}
    reader.read(parts=frozenset(parts), people={k: v for k, v in names.items() if k})
    if not reader.taken:
        return Understood(text=query.strip())
    start, end = _bounds(reader.span, tz)
    return Understood(
        text=reader.rest(query),
        kinds=tuple(sorted(set(reader.kinds))),
        date_from=start,
        date_to=end,
        people=tuple(dict.fromkeys(reader.people)),
    )


def _bounds(span: Span | None, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    if span is None:
        return None, None
    start = datetime.combine(span.start, time(), tz) if span.start else None
    end = datetime.combine(span.end, time(), tz) - timedelta(microseconds=1) if span.end else None
    return start, end


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month(year: int, month: int) -> Span:
    first = date(year, month, 1)
    return Span(first, _add_months(first, 1))


def _year(year: int) -> Span:
    return Span(date(year, 1, 1), date(year + 1, 1, 1))


def _day(day: date) -> Span:
    return Span(day, day + timedelta(days=1))


def _week(day: date) -> Span:
    monday = day - timedelta(days=day.weekday())
    return Span(monday, monday + timedelta(days=7))


_OPEN: dict[str, Callable[[Span], Span]] = {
    "since": lambda s: Span(s.start, None),
    "after": lambda s: Span(s.end, None),
    "until": lambda s: Span(None, s.end),
    "before": lambda s: Span(None, s.start),
}


@dataclass(slots=True)
class _Reader:
    tokens: list[_Token]
    lexicon: Lexicon
    today: date
    taken: set[int] = field(default_factory=set)  # indexes of the tokens that became filters
    kind_at: set[int] = field(default_factory=set)
    kinds: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    span: Span | None = None

    # Words ---------------------------------------------------------------------------------------------------------

    def word(self, i: int) -> str:
        return self.tokens[i].word if 0 <= i < len(self.tokens) else ""

    def phrase(self, i: int, table: Mapping[str, object], longest: int = 4) -> int:
        """The length of the longest phrase of `table` starting at token i, 0 when none."""
        for n in range(min(longest, len(self.tokens) - i), 0, -1):
            if " ".join(t.word for t in self.tokens[i : i + n]) in table:
                return n
        return 0

    def take(self, i: int, n: int) -> None:
        self.taken.update(range(i, i + n))

    # The query -----------------------------------------------------------------------------------------------------

    def read(self, *, parts: frozenset[str], people: Mapping[str, str]) -> None:
        i = 0
        while i < len(self.tokens):
            n = self.read_at(i, parts=parts, people=people)
            i += n or 1
        for i in range(1, len(self.tokens) - 1):  # "photos and videos"
            if self.word(i) in self.lexicon.kind_joiners and {i - 1, i + 1} <= self.kind_at:
                self.take(i, 1)

    def read_at(self, i: int, *, parts: frozenset[str], people: Mapping[str, str]) -> int:
        if "people" in parts and (n := self.phrase(i, people, longest=MAX_NAME_WORDS)):
            self.people.append(people[" ".join(t.word for t in self.tokens[i : i + n])])
        elif "kinds" in parts and (n := self.phrase(i, self.lexicon.kinds)):
            self.kinds.extend(self.lexicon.kinds[" ".join(t.word for t in self.tokens[i : i + n])])
            self.kind_at.update(range(i, i + n))
        elif "dates" in parts and self.span is None and (found := self.date_at(i)):
            self.span, n = found
        else:
            return 0
        self.take(i, n)
        return n

    def rest(self, query: str) -> str:
        """The query without the words taken, nor the filler words left dangling at its ends."""
        kept = [i for i in range(len(self.tokens)) if i not in self.taken]
        while kept and self.word(kept[0]) in self.lexicon.fillers | self.lexicon.articles:
            kept.pop(0)
        while kept and self.word(kept[-1]) in self.lexicon.fillers | self.lexicon.articles:
            kept.pop()
        if not kept:
            return ""
        text, cursor = [], self.tokens[kept[0]].start
        for i in range(kept[0], kept[-1] + 1):
            if i in self.taken:
                text.append(query[cursor : self.tokens[i].start])
                cursor = self.tokens[i].end
        text.append(query[cursor : self.tokens[kept[-1]].end])
        return _SPACE_BEFORE_MARK.sub(r"\1", " ".join("".join(text).split())).strip(" ,;:")

    # Dates ---------------------------------------------------------------------------------------------------------

    def date_at(self, i: int) -> tuple[Span, int] | None:
        """A date or range starting at token i, with its length in tokens."""
        lx, w = self.lexicon, self.word(i)
        if w in lx.between:
            return self.between(i)
        bound = "since" if w in lx.since else "after" if w in lx.after else "until" if w in lx.until else ""
        bound = "before" if w in lx.before else bound
        if bound and (found := self.point(i + 1, anchored=True)):
            span = found[0]
            return _OPEN[bound](span), found[1] + 1
        if w in lx.during:
            found = self.point(i + 1, anchored=True)
            return self.maybe_range(i + 1, found, 1) if found else None
        found = self.point(i, anchored=False)
        return self.maybe_range(i, found, 0) if found else None

    def maybe_range(self, i: int, first: tuple[Span, int], lead: int) -> tuple[Span, int]:
        """`first` at token i, or the range "first to second" when a range word follows."""
        span, n = first
        if self.word(i + n) in self.lexicon.range_to and (second := self.point(i + n + 1, anchored=True)):
            return self.joined(span, second[0], i, n), lead + n + 1 + second[1]
        return span, lead + n

    def between(self, i: int) -> tuple[Span, int] | None:
        first = self.point(i + 1, anchored=True)
        if first is None or self.word(i + 1 + first[1]) not in self.lexicon.range_and:
            return None
        second = self.point(i + 2 + first[1], anchored=True)
        if second is None:
            return None
        return self.joined(first[0], second[0], i + 1, first[1]), 2 + first[1] + second[1]

    def joined(self, first: Span, second: Span, i: int, n: int) -> Span:
        """From the start of `first` (tokens i..i+n) to the end of `second`. A first part without a year takes the
        second's, a year earlier when it would start after it ("between November and February")."""
        start, end = first.start, second.end
        if start and second.start and not any(self.has_year(j) for j in range(i, i + n)):
            start = start.replace(year=second.start.year, day=min(start.day, 28) if start.month == 2 else start.day)
            if start > second.start:
                start = start.replace(year=start.year - 1)
        return Span(start, end)

    def has_year(self, i: int) -> bool:
        w = self.word(i)
        return w.isdigit() and len(w) == 4 or bool(_ISO_MONTH.fullmatch(w) or _ISO_DAY.fullmatch(w))

    def point(self, i: int, *, anchored: bool) -> tuple[Span, int] | None:
        """One day, week, month, season or year at token i ("the" before it is taken with it)."""
        lead = 1 if self.word(i) in self.lexicon.articles else 0
        for read in (self.iso, self.relative_day, self.relative, self.ago, self.season, self.month, self.weekday):
            if found := read(i + lead, anchored):
                return found[0], found[1] + lead
        if anchored and (found := self.year_at(i + lead)):  # a bare year is as often content ("2023 tax return")
            return found[0], found[1] + lead
        return None

    def year_at(self, i: int) -> tuple[Span, int] | None:
        w = self.word(i)
        if len(w) == 4 and w.isdigit() and _MIN_YEAR <= int(w) <= _MAX_YEAR:
            return _year(int(w)), 1
        return None

    def iso(self, i: int, anchored: bool) -> tuple[Span, int] | None:
        w = self.word(i)
        try:
            if m := _ISO_DAY.fullmatch(w):
                return _day(date(int(m[1]), int(m[2]), int(m[3]))), 1
            if m := _ISO_MONTH.fullmatch(w):
                return _month(int(m[1]), int(m[2])), 1
        except ValueError:
            return None
        return None

    def relative_day(self, i: int, anchored: bool) -> tuple[Span, int] | None:
        back = self.lexicon.days_back.get(self.word(i))
        return (_day(self.today - timedelta(days=back)), 1) if back is not None else None

    def number(self, i: int) -> int | None:
        w = self.word(i)
        if w.isdigit() and len(w) <= 3:
            return int(w)
        return self.lexicon.numbers.get(w)

    def relative(self, i: int, anchored: bool) -> tuple[Span, int] | None:
        """this/last week, month, year; past 3 days; last 2 weeks."""
        lx, w = self.lexicon, self.word(i)
        if w not in lx.this | lx.last | lx.past:
            return None
        count = self.number(i + 1)
        unit = lx.units.get(self.word(i + 2 if count else i + 1))
        if unit and (count or w in lx.past):
            return self.rolling(unit, count or 1), 3 if count else 2
        if unit:
            return self.calendar(unit, back=0 if w in lx.this else 1), 2
        return None

    def rolling(self, unit: str, count: int) -> Span:
        end = self.today + timedelta(days=1)
        if unit in ("day", "week"):
            return Span(self.today - timedelta(days=count * (7 if unit == "week" else 1)), end)
        months = count * (12 if unit == "year" else 1)
        start = _add_months(self.today, -months).replace(day=min(self.today.day, 28))
        return Span(start, end)

    def calendar(self, unit: str, *, back: int) -> Span:
        """The day, week, month or year `back` units before the current one."""
        if unit == "day":
            return _day(self.today - timedelta(days=back))
        if unit == "week":
            return _week(self.today - timedelta(days=7 * back))
        if unit == "month":
            first = _add_months(self.today, -back)
            return _month(first.year, first.month)
        return _year(self.today.year - back)

    def ago(self, i: int, anchored: bool) -> tuple[Span, int] | None:
        count = self.number(i)
        unit = self.lexicon.units.get(self.word(i + 1))
        if count is None or unit is None or self.word(i + 2) not in self.lexicon.ago:
            return None
        return self.calendar(unit, back=count), 3

    def which(self, i: int) -> tuple[str, int]:
        """'this', 'last' or '' before token i's word, with the tokens it takes."""
        lx, w = self.lexicon, self.word(i)
        return ("this", 1) if w in lx.this else ("last", 1) if w in lx.last else ("", 0)

    def year_after(self, i: int) -> tuple[int, int] | None:
        """A year at token i, or after "of": (year, tokens)."""
        lead = 1 if self.word(i) in self.lexicon.of and self.year_at(i + 1) else 0
        found = self.year_at(i + lead)
        return (found[0].start.year, lead + 1) if found and found[0].start else None

    def recent(self, occurrence: Callable[[int], Span], *, which: str) -> Span:
        """The latest yearly occurrence that started by today (which=''), ended by today ('last'); 'this' is the
        one that starts this year."""
        for year in range(self.today.year, self.today.year - 3, -1):
            span = occurrence(year)
            assert span.start and span.end
            if which == "this" or (span.end <= self.today if which == "last" else span.start <= self.today):
                return span
        return span

    def season(self, i: int, anchored: bool) -> tuple[Span, int] | None:
        which, lead = self.which(i)
        months = self.lexicon.seasons.get(self.word(i + lead))
        if months is None:
            return None
        first, last = months

        def occurrence(year: int) -> Span:
            return Span(date(year, first, 1), _add_months(date(year + (last < first), last, 1), 1))

        taken = lead + 1
        if year := self.year_after(i + taken):
            return occurrence(year[0]), taken + year[1]
        if not (anchored or lead):  # "summer dress" is content
            return None
        if which == "this" and last < first and self.today.month <= last:
            return occurrence(self.today.year - 1), taken  # this winter, in January: the one begun in December
        return self.recent(occurrence, which=which), taken

    def month(self, i: int, anchored: bool) -> tuple[Span, int] | None:
        """March, March 2025, March 14, 14 March 2025, the 3rd of May, last March."""
        which, lead = self.which(i)
        day, j = self.day_before_month(i) if not lead else (None, i + lead)
        w = self.word(j)
        month = self.lexicon.months.get(w)
        if month is None:
            return None
        taken = j - i + 1
        if day is None and (found := self.day_number(j + 1)):
            day, taken = found, taken + 1
            taken += 1 if self.word(j + 2) == "," else 0
        year = self.year_after(i + taken)
        ranged = self.word(i + taken) in self.lexicon.range_to
        bare = not (anchored or lead or year or ranged)
        day_first = j > i + lead  # "the 3rd of May"
        if bare and (day is None or (w in self.lexicon.ambiguous_months and not day_first)):  # "december invoice"
            return None
        taken += year[1] if year else 0
        if day is not None:
            return self.month_day(month, day, year[0] if year else None), taken
        if year:
            return _month(year[0], month), taken
        return self.recent(lambda year: _month(year, month), which=which), taken

    def month_day(self, month: int, day: int, year: int | None) -> Span:
        try:
            if year is not None:
                return _day(date(year, month, day))
            found = date(self.today.year, month, day)
            return _day(found if found <= self.today else date(found.year - 1, month, day))
        except ValueError:
            return _month(year or self.today.year, month)

    def day_number(self, i: int) -> int | None:
        w = self.word(i)
        digits = w.rstrip("".join(self.lexicon.ordinal_suffixes)) if w[:1].isdigit() else ""
        if (
            digits.isdigit()
            and 1 <= int(digits) <= 31
            and (digits == w or w[len(digits) :] in self.lexicon.ordinal_suffixes)
        ):
            return int(digits)
        return None

    def day_before_month(self, i: int) -> tuple[int | None, int]:
        """'14 March' or '3rd of May': the day and the month's token index; (None, i) when no day is there."""
        day = self.day_number(i)
        if day is None:
            return None, i
        j = i + 1 + (1 if self.word(i + 1) in self.lexicon.of else 0)
        return (day, j) if self.word(j) in self.lexicon.months else (None, i)

    def weekday(self, i: int, anchored: bool) -> tuple[Span, int] | None:
        which, lead = self.which(i)
        weekday = self.lexicon.weekdays.get(self.word(i + lead))
        if weekday is None or not (anchored or lead):  # "monday meeting" is content
            return None
        back = (self.today.weekday() - weekday) % 7
        if which == "last" and back == 0:
            back = 7
        if which == "this":
            return _day(self.today - timedelta(days=self.today.weekday() - weekday)), lead + 1
        return _day(self.today - timedelta(days=back)), lead + 1
