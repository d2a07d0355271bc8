"""Row-level security seen directly in SQL: a service role sees only the rows of the user in app.user_id."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import grpc
from support import DEV_MEDIA, Api, as_user

from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc
from trove_stack.infra import Infra

TABLES = {
    "ingest": ("ingest.uploads", "ingest.media_files"),
    "analysis": ("analysis.stage_results", "analysis.processing_jobs"),
    "search": ("search.media_text", "search.media_embeddings", "search.media", "search.search_history"),
    "billing": ("billing.users", "billing.cost_tracking", "billing.usage", "billing.budgets", "billing.budget_alerts"),
}
# User-owned tables checked by their own test below (a normal upload writes no row into them).
TESTED_APART = {"analysis.dead_letters", "search.deleted_media", "search.faces", "search.people"}
# Tables with a user_id column and, deliberately, no row-level security: why, in their migration.
WITHOUT_RLS = {"search.index_users"}  # user ids only, so a re-index can visit every user's segments


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


async def _admin_fetch(infra: Infra, query: str, *args: Any) -> list[asyncpg.Record]:
    admin = await asyncpg.connect(infra.admin_dsn)
    try:
        return list(await admin.fetch(query, *args))
    finally:
        await admin.close()


async def test_every_user_owned_table_is_in_the_matrix(infra: Infra) -> None:
    """A table with a user_id column in a service schema is user-owned: it must be listed above."""
    rows = await _admin_fetch(
        infra,
        """SELECT c.table_schema || '.' || c.table_name AS name FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
           WHERE c.column_name = 'user_id' AND t.table_type = 'BASE TABLE' AND c.table_schema = ANY($1::text[])""",
        list(TABLES),
    )
    assert {r["name"] for r in rows} == {t for tables in TABLES.values() for t in tables} | TESTED_APART | WITHOUT_RLS


async def test_other_users_and_nobody_see_zero_rows(
    infra: Infra, new_api: Callable[..., Awaitable[Api]], grpc_channel: Callable[[str], grpc.aio.Channel]
) -> None:
    api, admin = await new_api(), await new_api(admin=True)
    media_id = await api.upload((DEV_MEDIA / "chelsea.png").read_bytes(), "chelsea.png", "image/png")
    assert (await api.wait_done(media_id))["status"] == "completed"
    assert (await api.search("a cat")).status_code == 200  # a search_history row
    owner = (await api.request("GET", "/api/v1/me")).json()["user_id"]
    # A budget the finished analysis has already used up, and one more cost: a budget row and alerts.
    budget = await admin.request("PUT", f"/api/v1/admin/users/{owner}/budget", json={"amount": 0.0000000001})
    assert budget.status_code == 200, budget.text
    stub = billing_pb2_grpc.BillingServiceStub(grpc_channel("billing"))
    await stub.RecordCost(
        billing_pb2.RecordCostRequest(idempotency_key="rls-matrix", service="local-compute", units=1),
        metadata=as_user(owner),
    )
    stranger = str(uuid.uuid4())
    for service, tables in TABLES.items():
        for table in tables:
            assert await _count(infra.dsns[service], table, owner) >= 1, table
            assert await _count(infra.dsns[service], table, stranger) == 0, table
            assert await _count(infra.dsns[service], table, None) == 0, table
    # Deleted, the file stays in search's list of deleted files (search.deleted_media): the owner's alone too.
    assert (await api.request("DELETE", f"/api/v1/media/{media_id}")).status_code == 204
    assert await _count(infra.dsns["search"], "search.deleted_media", owner) == 1
    assert await _count(infra.dsns["search"], "search.deleted_media", stranger) == 0
    assert await _count(infra.dsns["search"], "search.deleted_media", None) == 0


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


async def test_the_blocked_media_scan_returns_user_ids_only(
    infra: Infra, new_api: Callable[..., Awaitable[Api]]
) -> None:
    """Ingest's one cross-user read: ids of users with media waiting for budget; rows stay hidden outside it."""
    api, admin = await new_api(), await new_api(admin=True)
    owner = (await api.request("GET", "/api/v1/me")).json()["user_id"]
    assert (await admin.request("PUT", f"/api/v1/admin/users/{owner}/budget", json={"amount": 0})).status_code == 200
    media_id = await api.upload((DEV_MEDIA / "page.png").read_bytes(), "page.png", "image/png")
    assert (await api.request("GET", f"/api/v1/media/{media_id}")).json()["status"] == "blocked_budget"
    conn = await asyncpg.connect(infra.dsns["ingest"])
    try:
        async with conn.transaction():
            found = [str(r[0]) for r in await conn.fetch("SELECT ingest.users_with_blocked_media()")]
            assert owner in found
            assert await conn.fetchval("SELECT count(*) FROM ingest.media_files") == 0
            assert await conn.fetchval("SELECT current_setting('app.blocked_scan', true)") in (None, "")
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


async def test_faces_and_people_are_the_owners(infra: Infra) -> None:
    """search.faces and search.people (written only for pictures with faces): the owner sees theirs, a stranger
    and nobody see none, and the service role cannot write a row for another user."""
    owner, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    media_id, person_id = uuid.uuid4(), uuid.uuid4()
    admin = await asyncpg.connect(infra.admin_dsn)
    try:
        await admin.execute(
            "INSERT INTO search.media (media_id, user_id, kind) VALUES ($1, $2, 'image')", media_id, uuid.UUID(owner)
        )
        await admin.execute(
            "INSERT INTO search.people (person_id, user_id) VALUES ($1, $2)", person_id, uuid.UUID(owner)
        )
        await admin.execute(
            """INSERT INTO search.faces (user_id, media_id, person_id, box, score, embedding)
               VALUES ($1, $2, $3, '{0,0,1,1}', 1, array_fill(0.1, ARRAY[128])::vector)""",
            uuid.UUID(owner),
            media_id,
            person_id,
        )
    finally:
        await admin.close()
    dsn = infra.dsns["search"]
    for table in ("search.faces", "search.people"):
        assert await _count(dsn, table, owner) == 1, table
        assert await _count(dsn, table, stranger) == 0, table
        assert await _count(dsn, table, None) == 0, table
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.user_id', $1, true)", stranger)
            try:
                await conn.execute("INSERT INTO search.people (user_id) VALUES ($1)", uuid.UUID(owner))
            except asyncpg.InsufficientPrivilegeError:
                pass
            else:
                raise AssertionError("a stranger wrote a person for the owner")
    finally:
        await conn.close()
