"""SQL for the segment index; every function runs inside a user transaction (RLS)."""

from __future__ import annotations

import asyncpg
import numpy as np
import numpy.typing as npt

from trove_search.models import Hit, Segment


async def replace_segments(
    conn: asyncpg.Connection, *, user_id: str, media_id: str, space: str, segments: list[Segment]
) -> None:
    """Make `segments` the whole index of one media file (a re-run replaces, never duplicates)."""
    await conn.execute("DELETE FROM search.media_text WHERE media_id = $1::uuid", media_id)
    for seg in segments:
        segment_id = await conn.fetchval(
            """INSERT INTO search.media_text (user_id, media_id, kind, start_s, end_s, text, page)
               VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7) RETURNING segment_id""",
            user_id,
            media_id,
            seg.kind,
            seg.start_s,
            seg.end_s,
            seg.text,
            seg.page,
        )
        await conn.execute(
            """INSERT INTO search.media_embeddings (segment_id, space, user_id, media_id, embedding)
               VALUES ($1, $2, $3::uuid, $4::uuid, $5)""",
            segment_id,
            space,
            user_id,
            media_id,
            seg.vector,
        )


async def nearest(
    conn: asyncpg.Connection, *, space: str, dim: int, vector: npt.NDArray[np.float32], limit: int, ef_search: int
) -> list[Hit]:
    """The `limit` segments closest to `vector` by cosine distance, through the space's HNSW index.

    Iterative index scans keep reading the index until enough rows survive the row-level-security filter,
    so one user's search is not starved by other users' vectors.
    """
    await conn.execute("SELECT set_config('hnsw.ef_search', $1, true)", str(ef_search))
    await conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
    rows = await conn.fetch(
        f"""SELECT e.media_id::text AS media_id, t.kind, t.start_s, t.end_s, t.text, t.page,
                   (e.embedding::vector({int(dim)}) <=> $1) AS distance
            FROM search.media_embeddings e JOIN search.media_text t USING (segment_id)
            WHERE e.space = $2
            ORDER BY e.embedding::vector({int(dim)}) <=> $1
            LIMIT $3""",
        vector,
        space,
        limit,
    )
    return [
        Hit(
            media_id=r["media_id"],
            score=max(0.0, 1.0 - float(r["distance"])),
            kind=r["kind"],
            start_s=r["start_s"],
            end_s=r["end_s"],
            text=r["text"],
            page=r["page"],
        )
        for r in rows
    ]


async def delete_media(conn: asyncpg.Connection, *, media_id: str) -> int:
    """Removes every segment (and, by cascade, vector) of one media file; returns how many."""
    result: str = await conn.execute("DELETE FROM search.media_text WHERE media_id = $1::uuid", media_id)
    return int(result.split()[-1])
