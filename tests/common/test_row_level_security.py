"""Row-level security seen directly in SQL: a service role sees only the rows of the user in app.user_id."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
from support import DEV_MEDIA, Api

from trove_stack.infra import Infra

TABLES = {
    "ingest": ("ingest.uploads", "ingest.media_files"),
    "analysis": ("analysis.stage_results", "analysis.processing_jobs"),
    "search": ("search.media_text", "search.media_embeddings"),
    "billing": ("billing.users",),
}


async def _count(dsn: str, table: str, user_id: str | None, *, all_users: bool = False) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            if user_id is not None:
                await conn.execute("SELECT set_config('app.user_id', $1, true)", user_id)
            if all_users:
                await conn.execute("SELECT set_config('app.all_users', 'on', true)")
            return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def test_other_users_and_nobody_see_zero_rows(infra: Infra, new_api: Callable[[], Awaitable[Api]]) -> None:
    api = await new_api()
    media_id = await api.upload((DEV_MEDIA / "chelsea.png").read_bytes(), "chelsea.png", "image/png")
    assert (await api.wait_done(media_id))["status"] == "completed"
    admin = await asyncpg.connect(infra.admin_dsn)
    try:
        owner = str(
            await admin.fetchval("SELECT user_id FROM ingest.media_files WHERE media_id = $1", uuid.UUID(media_id))
        )
    finally:
        await admin.close()
    stranger = str(uuid.uuid4())
    for service, tables in TABLES.items():
        for table in tables:
            assert await _count(infra.dsns[service], table, owner) >= 1, table
            assert await _count(infra.dsns[service], table, stranger) == 0, table
            assert await _count(infra.dsns[service], table, None) == 0, table


async def test_a_service_role_cannot_read_another_services_schema(infra: Infra) -> None:
    conn = await asyncpg.connect(infra.dsns["search"])
    try:
        for table in ("ingest.media_files", "billing.users", "analysis.stage_results"):
            try:
                await conn.fetch(f"SELECT 1 FROM {table} LIMIT 1")
            except asyncpg.InsufficientPrivilegeError:
                continue
            raise AssertionError(f"the search role can read {table}")
    finally:
        await conn.close()


async def test_dead_letters_are_the_owners_or_the_admin_routes(infra: Infra) -> None:
    """analysis.dead_letters: the owner sees theirs, a stranger and nobody see none, the admin routes see all."""
    owner, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    admin = await asyncpg.connect(infra.admin_dsn)
    try:
        await admin.execute(
            """INSERT INTO analysis.dead_letters (media_id, stage, user_id, job, errors)
               VALUES ($1, 'image', $2, '{}', '[]')""",
            uuid.uuid4(),
            uuid.UUID(owner),
        )
    finally:
        await admin.close()
    dsn, table = infra.dsns["analysis"], "analysis.dead_letters"
    assert await _count(dsn, table, owner) == 1
    assert await _count(dsn, table, stranger) == 0
    assert await _count(dsn, table, None) == 0
    assert await _count(dsn, table, None, all_users=True) >= 1
