"""Migrations: applied at start-up by each service; applying them again changes nothing."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from support import REPO

from trove_common.migrations import migrate
from trove_stack.infra import Infra, ServiceGroup

SCHEMAS = ("billing", "ingest", "analysis", "search")

# Everything migrations create, as text, so two snapshots can be compared.
_CATALOG = """
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
 WHERE table_schema = $1
UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = $1
UNION ALL SELECT 'policy ' || tablename || '.' || policyname || ' ' || coalesce(qual, '') FROM pg_policies
 WHERE schemaname = $1
UNION ALL SELECT 'migration ' || version || ' ' || name FROM {schema}.schema_migrations
ORDER BY 1
"""


async def _catalog(conn: asyncpg.Connection, schema: str) -> list[str]:
    return [r[0] for r in await conn.fetch(_CATALOG.format(schema=schema), schema)]


@pytest.mark.parametrize("schema", SCHEMAS)
async def test_applying_migrations_twice_changes_nothing(infra: Infra, services: ServiceGroup, schema: str) -> None:
    directory = REPO / "services" / schema / "migrations"
    conn = await asyncpg.connect(infra.dsns[schema])
    try:
        before = await _catalog(conn, schema)
        assert sum(line.startswith("migration ") for line in before) == len(list(directory.glob("*.sql")))
        assert await migrate(conn, schema=schema, directory=directory) == []
        assert await migrate(conn, schema=schema, directory=directory) == []
        assert await _catalog(conn, schema) == before
    finally:
        await conn.close()


async def test_a_fresh_schema_gets_every_migration_once_in_order(infra: Infra, tmp_path: Path) -> None:
    (tmp_path / "001_first.sql").write_text("CREATE TABLE scratch.notes (id int);")
    (tmp_path / "002_second.sql").write_text("ALTER TABLE scratch.notes ADD COLUMN body text NOT NULL DEFAULT '';")
    conn = await asyncpg.connect(infra.admin_dsn)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS scratch CASCADE; CREATE SCHEMA scratch")
        assert await migrate(conn, schema="scratch", directory=tmp_path) == ["001_first.sql", "002_second.sql"]
        assert await migrate(conn, schema="scratch", directory=tmp_path) == []
        await conn.execute("INSERT INTO scratch.notes (id, body) VALUES (1, 'ok')")
        (tmp_path / "003_broken.sql").write_text("ALTER TABLE scratch.notes ADD COLUMN body text;")
        with pytest.raises(asyncpg.DuplicateColumnError):
            await migrate(conn, schema="scratch", directory=tmp_path)
        versions = [r[0] for r in await conn.fetch("SELECT version FROM scratch.schema_migrations ORDER BY 1")]
        assert versions == [1, 2]  # the failed file left no trace
    finally:
        await conn.execute("DROP SCHEMA IF EXISTS scratch CASCADE")
        await conn.close()
