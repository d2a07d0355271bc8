"""Turning retrieved segments into results: scores people can read, fusion, a relevance cut-off, snippets.

Each retriever's raw score is calibrated on its own, against its null distribution: the scores it gives a query
and media that have nothing to do with each other. The question asked of every score is "how unlikely is this
if the segment were unrelated to the query?". For cosine similarity the null is summarised by its mean and spread
(Null), and a score becomes its one-sided tail probability p under a normal fit; the evidence is then how many
orders of magnitude p lies below P_UNRELATED (ordinary for unrelated pairs: evidence 0), scaled so that
P_CERTAIN counts as 1:

    evidence = clamp(log(P_UNRELATED / p) / log(P_UNRELATED / P_CERTAIN), 0, 1)

Pictures and the words people said or wrote sit differently in the text embedding space (a label sentence is
short and shares "a photo of ..." with every other one), so each has its own null: PICTURE_NULL for image and
scene segments (their label sentences), WORDS_NULL for speech, text and page segments. A full-text match is
cheap to get from one common word, so its evidence is the rank (up to TEXT_CEIL) times the square of the share of
the query's words the segment contains: a match on half the query's words is a quarter of the evidence, as such
partial matches are what unrelated media produce ("receipt for the hammer" matching an invoice's "receipt").
The image-text model's match (`Candidate.image_match`, when the user supplied such a model) is calibrated by that
model's space. The pieces are combined as a noisy OR, so any one can carry a result and several together rank it
higher. A mild focus factor then prefers a match that covers its whole file (a photo of a cat) over an equally
good match in a few seconds of a long video or recording: the score loses up to FOCUS_WEIGHT as the segment's
share of the file's duration shrinks.

Provenance of the constants: `bench/picture_vectors.py` scores every query of samples/media/queries.jsonl and
samples/distractors/queries.jsonl (sample, weak-answer and no-answer queries) against every picture of both
folders and every transcript and OCR text that does not answer it (1,752 unrelated picture pairs, 286 unrelated
text pairs); the nulls are those pairs' mean and standard deviation. No file name enters the calibration. The
figures are in docs/relevance.md.

The cut-off is on the same evidence scale. A query returns nothing unless its best match reaches MIN_TOP_SCORE;
then every media with at least MIN_SCORE is listed, so a weak but real answer (a picture whose labels only
approximately name what it shows) still appears below the convincing ones. Both were read off `make eval`'s
sample, weak-answer and no-answer queries (docs/relevance.md), not set per file. A search filtered to people has
no cut-off: the person filter already says which media are wanted, and the words only order them.

A moment's snippet is what people read: a picture's caption (its `text` is written for search), or the text,
with the query's words marked. When none of them shows there, `reason` says what evidence matched instead:
the query's words found in its labels ("matched: feline"), what the description means ("matched: tabby cat"),
or how the picture itself looks to the image-text model. Both are written by `readable` for the page shown only:
a query keeps up to 200 media for paging, and writing every one's snippets was a sixth of a search's CPU.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Protocol

from trove_search.models import Candidate, Hit, Moment


@dataclass(frozen=True, slots=True)
class Null:
    """Where a retriever's scores of unrelated (query, segment) pairs lie: their mean and standard deviation."""

    mean: float
    std: float

    def evidence(self, value: float) -> float:
        """0 for a score ordinary among unrelated pairs, rising to 1 for one they reach with p <= P_CERTAIN."""
        p = 0.5 * math.erfc((value - self.mean) / (self.std * math.sqrt(2.0)))
        if p >= P_UNRELATED:
            return 0.0
        return min(1.0, math.log(P_UNRELATED / max(p, 1e-300)) / math.log(P_UNRELATED / P_CERTAIN))


P_UNRELATED = 0.05  # a tail probability this large is ordinary for unrelated pairs: no evidence
P_CERTAIN = 1e-6  # a tail probability this small counts as full evidence
# all-MiniLM-L6-v2 cosine of a query and an unrelated picture's label sentence, and of a query and unrelated
# spoken or written words (bench/picture_vectors.py: 1,752 and 286 unrelated pairs; docs/relevance.md).
PICTURE_NULL = Null(mean=0.120, std=0.080)
WORDS_NULL = Null(mean=0.061, std=0.091)
PICTURE_KINDS = frozenset({"image", "scene"})
TEXT_CEIL = 0.1  # ts_rank_cd (normalisation 32) of a strong word match
TEXT_WEIGHT = 0.6
FOCUS_WEIGHT = 0.1
MIN_TOP_SCORE = 0.4  # best match p ~ 7e-4 under the null: no-answer queries peak at 0.35 (docs/relevance.md)
MIN_SCORE = 0.05  # p ~ 0.03 under the null: partial evidence, listed below a convincing best match
RRF_K = 60
MAX_MOMENTS = 3
SNIPPET_CHARS = 240

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have how i in is it its of on or that the this to was were what when "
    "where which who whom why will with you your me my we our us do does did can".split()
)


