"""Search rules: what may be indexed, how a query is validated, ranked, grouped by media and enriched."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import numpy as np
import numpy.typing as npt

from trove_common.db import user_transaction
from trove_common.errors import InvalidArgumentError
from trove_search import repo
from trove_search.models import SEGMENT_KINDS, Hit, MediaInfo, Segment, space_name

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 512
MAX_LIMIT = 100
MAX_SEGMENTS = 10_000
# Segments fetched per result wanted: several segments of one media collapse into one result.
OVERFETCH = 5

# Metadata of the caller's media among the given ids; media the caller no longer has are absent.
LookupMedia = Callable[[list[str]], Awaitable[dict[str, MediaInfo]]]


class QueryEncoder(Protocol):
    model_name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


@dataclass(frozen=True, slots=True)
class Result:
    hit: Hit
    media: MediaInfo


@dataclass(frozen=True, slots=True)
class Results:
    results: list[Result]
    took_ms: float


def check_query(query: str, limit: int) -> str:
    text = query.strip()
    if not text:
        raise InvalidArgumentError("q must not be empty")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidArgumentError(f"q must be at most {MAX_QUERY_CHARS} characters")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit must be between 1 and {MAX_LIMIT}")
    return text


def _check_segments(segments: list[Segment], dim: int) -> None:
    if len(segments) > MAX_SEGMENTS:
        raise InvalidArgumentError(f"at most {MAX_SEGMENTS} segments per media file")
    for i, seg in enumerate(segments):
        if seg.kind not in SEGMENT_KINDS:
            raise InvalidArgumentError(f"segments[{i}].kind must be one of {', '.join(SEGMENT_KINDS)}")
        if seg.page < 0:
            raise InvalidArgumentError(f"segments[{i}].page must be >= 0")
        if not 0 <= seg.start_s <= seg.end_s:
            raise InvalidArgumentError(f"segments[{i}] must have 0 <= start_s <= end_s")
        if seg.vector.shape != (dim,) or not np.isfinite(seg.vector).all():
            raise InvalidArgumentError(f"segments[{i}].vector must have {dim} finite values")


class Search:
    """The calling user's segment index."""

    def __init__(self, *, pool: asyncpg.Pool, encoder: QueryEncoder, lookup: LookupMedia, ef_search: int) -> None:
        self._pool = pool
        self._encoder = encoder
        self._lookup = lookup
        self._ef_search = ef_search

    async def index(self, *, user_id: str, media_id: str, model: str, dim: int, segments: list[Segment]) -> int:
        media_id = _media_uuid(media_id)
        if not model or not 1 <= dim <= 4096:
            raise InvalidArgumentError("model must be named and dim must be between 1 and 4096")
        _check_segments(segments, dim)
        async with user_transaction(self._pool, user_id) as conn:
            await repo.replace_segments(
                conn, user_id=user_id, media_id=media_id, space=space_name(model, dim), segments=segments
            )
        return len(segments)

    async def search(self, *, user_id: str, query: str, limit: int) -> Results:
        started = time.perf_counter()
        text = check_query(query, limit)
        vector = (await self._encoder.embed([text]))[0]
        async with user_transaction(self._pool, user_id) as conn:
            hits = await repo.nearest(
                conn,
                space=space_name(self._encoder.model_name, self._encoder.dim),
                dim=self._encoder.dim,
                vector=vector,
                limit=limit * OVERFETCH,
                ef_search=max(self._ef_search, limit * OVERFETCH),
            )
        best: dict[str, Hit] = {}
        for hit in hits:  # already best first
            best.setdefault(hit.media_id, hit)
        media = await self._lookup(list(best)) if best else {}
        results = [Result(hit=h, media=media[h.media_id]) for h in best.values() if h.media_id in media][:limit]
        took_ms = 1000 * (time.perf_counter() - started)
        logger.info("search", extra={"results": len(results), "took_ms": round(took_ms, 1)})
        return Results(results=results, took_ms=took_ms)

    async def delete_media(self, *, user_id: str, media_id: str) -> int:
        media_id = _media_uuid(media_id)
        async with user_transaction(self._pool, user_id) as conn:
            return await repo.delete_media(conn, media_id=media_id)


def _media_uuid(media_id: str) -> str:
    try:
        return str(uuid.UUID(media_id))
    except ValueError:
        raise InvalidArgumentError("media_id must be a UUID") from None
