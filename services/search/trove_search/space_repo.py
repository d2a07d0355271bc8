"""SQL for embedding spaces and re-indexing; vector and segment queries run inside a user transaction (RLS)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import asyncpg
import numpy as np
import numpy.typing as npt

from trove_search.models import Space

_SPACE = (
    "space, model, dim, model_dir, state, segments_total, segments_done, started_at, finished_at, last_error, "
    "source::text AS source"
)
# pgvector's HNSW indexes take vectors of at most 2000 dimensions; larger spaces are searched exactly.
HNSW_MAX_DIM = 2000


def _space(row: asyncpg.Record) -> Space:
    return Space(**dict(row))


async def get_space(conn: asyncpg.Connection, space: str) -> Space | None:
    row = await conn.fetchrow(f"SELECT {_SPACE} FROM search.embedding_spaces WHERE space = $1", space)
    return None if row is None else _space(row)


async def active_space(conn: asyncpg.Connection) -> Space:
    row = await conn.fetchrow(f"SELECT {_SPACE} FROM search.embedding_spaces WHERE state = 'active'")
    assert row is not None, "migration 004 makes one space active and activate() keeps one"
    return _space(row)


async def live_spaces(conn: asyncpg.Connection, *, lock: bool) -> list[Space]:
    """The active space and the one being built.

    With `lock`, the active row stays locked (FOR SHARE) until the transaction ends. A re-index begins and ends
    by locking it FOR UPDATE: index writes in flight finish first, and later ones see the new set of spaces, so
    every segment written while a space is building gets a vector in it. The spaces are read by a statement
    after the lock's, whose snapshot includes a change committed while the lock was awaited.
    """
    while lock and not await conn.fetchval("SELECT true FROM search.embedding_spaces WHERE state = 'active' FOR SHARE"):
        pass  # the active row changed while awaited; lock the new one
    rows = await conn.fetch(
        f"SELECT {_SPACE} FROM search.embedding_spaces WHERE state IN ('active', 'building') ORDER BY space"
    )
    return [_space(r) for r in rows]


async def record_space(
    conn: asyncpg.Connection, *, space: str, model: str, dim: int, model_dir: str | None, source: str | None = None
) -> None:
    """Remember a space and where its model is (a folder, or a server's `source` JSON), so any replica can load it."""
    await conn.execute(
        """INSERT INTO search.embedding_spaces (space, model, dim, model_dir, source, state)
           VALUES ($1, $2, $3, $4, $5::jsonb, 'inactive')
           ON CONFLICT (space) DO UPDATE SET model_dir = EXCLUDED.model_dir, source = EXCLUDED.source""",
        space,
        model,
        dim,
        model_dir,
        source,
    )


async def begin_build(conn: asyncpg.Connection, space: str) -> None:
    """Make `space` the building one (another building space goes inactive); call inside a transaction."""
    await conn.execute("SELECT 1 FROM search.embedding_spaces WHERE state = 'active' FOR UPDATE")
    await conn.execute(
        "UPDATE search.embedding_spaces SET state = 'inactive', updated_at = now() WHERE state = 'building'"
    )
    await conn.execute(
        """UPDATE search.embedding_spaces SET state = 'building', started_at = now(), finished_at = NULL,
               last_error = '', updated_at = now()
           WHERE space = $1 AND state <> 'active'""",
        space,
    )


async def abandon_building(conn: asyncpg.Connection, *, keep: str) -> None:
    """A space left building by an earlier configuration stops being filled (its vectors stay)."""
    await conn.execute(
        """UPDATE search.embedding_spaces SET state = 'inactive', updated_at = now()
           WHERE state = 'building' AND space <> $1""",
        keep,
    )


async def set_progress(conn: asyncpg.Connection, space: str, *, total: int, done: int) -> None:
    await conn.execute(
        """UPDATE search.embedding_spaces SET segments_total = $2, segments_done = $3, updated_at = now()
           WHERE space = $1""",
        space,
        total,
        done,
    )


async def add_done(conn: asyncpg.Connection, space: str, count: int) -> None:
    await conn.execute(
        """UPDATE search.embedding_spaces SET segments_done = segments_done + $2, updated_at = now()
           WHERE space = $1""",
        space,
        count,
    )


async def record_error(conn: asyncpg.Connection, space: str, error: str) -> None:
    await conn.execute(
        "UPDATE search.embedding_spaces SET last_error = $2, updated_at = now() WHERE space = $1", space, error[:2000]
    )


async def activate(conn: asyncpg.Connection, space: str) -> None:
    """Make the building `space` the one searches use, in the caller's transaction."""
    await conn.execute("SELECT 1 FROM search.embedding_spaces WHERE state IN ('active', 'building') FOR UPDATE")
    await conn.execute(
        "UPDATE search.embedding_spaces SET state = 'inactive', updated_at = now() WHERE state = 'active'"
    )
    await conn.execute(
        """UPDATE search.embedding_spaces SET state = 'active', finished_at = now(), updated_at = now()
           WHERE space = $1 AND state = 'building'""",
        space,
    )


async def index_users(conn: asyncpg.Connection) -> list[str]:
    return [str(r["user_id"]) for r in await conn.fetch("SELECT user_id FROM search.index_users ORDER BY user_id")]


async def has_index_users(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM search.index_users)"))


async def count_segments(conn: asyncpg.Connection, space: str) -> tuple[int, int]:
    """The user's segments, and how many of them have a vector in `space`."""
    row = await conn.fetchrow(
        """SELECT count(*) AS total, count(e.segment_id) AS done FROM search.media_text t
           LEFT JOIN search.media_embeddings e ON e.segment_id = t.segment_id AND e.space = $1""",
        space,
    )
    assert row is not None
    return int(row["total"]), int(row["done"])


async def missing_segments(conn: asyncpg.Connection, space: str, *, limit: int) -> list[tuple[int, str]]:
    """Up to `limit` of the user's segments without a vector in `space`: (segment id, text to embed)."""
    rows = await conn.fetch(
        """SELECT t.segment_id, t.text FROM search.media_text t
           WHERE NOT EXISTS (SELECT 1 FROM search.media_embeddings e WHERE e.segment_id = t.segment_id AND e.space = $1)
           ORDER BY t.segment_id LIMIT $2""",
        space,
        limit,
    )
    return [(r["segment_id"], r["text"]) for r in rows]


async def add_vectors(
    conn: asyncpg.Connection, space: str, *, segment_ids: Sequence[int], vectors: npt.NDArray[np.float32]
) -> int:
    """Store one vector per segment in `space`; segments deleted meanwhile are skipped. Returns how many stored."""
    stored = 0
    for segment_id, vector in zip(segment_ids, vectors, strict=True):
        result: str = await conn.execute(
            """INSERT INTO search.media_embeddings (segment_id, space, user_id, media_id, embedding)
               SELECT segment_id, $2, user_id, media_id, $3 FROM search.media_text WHERE segment_id = $1
               ON CONFLICT DO NOTHING""",
            segment_id,
            space,
            vector,
        )
        stored += int(result.split()[-1])
    return stored


async def ensure_hnsw_index(conn: asyncpg.Connection, space: str, dim: int) -> None:
    """A partial HNSW index over the space's vectors unless it has one (call outside a transaction: CONCURRENTLY)."""
    if dim > HNSW_MAX_DIM:
        return
    literal = await conn.fetchval("SELECT quote_literal($1::text)", space)
    indexed = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = 'search' AND tablename = 'media_embeddings'
               AND indexdef LIKE '%USING hnsw%' AND position($1 || '::text' IN indexdef) > 0)""",
        literal,
    )
    if indexed:  # e.g. the built-in model's, made by migration 001
        return
    name = "media_embeddings_" + hashlib.sha256(space.encode()).hexdigest()[:16] + "_hnsw"
    await conn.execute(
        f"""CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON search.media_embeddings
            USING hnsw ((embedding::vector({int(dim)})) vector_cosine_ops) WHERE space = {literal}"""
    )