class Matched(Protocol):
    """What a reason is written from: a retrieved Candidate, or a Moment that kept its evidence."""

    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def caption(self) -> str: ...
    @property
    def keywords(self) -> str: ...
    @property
    def similarity(self) -> float: ...
    @property
    def text_rank(self) -> float: ...
    @property
    def image_match(self) -> float: ...


def score(candidate: Candidate) -> float:
    vector = vector_evidence(candidate)
    text = min(1.0, candidate.text_rank / TEXT_CEIL) * candidate.text_coverage**2
    evidence = 1.0 - (1.0 - vector) * (1.0 - TEXT_WEIGHT * text) * (1.0 - candidate.image_match)
    return evidence * (1.0 - FOCUS_WEIGHT * (1.0 - _share_of_file(candidate)))


def vector_evidence(candidate: Matched) -> float:
    """The evidence of a segment's cosine similarity to the query, against its kind's null distribution."""
    null = PICTURE_NULL if candidate.kind in PICTURE_KINDS else WORDS_NULL
    return null.evidence(candidate.similarity) if candidate.similarity > 0.0 else 0.0


def _share_of_file(candidate: Candidate) -> float:
    """The share of its file's duration a segment spans; 1 for pictures, pages and undated spans."""
    span = candidate.end_s - candidate.start_s
    if not candidate.duration_s or span <= 0:
        return 1.0
    return min(1.0, span / candidate.duration_s)


def merge(*retrieved: list[Candidate]) -> list[tuple[Candidate, float]]:
    """One entry per segment, with the evidence every retriever found for it, and its reciprocal-rank fusion."""
    fused: dict[int, float] = {}
    merged: dict[int, Candidate] = {}
    for hits in retrieved:
        for rank, hit in enumerate(hits, start=1):
            fused[hit.segment_id] = fused.get(hit.segment_id, 0.0) + 1.0 / (RRF_K + rank)
            seen = merged.get(hit.segment_id)
            merged[hit.segment_id] = (
                hit
                if seen is None
                else replace(
                    seen,
                    similarity=max(seen.similarity, hit.similarity),
                    text_rank=max(seen.text_rank, hit.text_rank),
                    text_coverage=max(seen.text_coverage, hit.text_coverage),
                    image_match=max(seen.image_match, hit.image_match),
                )
            )
    return [(merged[sid], fused[sid]) for sid in merged]


@dataclass(frozen=True, slots=True)
class _Scored:
    candidate: Candidate
    score: float
    fused: float


def neighbour_score(candidate: Candidate) -> float:
    """A neighbour's score for "more like this": its cosine similarity, as there is no query to calibrate against."""
    return min(1.0, max(0.0, candidate.similarity))


def group(
    candidates: Iterable[tuple[Candidate, float]],
    *,
    min_top: float = MIN_TOP_SCORE,
    min_score: float = MIN_SCORE,
    score_of: Callable[[Candidate], float] = score,
) -> list[Hit]:
    """Results grouped by media (best moment first), cut off as described above, ordered by score.

    Equal scores (two pictures that both reach a calibrated ceiling) are ordered by reciprocal-rank fusion,
    which still knows which one each retriever ranked higher.
    """
    by_media: dict[str, list[_Scored]] = {}
    for candidate, fused in candidates:
        scored = _Scored(candidate, score_of(candidate), fused)
        if scored.score >= min_score:
            by_media.setdefault(candidate.media_id, []).append(scored)
    hits: list[tuple[tuple[float, float], Hit]] = []
    for found in by_media.values():
        found.sort(key=lambda s: s.score, reverse=True)
        best = found[0]
        moments = [_moment(s.candidate) for s in found[1 : 1 + MAX_MOMENTS]]
        key = (best.score, max(s.fused for s in found))
        hits.append((key, _hit(best.candidate, score=round(best.score, 4), moments=moments)))
    hits.sort(key=lambda pair: pair[0], reverse=True)
    if not hits or max(hit.score for _, hit in hits) < min_top:
        return []
    return [hit for _, hit in hits]


def listed(candidates: Iterable[Candidate]) -> list[Hit]:
    """Media that match a query's filters when no words are left to rank by, in the given order; each scores 1."""
    return [_hit(c, score=1.0, moments=[]) for c in candidates]


def _hit(first: Candidate, *, score: float, moments: list[Moment]) -> Hit:
    """A media file's hit: `first` is its best moment and carries the file's facts."""
    return Hit(
        media_id=first.media_id,
        score=score,
        best=_moment(first),
        moments=moments,
        taken_at=first.taken_at,
        uploaded_at=first.uploaded_at,
        duration_s=first.duration_s,
        media_kind=first.media_kind,
        filename=first.filename,
        content_type=first.content_type,
    )


