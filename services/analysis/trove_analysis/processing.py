"""SQL for analysis.processing_jobs (one row per media x stage) and analysis.dead_letters.

Functions taking a connection run inside a user transaction (RLS); `all_users_transaction` is for the admin
routes, which the gateway allows only to callers with the `admin` claim.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from trove_analysis.models import DeadLetter, StageJob


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


async def plan(conn: asyncpg.Connection, *, media_id: str, user_id: str, stages: Sequence[str]) -> None:
    """Rows for `stages` in this order; queued rows of stages no longer planned (e.g. no audio track) go."""
    await conn.executemany(
        """INSERT INTO analysis.processing_jobs (media_id, stage, user_id, position) VALUES ($1::uuid, $2, $3::uuid, $4)
           ON CONFLICT (media_id, stage) DO UPDATE SET position = EXCLUDED.position""",
        [(media_id, stage, user_id, i) for i, stage in enumerate(stages)],
    )
    await conn.execute(
        """DELETE FROM analysis.processing_jobs
           WHERE media_id = $1::uuid AND status = 'queued' AND NOT (stage = ANY($2::text[]))""",
        media_id,
        list(stages),
    )


async def jobs(conn: asyncpg.Connection, *, media_id: str) -> list[StageJob]:
    rows = await conn.fetch(
        """SELECT stage, status, attempts, errors, last_error, cost_s, started_at, finished_at
           FROM analysis.processing_jobs WHERE media_id = $1::uuid ORDER BY position""",
        media_id,
    )
    return [
        StageJob(
            stage=r["stage"],
            status=r["status"],
            attempts=r["attempts"],
            errors=json.loads(r["errors"]),
            last_error=r["last_error"],
            cost_s=r["cost_s"],
            started_at=_iso(r["started_at"]),
            finished_at=_iso(r["finished_at"]),
        )
        for r in rows
    ]


async def start(conn: asyncpg.Connection, *, media_id: str, stage: str) -> None:
    await conn.execute(
        """UPDATE analysis.processing_jobs SET status = 'running', attempts = attempts + 1, started_at = now()
           WHERE media_id = $1::uuid AND stage = $2""",
        media_id,
        stage,
    )


async def mark_queued(conn: asyncpg.Connection, *, media_id: str, stage: str) -> None:
    """A running stage handed back unfinished (its worker is stopping): queued again, the try not counted."""
    await conn.execute(
        """UPDATE analysis.processing_jobs SET status = 'queued'
           WHERE media_id = $1::uuid AND stage = $2 AND status = 'running'""",
        media_id,
        stage,
    )


async def succeed(conn: asyncpg.Connection, *, media_id: str, stage: str, cost_s: float) -> None:
    await conn.execute(
        """UPDATE analysis.processing_jobs SET status = 'succeeded', cost_s = $3, finished_at = now()
           WHERE media_id = $1::uuid AND stage = $2""",
        media_id,
        stage,
        cost_s,
    )


async def fail(conn: asyncpg.Connection, *, media_id: str, stage: str, error: str, status: str) -> list[dict[str, Any]]:
    """Append a try's error to the row's history and set its status; returns the history."""
    entry = {"error": error, "at": datetime.now(UTC).isoformat()}
    raw = await conn.fetchval(
        """UPDATE analysis.processing_jobs
           SET status = $3, last_error = $4, errors = errors || jsonb_build_array($5::jsonb),
               finished_at = CASE WHEN $3 = 'queued' THEN NULL ELSE now() END
           WHERE media_id = $1::uuid AND stage = $2 RETURNING errors""",
        media_id,
        stage,
        status,
        error,
        json.dumps(entry),
    )
    history: list[dict[str, Any]] = json.loads(raw) if raw is not None else [entry]
    return history


async def mark(conn: asyncpg.Connection, *, media_id: str, stage: str, status: str) -> None:
    await conn.execute(
        """UPDATE analysis.processing_jobs SET status = $3, finished_at = now()
           WHERE media_id = $1::uuid AND stage = $2""",
        media_id,
        stage,
        status,
    )


async def bury(
    conn: asyncpg.Connection, *, media_id: str, user_id: str, stage: str, job: dict[str, Any], errors: list[Any]
) -> str:
    """A dead letter for a stage that used up its tries; returns its id."""
    dead_letter_id = await conn.fetchval(
        """INSERT INTO analysis.dead_letters (media_id, stage, user_id, job, errors)
           VALUES ($1::uuid, $2, $3::uuid, $4::jsonb, $5::jsonb) RETURNING dead_letter_id""",
        media_id,
        stage,
        user_id,
        json.dumps(job),
        json.dumps(errors),
    )
    return str(dead_letter_id)


async def reset(conn: asyncpg.Connection, *, media_id: str, stage: str) -> None:
    """A requeued stage starts over with a fresh budget of tries (the old ones stay in its dead letter)."""
    await conn.execute(
        """UPDATE analysis.processing_jobs SET status = 'queued', errors = '[]', last_error = '', finished_at = NULL
           WHERE media_id = $1::uuid AND stage = $2""",
        media_id,
        stage,
    )


async def delete_media(conn: asyncpg.Connection, *, media_id: str) -> None:
    await conn.execute("DELETE FROM analysis.processing_jobs WHERE media_id = $1::uuid", media_id)


@asynccontextmanager
async def all_users_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A transaction that sees every user's dead letters (the admin routes)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT set_config('app.all_users', 'on', true)")
        yield conn


def _dead_letter(r: asyncpg.Record) -> DeadLetter:
    return DeadLetter(
        dead_letter_id=str(r["dead_letter_id"]),
        media_id=str(r["media_id"]),
        user_id=str(r["user_id"]),
        stage=r["stage"],
        job=json.loads(r["job"]),
        errors=json.loads(r["errors"]),
        created_at=_iso(r["created_at"]),
        requeued_at=_iso(r["requeued_at"]),
    )


_DEAD_LETTER_COLUMNS = "dead_letter_id, media_id, user_id, stage, job, errors, created_at, requeued_at"


async def dead_letters(conn: asyncpg.Connection, *, limit: int) -> list[DeadLetter]:
    """Dead letters not requeued yet, oldest first."""
    rows = await conn.fetch(
        f"""SELECT {_DEAD_LETTER_COLUMNS} FROM analysis.dead_letters WHERE requeued_at IS NULL
            ORDER BY created_at LIMIT $1""",
        limit,
    )
    return [_dead_letter(r) for r in rows]


async def claim_requeue(conn: asyncpg.Connection, *, dead_letter_id: str) -> DeadLetter | None:
    """Mark a dead letter requeued; None when it was requeued already (so concurrent requeues run it once)."""
    row = await conn.fetchrow(
        f"""UPDATE analysis.dead_letters SET requeued_at = now()
            WHERE dead_letter_id = $1::uuid AND requeued_at IS NULL RETURNING {_DEAD_LETTER_COLUMNS}""",
        dead_letter_id,
    )
    return _dead_letter(row) if row is not None else None


async def dead_letter_exists(conn: asyncpg.Connection, *, dead_letter_id: str) -> bool:
    found = await conn.fetchval("SELECT 1 FROM analysis.dead_letters WHERE dead_letter_id = $1::uuid", dead_letter_id)
    return found is not None
