"""Full-text search must use its GIN index under row-level security, or it scans every segment of the user."""

from __future__ import annotations

import uuid

import asyncpg

from trove_stack.infra import Infra, ServiceGroup


async def test_the_text_condition_uses_the_gin_index_under_row_level_security(
    infra: Infra, services: ServiceGroup
) -> None:
    conn = await asyncpg.connect(infra.dsns["search"])
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', $1, true)", str(uuid.uuid4()))
            # Tiny test tables would be scanned on cost alone; forbid that so only RLS could force a scan.
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(
                r[0]
                for r in await conn.fetch(
                    "EXPLAIN SELECT segment_id FROM search.media_text WHERE tsv @@ $1::tsquery", "'cat' | 'dog'"
                )
            )
    finally:
        await conn.close()
    assert "media_text_tsv" in plan, plan