def query_terms(query: str) -> list[str]:
    return [w for w in (m.group().lower() for m in _WORD.finditer(query)) if w not in _STOPWORDS and len(w) > 1]


class _Highlighter:
    """Finds the words of a text that match the query's terms, with one regular expression built per query.

    A crude stemmer is enough to highlight "soups" for "soup" or "raining" for "rain": a term longer than four
    letters matches any word starting with all but its last two (at least three) letters, a shorter one only itself.
    """

    def __init__(self, terms: list[str]) -> None:
        stems = [re.escape(t[: max(3, len(t) - 2)]) + r"\w*" if len(t) > 4 else re.escape(t) for t in terms]
        self.pattern = re.compile(rf"\b(?:{'|'.join(stems)})\b", re.IGNORECASE) if stems else None

    def words(self, text: str) -> Iterator[re.Match[str]]:
        return self.pattern.finditer(text) if self.pattern else iter(())


def snippet(text: str, highlighter: _Highlighter) -> str:
    """`text` HTML-escaped and cut around the first matching word, with matching words wrapped in <mark>."""
    first = next(highlighter.words(text), None)
    start = 0
    if first is not None and first.start() > SNIPPET_CHARS // 3:
        start = text.rfind(" ", 0, first.start() - SNIPPET_CHARS // 3) + 1
    end = min(len(text), start + SNIPPET_CHARS)
    piece = text[start:end]
    out: list[str] = ["…" if start else ""]
    cursor = 0
    for match in highlighter.words(piece):
        out.append(html.escape(piece[cursor : match.start()]))
        out.append(f"<mark>{html.escape(match.group())}</mark>")
        cursor = match.end()
    out.append(html.escape(piece[cursor:]))
    out.append("…" if end < len(text) else "")
    return "".join(out)


def _moment(candidate: Candidate) -> Moment:
    """The moment with the evidence `readable` writes its snippet and reason from."""
    return Moment(
        kind=candidate.kind,
        start_s=candidate.start_s,
        end_s=candidate.end_s,
        text=candidate.text,
        snippet="",
        page=candidate.page,
        frame=candidate.frame,
        caption=candidate.caption,
        keywords=candidate.keywords,
        similarity=candidate.similarity,
        text_rank=candidate.text_rank,
        image_match=candidate.image_match,
    )


def readable(hits: list[Hit], *, query: str) -> list[Hit]:
    """The hits with every moment's snippet and reason written for `query` ("": nothing to mark or explain)."""
    terms = _Highlighter(query_terms(query))

    def shown(moment: Moment) -> Moment:
        text = snippet(moment.caption or moment.text, terms)
        why = "" if not query or "<mark>" in text else reason(moment, terms, query=query)
        return replace(moment, snippet=text, reason=why)

    return [replace(hit, best=shown(hit.best), moments=[shown(m) for m in hit.moments]) for hit in hits]


_ARTICLE = re.compile(r"^(?:an?|the)\s+", re.IGNORECASE)
MAX_REASON_WORDS = 4
_MEANING = {"speech": "what was said", "text": "the text in it", "page": "the page's text"}


def concept(candidate: Matched) -> str:
    """What a segment is about in a few words: a picture's caption head ("tabby cat"), else what kind of text."""
    if candidate.caption:
        head = candidate.caption.split(";", 1)[0].removesuffix(" in black and white")
        return _ARTICLE.sub("", head).strip()
    if candidate.kind in _MEANING:
        return _MEANING[candidate.kind]
    return candidate.text.split(";", 1)[0].removeprefix("a photo of ").strip()[:60]


def reason(candidate: Matched, terms: _Highlighter, *, query: str) -> str:
    """Why a moment matched when its snippet marks none of the query's words; names the evidence that did."""
    words = _matched_words(candidate, terms)
    if words and candidate.text_rank > 0:
        return "matched: " + ", ".join(words[:MAX_REASON_WORDS])
    vector = vector_evidence(candidate)
    if candidate.image_match > 0 and candidate.image_match >= vector:
        return f"matched: the picture looks like “{' '.join(query.split())[:60]}”"
    if vector > 0:
        return f"matched: {concept(candidate)}"
    return ""


def _matched_words(candidate: Matched, terms: _Highlighter) -> list[str]:
    """The distinct words of the segment's text and labels that match the query's terms, in order of appearance."""
    found: dict[str, None] = {}
    for source in (candidate.text, candidate.keywords):
        for match in terms.words(source):
            found.setdefault(match.group().lower(), None)
    return list(found)
