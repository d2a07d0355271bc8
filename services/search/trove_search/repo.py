"""SQL for the segment index and search history; every function runs inside a user transaction (RLS)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import asyncpg
import numpy as np
import numpy.typing as npt

from trove_common.errors import NotFoundError
from trove_search.models import NO_FILTERS, Candidate, Filters, HistoryEntry, MediaFacts, MediaInfo, Segment

_CANDIDATE = """t.segment_id, t.media_id::text AS media_id, t.kind, t.start_s, t.end_s, t.text, t.page,
    t.caption, t.frame, t.keywords, m.taken_at, m.uploaded_at, m.duration_s, m.kind AS media_kind, m.filename,
    m.content_type"""
# The same columns as named in a subquery's output.
_CANDIDATE_COLUMNS = """best.segment_id, best.media_id, best.kind, best.start_s, best.end_s, best.text, best.page,
    best.caption, best.frame, best.keywords, best.taken_at, best.uploaded_at, best.duration_s, best.media_kind,
    best.filename, best.content_type"""


def _filters(filters: Filters, first: int) -> tuple[str, list[Any]]:
    """SQL conditions on `m` (search.media) for the filters, numbering parameters from `first`."""
    clauses: list[str] = []
    args: list[Any] = []

    def param(value: Any) -> str:
        args.append(value)
        return f"${first + len(args) - 1}"

    if filters.kinds:
        clauses.append(f"m.kind = ANY({param(list(filters.kinds))}::text[])")
    column = {"taken": "m.taken_at", "any": "COALESCE(m.taken_at, m.uploaded_at)"}.get(
        filters.date_field, "m.uploaded_at"
    )
    if filters.date_from:
        clauses.append(f"{column} >= {param(filters.date_from)}")
    if filters.date_to:
        clauses.append(f"{column} <= {param(filters.date_to)}")
    if filters.has_faces is not None:
        clauses.append(f"m.has_faces = {param(filters.has_faces)}")
    if filters.language:
        clauses.append(f"m.language = {param(filters.language)}")
    if filters.people:
        # The media shows one of them; in a video, only the moments overlapping a scene they are in.
        clauses.append(
            f"""EXISTS (SELECT 1 FROM search.faces f WHERE f.media_id = t.media_id
                AND f.person_id = ANY({param(list(filters.people))}::uuid[])
                AND (f.end_s <= f.start_s OR t.end_s <= t.start_s OR (f.start_s < t.end_s AND t.start_s < f.end_s)))"""
        )
    if filters.excluded:
        # No segment of the file says one of the words (each stemmed as the index is; plainto_ reads no operators).
        words = param(list(filters.excluded))
        clauses.append(
            f"""NOT EXISTS (SELECT 1 FROM search.media_text x WHERE x.media_id = m.media_id
                AND x.tsv @@ ANY(ARRAY(SELECT plainto_tsquery('english', w) FROM unnest({words}::text[]) w)))"""
        )
    return (" AND " + " AND ".join(clauses)) if clauses else "", args


def _candidate(row: asyncpg.Record | dict[str, Any]) -> Candidate:
    return Candidate(**dict(row))


async def replace_segments(
    conn: asyncpg.Connection,
    *,
    user_id: str,
    media_id: str,
    segments: list[Segment],
    facts: MediaFacts,
    vectors: Mapping[str, npt.NDArray[np.float32]],
    image_space: str = "",
    append: bool = False,
) -> None:
    """Make `segments` the whole index of one media file (a re-run replaces, never duplicates).

    Args:
        append: add `segments` to those indexed already (a later chunk of a long file) instead of replacing them.
        vectors: embedding space -> one row per segment, in the segments' order.
        image_space: the image-text space of the segments' `image_vector`s (segments without one get no row).

    Raises:
        NotFoundError: the file was deleted (an analysis that finished after its owner deleted it).
    """
    await _lock_media(conn, media_id=media_id)
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM search.deleted_media WHERE media_id = $1::uuid)", media_id):
        raise NotFoundError("media was deleted")
    await conn.execute("INSERT INTO search.index_users (user_id) VALUES ($1::uuid) ON CONFLICT DO NOTHING", user_id)
    await conn.execute(
        """INSERT INTO search.media (media_id, user_id, kind, taken_at, uploaded_at, duration_s, has_faces, language,
               filename, content_type)
           VALUES ($1::uuid, $2::uuid, $3, $4, coalesce($5, now()), $6, $7, $8, $9, $10)
           ON CONFLICT (media_id) DO UPDATE SET kind = EXCLUDED.kind, taken_at = EXCLUDED.taken_at,
               uploaded_at = EXCLUDED.uploaded_at, duration_s = EXCLUDED.duration_s,
               has_faces = EXCLUDED.has_faces, language = EXCLUDED.language,
               filename = coalesce(nullif(EXCLUDED.filename, ''), search.media.filename),
               content_type = coalesce(nullif(EXCLUDED.content_type, ''), search.media.content_type)""",
        media_id,
        user_id,
        facts.kind,
        facts.taken_at,
        facts.uploaded_at,
        facts.duration_s,
        facts.has_faces,
        facts.language,
        facts.filename,
        facts.content_type,
    )
    if not append:
        await conn.execute("DELETE FROM search.media_text WHERE media_id = $1::uuid", media_id)
    for i, seg in enumerate(segments):
        segment_id = await conn.fetchval(
            """INSERT INTO search.media_text
                   (user_id, media_id, kind, start_s, end_s, text, page, keywords, caption, frame)
               VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING segment_id""",
            user_id,
            media_id,
            seg.kind,
            seg.start_s,
            seg.end_s,
            seg.text,
            seg.page,
            seg.keywords,
            seg.caption,
            seg.frame,
        )
        own = [(space, rows[i]) for space, rows in vectors.items()]
        if seg.image_vector is not None:
            own.append((image_space, seg.image_vector))
        await conn.executemany(
            """INSERT INTO search.media_embeddings (segment_id, space, user_id, media_id, embedding)
               VALUES ($1, $2, $3::uuid, $4::uuid, $5)""",
            [(segment_id, space, user_id, media_id, vector) for space, vector in own],
        )


def hnsw_settings(ef_search: int) -> dict[str, str]:
    """The transaction-local settings of a nearest-neighbour query (see `nearest`'s `tuned`)."""
    # Iterative index scans keep reading the index until enough rows survive row-level security and the
    # filters, so one user's filtered search is not starved by other users' vectors.
    return {"hnsw.ef_search": str(ef_search), "hnsw.iterative_scan": "relaxed_order"}


async def _tune_hnsw(conn: asyncpg.Connection, ef_search: int) -> None:
    settings = hnsw_settings(ef_search)
    await conn.execute(
        "SELECT set_config('hnsw.ef_search', $1, true), set_config('hnsw.iterative_scan', $2, true)",
        settings["hnsw.ef_search"],
        settings["hnsw.iterative_scan"],
    )


async def nearest(
    conn: asyncpg.Connection,
    *,
    space: str,
    dim: int,
    vector: npt.NDArray[np.float32],
    limit: int,
    ef_search: int,
    filters: Filters = NO_FILTERS,
    exclude_media: str | None = None,
    tuned: bool = False,
) -> list[Candidate]:
    """The `limit` segments closest to `vector` (cosine), through the space's HNSW index.

    Args:
        tuned: the transaction has `hnsw_settings(ef_search)` already (set with the user id: one round trip less).
    """
    if not tuned:
        await _tune_hnsw(conn, ef_search)
    where, args = _filters(filters, first=5)
    rows = await conn.fetch(
        f"""SELECT {_CANDIDATE}, 1 - (e.embedding::vector({int(dim)}) <=> $1) AS similarity
            FROM search.media_embeddings e
            JOIN search.media_text t USING (segment_id)
            JOIN search.media m ON m.media_id = e.media_id
            WHERE e.space = $2 AND e.media_id IS DISTINCT FROM $4::uuid {where}
            ORDER BY e.embedding::vector({int(dim)}) <=> $1
            LIMIT $3""",
        vector,
        space,
        limit,
        exclude_media,
        *args,
    )
    return [_candidate(r) for r in rows]


async def matching_filters(conn: asyncpg.Connection, *, filters: Filters, limit: int) -> list[Candidate]:
    """The first segment of each media that passes the filters, newest (taken, else uploaded) first."""
    where, args = _filters(filters, first=2)
    rows = await conn.fetch(
        f"""SELECT * FROM (
                SELECT DISTINCT ON (t.media_id) {_CANDIDATE}
                FROM search.media_text t
                JOIN search.media m ON m.media_id = t.media_id
                WHERE true {where}
                ORDER BY t.media_id, t.page, t.start_s, t.segment_id
            ) firsts
            ORDER BY COALESCE(taken_at, uploaded_at) DESC NULLS LAST, media_id
            LIMIT $1""",
        limit,
        *args,
    )
    return [_candidate(r) for r in rows]


# A full-text match and its segment's vector in the space (None when it has none), for the caller to compare
# with the query's vector: the text query then need not wait for the query to be embedded.
TextMatch = tuple[Candidate, npt.NDArray[np.float32] | None]


# Two readings of the query's words. ALL: every word (websearch_to_tsquery, which also honours "phrases"); it
# is selective, so ranking stays cheap on a large index. ANY: the OR of the query's stemmed words, for
# natural-language queries ("what soups are on the lunch menu") whose every word no text contains; ranking
# rewards segments that match more of them. Its lexemes come out of to_tsvector quoted, so no user input
# reaches to_tsquery's operator syntax. The third value holds each of the query's words on its own, to count the
# share of them a segment contains: one word of "woman in military uniform" in a list of labels ranks like all
# three (ts_rank_cd weighs matches, not misses). They are computed once, in a materialised CTE, and compared as
# plain values: under row-level security only a leakproof condition (`tsv @@ <value>`, see trove_stack.postgres)
# may use the GIN index, and a condition that still called to_tsquery() would scan every segment of the user.
#
# A word shared by thousands of segments says little about any one of them, and ranking every such segment is
# what made full-text search grow with the library. So each reading ranks a bounded set of segments: the first
# ALL_SCANNED that contain every word, and the first ANY_SCANNED_PER_WORD that contain each word (a rare word's
# segments are all there; a common word contributes a sample). The filters apply while scanning, so a filtered
# search is never starved by segments it would drop. Segments with every word rank first (by the ALL reading),
# then the others by the ANY reading, in one statement.
ALL_SCANNED = 1000
ANY_SCANNED_PER_WORD = 100

_TEXT_MATCHES = """WITH q AS MATERIALIZED (
        SELECT websearch_to_tsquery('english', $1::text) AS all_words,
            to_tsquery('simple', coalesce(nullif(array_to_string(lexemes, ' | '), ''), 'x_no_words_x')) AS any_word,
            ARRAY(SELECT to_tsquery('simple', lexeme) FROM unnest(lexemes) AS lexeme) AS words
        FROM (SELECT ARRAY(SELECT quote_literal(lexeme) FROM unnest(to_tsvector('english', $1::text))) AS lexemes) l
    ),
    scanned AS (
        (SELECT {candidate}, t.tsv, true AS has_all, ts_rank_cd(t.tsv, q.all_words, 32) AS text_rank
         FROM q, search.media_text t JOIN search.media m ON m.media_id = t.media_id
         WHERE t.user_id = $4::uuid AND t.tsv @@ q.all_words {where} LIMIT {all_scanned})
        UNION ALL
        (SELECT per_word.* FROM q CROSS JOIN unnest(q.words) w CROSS JOIN LATERAL (
            SELECT {candidate}, t.tsv, false AS has_all, ts_rank_cd(t.tsv, q.any_word, 32) AS text_rank
            FROM search.media_text t JOIN search.media m ON m.media_id = t.media_id
            WHERE t.user_id = $4::uuid AND t.tsv @@ w {where} LIMIT {per_word}) per_word
         WHERE cardinality(q.words) > 1)
    ),
    distinct_segments AS (  -- a segment found by both readings is ranked as one with every word
        SELECT DISTINCT ON (segment_id) * FROM scanned ORDER BY segment_id, has_all DESC
    )
    SELECT {columns}, best.text_rank, best.text_coverage, best.has_all, e.embedding::vector({dim}) AS embedding
    FROM (
        SELECT s.*, c.text_coverage
        FROM distinct_segments s CROSS JOIN q
        CROSS JOIN LATERAL (
            SELECT count(*)::float8 / greatest(cardinality(q.words), 1) AS text_coverage
            FROM unnest(q.words) w WHERE s.tsv @@ w
        ) c
        ORDER BY s.has_all DESC, s.text_rank * c.text_coverage DESC, s.segment_id
        LIMIT $3
    ) best
    LEFT JOIN search.media_embeddings e ON e.segment_id = best.segment_id AND e.space = $2
    ORDER BY best.has_all DESC, best.text_rank * best.text_coverage DESC, best.segment_id"""


async def text_matches(
    conn: asyncpg.Connection,
    *,
    user_id: str,
    query: str,
    space: str,
    dim: int,
    limit: int,
    filters: Filters = NO_FILTERS,
) -> list[TextMatch]:
    """The `limit` segments of `user_id` (named as well as enforced by row-level security: a sharded database
    routes by it) whose text best matches the query's words, with their vectors: those containing all the words
    first, then those with any of them."""
    where, args = _filters(filters, first=5)
    rows = await conn.fetch(
        _TEXT_MATCHES.format(
            where=where,
            all_scanned=ALL_SCANNED,
            per_word=ANY_SCANNED_PER_WORD,
            dim=int(dim),
            candidate=_CANDIDATE,
            columns=_CANDIDATE_COLUMNS,
        ),
        query,
        space,
        limit,
        user_id,
        *args,
    )
    found: list[TextMatch] = []
    for r in rows:
        fields = dict(r)
        embedding = fields.pop("embedding")
        del fields["has_all"]
        found.append((Candidate(**fields), None if embedding is None else embedding.to_numpy().astype(np.float32)))
    return found


def with_similarity(matches: list[TextMatch], vector: npt.NDArray[np.float32]) -> list[Candidate]:
    """The matches with their cosine similarity to `vector` (0 for a segment without a vector)."""
    have = [i for i, (_, e) in enumerate(matches) if e is not None]
    if not have:
        return [c for c, _ in matches]
    # One matrix product for all of them: a hundred small numpy calls cost more than the arithmetic.
    stacked = np.stack([e for _, e in matches if e is not None])
    norms = np.linalg.norm(stacked, axis=1)
    norms[norms == 0] = 1.0
    similarities = (stacked @ vector) / (norms * (float(np.linalg.norm(vector)) or 1.0))
    found = [c for c, _ in matches]
    for i, similarity in zip(have, similarities.tolist(), strict=True):
        found[i] = replace(found[i], similarity=similarity)
    return found


async def media_vector(
    conn: asyncpg.Connection, *, media_id: str, space: str, dim: int
) -> npt.NDArray[np.float32] | None:
    """The mean of one media file's segment vectors: what the whole file is about."""
    value = await conn.fetchval(
        f"""SELECT avg(embedding::vector({int(dim)})) FROM search.media_embeddings
            WHERE media_id = $1::uuid AND space = $2""",
        media_id,
        space,
    )
    return None if value is None else np.asarray(value.to_numpy(), dtype=np.float32)


async def _lock_media(conn: asyncpg.Connection, *, media_id: str) -> None:
    """Held until the transaction ends: a delete and an index of the same file take turns, so neither slips
    between the other's check and write."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('search.media'), hashtext($1))", media_id)


async def delete_media(conn: asyncpg.Connection, *, user_id: str, media_id: str) -> int:
    """Removes every segment (and, by cascade, vector and face) of one media file and remembers the file as
    deleted, so it is never indexed again; returns how many segments went. Deleting twice is no error."""
    await _lock_media(conn, media_id=media_id)
    await conn.execute(
        "INSERT INTO search.deleted_media (media_id, user_id) VALUES ($1::uuid, $2::uuid) ON CONFLICT DO NOTHING",
        media_id,
        user_id,
    )
    result: str = await conn.execute("DELETE FROM search.media_text WHERE media_id = $1::uuid", media_id)
    await conn.execute("DELETE FROM search.media WHERE media_id = $1::uuid", media_id)
    return int(result.split()[-1])


async def fill_shown(conn: asyncpg.Connection, *, media: Mapping[str, MediaInfo]) -> None:
    """Keep what results show of files indexed before search kept it (their file name is still '')."""
    await conn.executemany(
        """UPDATE search.media SET filename = $2, content_type = $3
           WHERE media_id = $1::uuid AND filename = ''""",
        [(media_id, info.filename, info.content_type) for media_id, info in media.items()],
    )


async def add_history(conn: asyncpg.Connection, *, user_id: str, entries: list[HistoryEntry]) -> None:
    await conn.executemany(
        """INSERT INTO search.search_history (user_id, query, filters, result_count, latency_ms)
           VALUES ($1::uuid, $2, $3::jsonb, $4, $5)""",
        [(user_id, e.query, json.dumps(e.filters), e.result_count, e.latency_ms) for e in entries],
    )


async def history(conn: asyncpg.Connection, *, limit: int) -> list[HistoryEntry]:
    rows = await conn.fetch(
        """SELECT query, filters, result_count, latency_ms, created_at FROM search.search_history
           ORDER BY created_at DESC, search_id DESC LIMIT $1""",
        limit,
    )
    return [
        HistoryEntry(
            query=r["query"],
            filters=json.loads(r["filters"]),
            result_count=r["result_count"],
            latency_ms=r["latency_ms"],
            created_at=r["created_at"],
        )
        for r in rows
    ]


async def delete_history(conn: asyncpg.Connection) -> int:
    result: str = await conn.execute("DELETE FROM search.search_history")
    return int(result.split()[-1])
