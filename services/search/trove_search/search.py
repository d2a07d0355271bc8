"""Search rules: what may be indexed, how a query is validated, retrieved, ranked, cached, paged and enriched."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import asyncpg
import numpy as np
import numpy.typing as npt

from trove_common.db import user_transaction
from trove_common.errors import InvalidArgumentError, NotFoundError
from trove_common.ids import parse_id
from trove_common.metrics import SEARCH_RESULTS, SEARCH_SECONDS
from trove_search import people_repo, ranking, repo, space_repo
from trove_search.batching import QueryBatcher
from trove_search.cache import Lookup, SearchCache, digest
from trove_search.codec import pack_hits, unpack_hits
from trove_search.history import HistoryWriter
from trove_search.models import (
    MEDIA_KINDS,
    NO_FILTERS,
    SEGMENT_KINDS,
    Candidate,
    Face,
    Filters,
    HistoryEntry,
    Hit,
    MediaFacts,
    MediaInfo,
    Segment,
    Space,
    space_name,
)
from trove_search.people import check_faces, cluster
from trove_search.settings import PeopleSettings
from trove_search.shown import ShownMedia, of_hit
from trove_search.spaces import PictureSpace, QueryEncoder, Spaces
from trove_search.understand import PARTS, Understood, split_exclusions, time_zone, understand

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 512
MAX_LIMIT = 100
MAX_SEGMENTS = 10_000
CANDIDATES = 100  # segments fetched from each retriever before fusion
MAX_RESULTS = 200  # media kept per query; pages are cut from this list
MAX_KEPT_NAMES = 4096  # users whose named people are kept in memory
_EPOCH = datetime.fromtimestamp(0, UTC)


@dataclass(frozen=True, slots=True)
class Result:
    hit: Hit
    media: MediaInfo


@dataclass(frozen=True, slots=True)
class Results:
    results: list[Result]
    took_ms: float
    next_cursor: str = ""
    cached: bool = False
    space: str = ""  # the embedding space that answered
    understood: Understood | None = None  # what the query was read as (searches only)


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    limit: int
    cursor: str = ""
    filters: Filters = NO_FILTERS
    sort: str = "relevance"
    tz: str = ""  # IANA time zone the query's dates are read in; empty is UTC
    literal: tuple[str, ...] = ()  # parts of query understanding not to apply ("kinds", "dates", "people", "all")


def understood_query(query: Query, *, now: datetime, people: dict[str, str] | None = None) -> tuple[Query, Understood]:
    """The query with the filters its words name, and what was understood. Explicit filters win: a part the
    request already filters on is not read from the words, which then stay in the text. When every word became a
    filter, the text stays the whole query and understood.text is empty: search lists what passes the filters.
    "-word"s are taken out first (a left-out "-videos" names no kind) and leave out the files that say them."""
    for part in query.literal:
        if part not in (*PARTS, "all"):
            raise InvalidArgumentError(f"literal must be among {', '.join(PARTS)} or all")
    zone = time_zone(query.tz)
    filters = query.filters
    skip = set(PARTS) if "all" in query.literal else set(query.literal)
    if filters.kinds:
        skip.add("kinds")
    if filters.date_from or filters.date_to:
        skip.add("dates")
    if filters.people:
        skip.add("people")
    text, excluded = split_exclusions(query.text)
    found = understand(text, now=now, tz=zone, parts=[p for p in PARTS if p not in skip], people=people)
    if excluded:
        found = replace(found, excluded=excluded)
        filters = replace(filters, excluded=excluded)
    if found.kinds:
        filters = replace(filters, kinds=found.kinds)
    if found.date_from or found.date_to:
        filters = replace(filters, date_field="any", date_from=found.date_from, date_to=found.date_to)
    if found.people:
        filters = replace(filters, people=found.people)
    return replace(query, text=found.text or text, filters=filters), found


def check_query(query: Query) -> str:
    text = query.text.strip()
    if not text:
        raise InvalidArgumentError("q must not be empty")
    if len(query.text) > MAX_QUERY_CHARS:
        raise InvalidArgumentError(f"q must be at most {MAX_QUERY_CHARS} characters")
    _check_limit(query.limit)
    if query.sort not in ("relevance", "date"):
        raise InvalidArgumentError("sort must be relevance or date")
    return text


def _when(value: str, name: str, *, end_of_day: bool) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be an ISO 8601 date or time, like 2024-05-31") from None
    if end_of_day and len(value) == 10:  # a plain date: the whole day counts
        parsed = parsed.replace(hour=23, minute=59, second=59, microsecond=999_999)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_filters(
    *,
    kinds: Sequence[str],
    date_field: str,
    date_from: str,
    date_to: str,
    has_faces: str,
    language: str,
    people: Sequence[str] = (),
) -> Filters:
    """Filters from request strings; a bad value is an InvalidArgumentError naming the parameter."""
    for kind in kinds:
        if kind not in MEDIA_KINDS:
            raise InvalidArgumentError(f"kind must be one of {', '.join(MEDIA_KINDS)}")
    if date_field not in ("", "taken", "uploaded"):
        raise InvalidArgumentError("date_field must be taken or uploaded")
    if has_faces not in ("", "true", "false"):
        raise InvalidArgumentError("has_faces must be true or false")
    if language and not (len(language) == 2 and language.isalpha()):
        raise InvalidArgumentError("language must be a two-letter ISO 639-1 code, like en")
    start = _when(date_from, "from", end_of_day=False)
    end = _when(date_to, "to", end_of_day=True)
    if start and end and start > end:
        raise InvalidArgumentError("from must not be after to")
    return Filters(
        kinds=tuple(sorted(set(kinds))),
        date_field=date_field or "uploaded",
        date_from=start,
        date_to=end,
        has_faces=None if not has_faces else has_faces == "true",
        language=language.lower(),
        people=tuple(sorted({parse_id(p, what="people") for p in people})),
    )


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit must be between 1 and {MAX_LIMIT}")


def _check_segments(segments: list[Segment], dim: int, image_dim: int) -> None:
    if len(segments) > MAX_SEGMENTS:
        raise InvalidArgumentError(f"at most {MAX_SEGMENTS} segments per media file")
    for i, seg in enumerate(segments):
        if seg.kind not in SEGMENT_KINDS:
            raise InvalidArgumentError(f"segments[{i}].kind must be one of {', '.join(SEGMENT_KINDS)}")
        if seg.page < 0 or not 0 <= seg.start_s <= seg.end_s:
            raise InvalidArgumentError(f"segments[{i}] must have 0 <= start_s <= end_s and page >= 0")
        if seg.vector.shape != (dim,) or not np.isfinite(seg.vector).all():
            raise InvalidArgumentError(f"segments[{i}].vector must have {dim} finite values")
        image = seg.image_vector
        if image is not None and (image.shape != (image_dim,) or not np.isfinite(image).all()):
            raise InvalidArgumentError(f"segments[{i}].image_vector must have image_dim ({image_dim}) finite values")


def _cursor(offset: int, request_key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "k": request_key}).encode()).decode().rstrip("=")


def _offset(cursor: str, request_key: str) -> int:
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
        key = data["k"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidArgumentError("cursor is malformed") from None
    if not isinstance(offset, int) or offset < 0 or key != request_key:
        raise InvalidArgumentError("cursor does not belong to this search")
    return offset


class Search:
    """The calling user's segment index."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        spaces: Spaces,
        shown: ShownMedia,
        cache: SearchCache,
        history: HistoryWriter,
        ef_search: int,
        pictures: PictureSpace | None = None,
        people: PeopleSettings | None = None,
        queries: QueryBatcher | None = None,
    ) -> None:
        """Args: queries: embeds the query texts of concurrent searches together (default: one lane)."""
        self._pool = pool
        self._queries = queries or QueryBatcher(lanes=1)
        self._people = people or PeopleSettings()
        self._names: dict[str, tuple[int, dict[str, str]]] = {}  # user id -> (index version, named people)
        self._spaces = spaces
        self._pictures = pictures
        self._shown = shown
        self._cache = cache
        self._history = history
        self._ef_search = ef_search

    async def index(
        self,
        *,
        user_id: str,
        media_id: str,
        model: str,
        dim: int,
        segments: list[Segment],
        facts: MediaFacts,
        image_model: str = "",
        image_dim: int = 0,
        first: int = 0,
        faces: Sequence[Face] = (),
    ) -> int:
        """Index the media's segments (`first` = 0: all of them, or the first chunk) or append a later chunk."""
        media_id = parse_id(media_id, what="media_id")
        if first < 0:
            raise InvalidArgumentError("first must not be negative")
        if not model or not 1 <= dim <= 4096:
            raise InvalidArgumentError("model must be named and dim must be between 1 and 4096")
        if image_model and not 1 <= image_dim <= 4096:
            raise InvalidArgumentError("image_dim must be between 1 and 4096")
        if not image_model and any(seg.image_vector is not None for seg in segments):
            raise InvalidArgumentError("image_model must name the model of the segments' image vectors")
        _check_segments(segments, dim, image_dim)
        check_faces(faces)
        sent = space_name(model, dim)
        vectors = {sent: np.stack([seg.vector for seg in segments]) if segments else np.empty((0, dim), np.float32)}
        texts = [seg.text for seg in segments]
        while True:
            async with self._pool.acquire() as conn:
                for space in await space_repo.live_spaces(conn, lock=False):
                    await self._embed_into(space, texts, vectors)
            async with user_transaction(self._pool, user_id) as conn:
                # Held until commit: a re-index cannot begin or end between this check and the write.
                live = await space_repo.live_spaces(conn, lock=True)
                if all(s.space in vectors for s in live):
                    await repo.replace_segments(
                        conn,
                        user_id=user_id,
                        media_id=media_id,
                        segments=segments,
                        facts=facts,
                        vectors=vectors,
                        image_space=space_name(image_model, image_dim) if image_model else "",
                        append=first > 0,
                    )
                    new_faces = await people_repo.replace_faces(
                        conn, user_id=user_id, media_id=media_id, faces=list(faces), append=first > 0
                    )
                    break
        if new_faces:  # the new faces join their people, or make new ones with faces waiting
            async with user_transaction(self._pool, user_id) as conn:
                await cluster(conn, user_id=user_id, settings=self._people, face_ids=new_faces)
        await self._cache.bump(user_id)
        return len(segments)

    async def _embed_into(self, space: Space, texts: list[str], vectors: dict[str, npt.NDArray[np.float32]]) -> None:
        """The segments' vectors in `space` too, when the caller sent another space's (a switch is under way)."""
        if space.space not in vectors:
            encoder = await self._spaces.encoder(space)
            vectors[space.space] = await encoder.embed(texts) if texts else np.empty((0, space.dim), np.float32)

    async def search(self, *, user_id: str, query: Query) -> Results:
        started = time.perf_counter()
        said = check_query(query)
        # Both round trips at once: the index version (named people, cached lists) and the space searches use.
        version, (space, encoder) = await asyncio.gather(self._cache.version(user_id), self._spaces.active())
        people = None
        if not query.filters.people and not {"people", "all"} & set(query.literal):
            people = await self._named_people(user_id, version)
        query, understood = understood_query(query, now=datetime.now(UTC), people=people)
        text = query.text
        request_key = digest(text, json.dumps(query.filters.as_json(), sort_keys=True), query.sort)
        offset = _offset(query.cursor, request_key)
        # One space for the whole search: the query is embedded by, and compared with, the active space only.
        answered_by = space.space + (f"+{self._pictures.space}" if self._pictures else "")
        known = await self._cache.lookup(
            user_id=user_id,
            version=version,
            space=answered_by,
            request_key=request_key,
            vector_space=space.space,
            text=text,
        )
        cached = known.results
        if cached is not None:
            hits = unpack_hits(cached)
        elif not understood.text:  # every word was a filter ("videos from yesterday"): list what passes them
            hits = await self._matching_filters(user_id, query)
        else:
            hits = await self._rank(user_id=user_id, text=text, query=query, space=space, encoder=encoder, known=known)
            self._cache.keep_results_soon(answered_by, user_id, known.version, request_key, pack_hits(hits))
        # A list of what passes the filters has no words to mark or explain.
        results, more = await self._page(
            user_id, hits, offset=offset, limit=query.limit, query=understood.text and text
        )
        took_ms = 1000 * (time.perf_counter() - started)
        SEARCH_SECONDS.labels(cached=str(cached is not None).lower()).observe(took_ms / 1000)
        SEARCH_RESULTS.observe(len(hits))
        if offset == 0:
            self._history.record(
                user_id,
                HistoryEntry(query=said, filters=query.filters.as_json(), result_count=len(hits), latency_ms=took_ms),
            )
        logger.info("search", extra={"results": len(hits), "cached": cached is not None, "took_ms": round(took_ms, 1)})
        return Results(
            results=results,
            took_ms=took_ms,
            cached=cached is not None,
            next_cursor=_cursor(offset + query.limit, request_key) if more else "",
            space=space.space,
            understood=understood,
        )

    async def _named_people(self, user_id: str, version: int | None) -> dict[str, str]:
        """The user's named people (name -> id), kept in memory per index version: every change to people bumps
        the version, so a search reads them from the database only after a change."""
        kept = self._names.get(user_id)
        if version is not None and kept is not None and kept[0] == version:
            return kept[1]
        async with user_transaction(self._pool, user_id) as conn:
            names = await people_repo.named_people(conn)
        if version is not None:
            self._names.pop(user_id, None)
            self._names[user_id] = (version, names)
            while len(self._names) > MAX_KEPT_NAMES:
                del self._names[next(iter(self._names))]  # the oldest entry
        return names

    async def _rank(
        self,
        *,
        user_id: str,
        text: str,
        query: Query,
        space: Space,
        encoder: QueryEncoder,
        known: Lookup,
    ) -> list[Hit]:
        """Args: known: what the cache held for this search (the query's vector in `space`, if any)."""
        # The query is embedded while the full-text ranking runs, and the vector index is searched as soon as the
        # vector is there; each on its own connection.
        embedding = asyncio.create_task(
            self._query_vector(text, space=space.space, encoder=encoder, known=known.query_vector, asked=True)
        )

        async def nearest() -> list[Candidate]:
            return await self._nearest(user_id, await embedding, space=space.space, dim=space.dim, query=query)

        async def text_matches() -> list[Candidate]:
            async with user_transaction(self._pool, user_id) as conn:
                matches = await repo.text_matches(
                    conn,
                    user_id=user_id,
                    query=text,
                    space=space.space,
                    dim=space.dim,
                    limit=CANDIDATES,
                    filters=query.filters,
                )
            return repo.with_similarity(matches, await embedding)

        retrievers = [nearest(), text_matches()]
        if self._pictures is not None:
            retrievers.append(self._pictures_like(user_id, text, self._pictures, query=query))
        # A person filter already says which media are wanted: the words only order them, nothing is cut off.
        cut = (0.0, 0.0) if query.filters.people else (ranking.MIN_TOP_SCORE, ranking.MIN_SCORE)
        merged = ranking.merge(*await asyncio.gather(*retrievers))
        hits = ranking.group(merged, min_top=cut[0], min_score=cut[1])[:MAX_RESULTS]
        if query.sort == "date":
            hits.sort(key=lambda h: (h.taken_at or h.uploaded_at or _EPOCH, h.score), reverse=True)
        return hits

    async def _matching_filters(self, user_id: str, query: Query) -> list[Hit]:
        async with user_transaction(self._pool, user_id) as conn:
            found = await repo.matching_filters(conn, filters=query.filters, limit=MAX_RESULTS)
        hits = ranking.listed(found)
        if query.sort == "date":
            hits.sort(key=lambda h: (h.taken_at or h.uploaded_at or _EPOCH, h.score), reverse=True)
        return hits

    async def _nearest(
        self, user_id: str, vector: npt.NDArray[np.float32], *, space: str, dim: int, query: Query
    ) -> list[Candidate]:
        ef_search = max(self._ef_search, CANDIDATES)
        async with user_transaction(self._pool, user_id, settings=repo.hnsw_settings(ef_search)) as conn:
            return await repo.nearest(
                conn,
                space=space,
                dim=dim,
                vector=vector,
                limit=CANDIDATES,
                ef_search=ef_search,
                filters=query.filters,
                tuned=True,
            )

    async def _pictures_like(self, user_id: str, text: str, pictures: PictureSpace, *, query: Query) -> list[Candidate]:
        """Pictures and keyframes whose image-text vectors lie closest to the query's, with their calibrated match."""
        vector = await self._query_vector(text, space=pictures.space, encoder=pictures.encoder)
        found = await self._nearest(user_id, vector, space=pictures.space, dim=pictures.encoder.dim, query=query)
        return [replace(c, similarity=0.0, image_match=pictures.match(c.similarity)) for c in found]

    async def _query_vector(
        self,
        text: str,
        *,
        space: str,
        encoder: QueryEncoder,
        known: npt.NDArray[np.float32] | None = None,
        asked: bool = False,
    ) -> npt.NDArray[np.float32]:
        """The query's vector in `space`: cached (`asked`: the cache was read already and held `known`) or embedded."""
        vector = known if asked else await self._cache.query_vector(space, text)
        if vector is None or vector.shape != (encoder.dim,):
            vector = await self._queries.embed(encoder, text)
            self._cache.keep_query_vector_soon(space, text, vector)
        return vector

    async def _page(
        self, user_id: str, hits: list[Hit], *, offset: int, limit: int, query: str
    ) -> tuple[list[Result], bool]:
        """One page of results, readable for `query`, with what results show of each file."""
        page = ranking.readable(hits[offset : offset + limit], query=query)
        media = await self._shown.complete(user_id, {h.media_id: of_hit(h) for h in page})
        return [Result(hit=h, media=media[h.media_id]) for h in page if h.media_id in media], len(hits) > offset + limit

    async def similar(self, *, user_id: str, media_id: str, limit: int) -> Results:
        """Other media whose segments lie closest to this one's average vector."""
        started = time.perf_counter()
        media_id = parse_id(media_id, what="media_id")
        _check_limit(limit)
        async with self._pool.acquire() as conn:
            space = await space_repo.active_space(conn)
        async with user_transaction(self._pool, user_id) as conn:
            center = await repo.media_vector(conn, media_id=media_id, space=space.space, dim=space.dim)
            if center is None:
                raise NotFoundError("media not found, or not analysed yet")
            found = await repo.nearest(
                conn,
                space=space.space,
                dim=space.dim,
                vector=center,
                limit=CANDIDATES,
                ef_search=max(self._ef_search, CANDIDATES),
                exclude_media=media_id,
            )
        # Neighbours are what "more like this" asks for: no query to calibrate a top cut-off against.
        hits = ranking.group(((c, 0.0) for c in found), min_top=0.0, score_of=ranking.neighbour_score)
        results, _ = await self._page(user_id, hits, offset=0, limit=limit, query="")
        return Results(results=results, took_ms=1000 * (time.perf_counter() - started), space=space.space)

    async def delete_media(self, *, user_id: str, media_id: str) -> int:
        media_id = parse_id(media_id, what="media_id")
        async with user_transaction(self._pool, user_id) as conn:
            deleted = await repo.delete_media(conn, user_id=user_id, media_id=media_id)
            await people_repo.delete_empty_people(conn)  # its faces went with it
        await self._cache.bump(user_id)
        return deleted

    async def history(self, *, user_id: str, limit: int) -> list[HistoryEntry]:
        _check_limit(limit)
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.history(conn, limit=limit)

    async def delete_history(self, *, user_id: str) -> int:
        await self._history.flush()
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.delete_history(conn)
