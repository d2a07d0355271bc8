"""SQL for analysis.stage_results; every function runs inside a user transaction (RLS)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from trove_analysis.models import StageResult


async def save_stage(
    conn: asyncpg.Connection,
    *,
    media_id: str,
    user_id: str,
    stage: str,
    provider: str,
    status: str,
    result: dict[str, Any],
    error: str,
    duration_s: float,
) -> None:
    """Record a stage's outcome; a re-run of the same stage and provider replaces the earlier row."""
    await conn.execute(
        """INSERT INTO analysis.stage_results (media_id, stage, provider, user_id, status, result, error, duration_s)
           VALUES ($1::uuid, $2, $3, $4::uuid, $5, $6::jsonb, $7, $8)
           ON CONFLICT (media_id, stage, provider) DO UPDATE
           SET status = EXCLUDED.status, result = EXCLUDED.result, error = EXCLUDED.error,
               duration_s = EXCLUDED.duration_s, finished_at = now()""",
        media_id,
        stage,
        provider,
        user_id,
        status,
        json.dumps(result),
        error,
        duration_s,
    )


async def stages(conn: asyncpg.Connection, *, media_id: str) -> list[StageResult]:
    rows = await conn.fetch(
        """SELECT stage, provider, status, result, error, finished_at FROM analysis.stage_results
           WHERE media_id = $1::uuid ORDER BY finished_at""",
        media_id,
    )
    return [
        StageResult(
            stage=r["stage"],
            provider=r["provider"],
            status=r["status"],
            result=json.loads(r["result"]),
            error=r["error"],
            finished_at=r["finished_at"].isoformat(),
        )
        for r in rows
    ]


async def delete_media(conn: asyncpg.Connection, *, media_id: str) -> None:
    await conn.execute("DELETE FROM analysis.stage_results WHERE media_id = $1::uuid", media_id)
