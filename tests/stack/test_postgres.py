"""The embedded PostgreSQL: initdb, start/stop, pgvector, and the per-service roles and schemas provisioning makes."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from trove_stack import postgres
from trove_stack.config import DB_SERVICES, StackConfig, service_dsn
from trove_stack.infra import prepare_data_dir
from trove_stack.process import is_alive, read_pid_file
from trove_stack.secrets import Secrets


@dataclass
class Cluster:
    cfg: StackConfig
    secrets: Secrets
    first_changes: list[str]

    def dsn(self, svc: str, database: str = "trove") -> str:
        return service_dsn(self.cfg, self.secrets, svc, database=database)

    @property
    def admin(self) -> str:
        return postgres.admin_dsn(self.cfg, self.secrets, database="trove")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    cfg = StackConfig.ephemeral()
    secrets = prepare_data_dir(cfg)
    proc = postgres.PostgresProcess(cfg, secrets)
    proc.start()
    try:
        changes = postgres.provision_sync(cfg, secrets)
        yield Cluster(cfg, secrets, changes)
    finally:
        proc.stop()
        shutil.rmtree(cfg.data_dir, ignore_errors=True)


@pytest.fixture
async def admin(cluster: Cluster) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(cluster.admin)
    yield conn
    await conn.close()


async def _as(cluster: Cluster, svc: str, database: str = "trove") -> asyncpg.Connection:
    return await asyncpg.connect(cluster.dsn(svc, database))


async def test_vector_extension_is_installed(admin: asyncpg.Connection) -> None:
    version = await admin.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
    assert tuple(int(p) for p in version.split(".")[:2]) >= (0, 5)


async def test_search_role_creates_hnsw_index_in_its_schema(cluster: Cluster) -> None:
    conn = await _as(cluster, "search")
    try:
        await conn.execute("CREATE TABLE hnsw_probe (id int PRIMARY KEY, v vector(3))")
        await conn.execute("CREATE INDEX ON hnsw_probe USING hnsw (v vector_cosine_ops)")
        await conn.execute("INSERT INTO hnsw_probe VALUES (1, '[1,0,0]'), (2, '[0,1,0]')")
        nearest = await conn.fetchval("SELECT id FROM hnsw_probe ORDER BY v <=> '[0.9,0.1,0]' LIMIT 1")
        schema = await conn.fetchval("SELECT schemaname FROM pg_tables WHERE tablename = 'hnsw_probe'")
        # Migrations may say CREATE EXTENSION IF NOT EXISTS: a no-op, not a permission error.
        await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    finally:
        await conn.execute("DROP TABLE IF EXISTS hnsw_probe")
        await conn.close()
    assert nearest == 1
    assert schema == "search"


async def test_roles_are_unprivileged(admin: asyncpg.Connection) -> None:
    rows = await admin.fetch(
        "SELECT rolname, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolcanlogin, rolconfig "
        "FROM pg_roles WHERE rolname LIKE 'trove\\_%'"
    )
    by_name = {r["rolname"]: r for r in rows}
    assert set(by_name) == {f"trove_{svc}" for svc in DB_SERVICES}
    for svc in DB_SERVICES:
        row = by_name[f"trove_{svc}"]
        assert row["rolcanlogin"]
        assert not (row["rolsuper"] or row["rolbypassrls"] or row["rolcreatedb"] or row["rolcreaterole"])
        assert row["rolconfig"] == [f"search_path={svc}, public"]
        owner = await admin.fetchval("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1", svc)
        assert owner == f"trove_{svc}"


async def test_role_cannot_touch_another_services_schema(cluster: Cluster) -> None:
    billing = await _as(cluster, "billing")
    ingest = await _as(cluster, "ingest")
    try:
        await billing.execute("CREATE TABLE ledger_probe (amount int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await ingest.fetch("SELECT * FROM billing.ledger_probe")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await ingest.execute("CREATE TABLE billing.intruder (x int)")
        assert not await ingest.fetchval("SELECT has_schema_privilege('billing', 'USAGE')")
    finally:
        await billing.execute("DROP TABLE IF EXISTS ledger_probe")
        await billing.close()
        await ingest.close()


async def test_role_cannot_create_in_public(cluster: Cluster) -> None:
    conn = await _as(cluster, "analysis")
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.squatter (x int)")
        assert await conn.fetchval("SELECT has_schema_privilege('public', 'USAGE')")
    finally:
        await conn.close()


async def test_provisioning_twice_changes_nothing(cluster: Cluster, admin: asyncpg.Connection) -> None:
    snapshot_sql = """
        SELECT (SELECT array_agg(rolname || ':' || coalesce(rolpassword, '') ORDER BY rolname) FROM pg_authid),
               (SELECT array_agg(nspname || ':' || coalesce(nspacl::text, '') ORDER BY nspname) FROM pg_namespace),
               (SELECT array_agg(setconfig::text ORDER BY setrole) FROM pg_db_role_setting),
               (SELECT datacl::text FROM pg_database WHERE datname = 'trove')"""
    before = await admin.fetchrow(snapshot_sql)
    assert cluster.first_changes, "the first run should have created everything"
    assert await postgres.provision(cluster.cfg, cluster.secrets) == []
    assert await admin.fetchrow(snapshot_sql) == before


async def test_database_from_template_keeps_schemas_and_grants(cluster: Cluster) -> None:
    await postgres.create_database(cluster.cfg, cluster.secrets, name="trove_clone_probe")
    try:
        conn = await _as(cluster, "ingest", database="trove_clone_probe")
        try:
            await conn.execute("CREATE TABLE uploads_probe (id int)")
            assert await conn.fetchval("SELECT current_schema()") == "ingest"
        finally:
            await conn.close()
    finally:
        await postgres.drop_database(cluster.cfg, cluster.secrets, name="trove_clone_probe")


async def test_only_service_roles_may_connect_to_trove(cluster: Cluster, admin: asyncpg.Connection) -> None:
    await admin.execute("CREATE ROLE outsider_probe LOGIN PASSWORD 'outsider-pw'")
    try:
        dsn = f"postgresql://outsider_probe:outsider-pw@{cluster.cfg.host}:{cluster.cfg.postgres_port}/trove"
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(dsn)
    finally:
        await admin.execute("DROP ROLE outsider_probe")


def test_cold_start_stop_restart_leaves_nothing_running() -> None:
    cfg = StackConfig.ephemeral()
    secrets = prepare_data_dir(cfg)
    proc = postgres.PostgresProcess(cfg, secrets)
    try:
        assert postgres.init_cluster(cfg, secrets)
        assert not postgres.init_cluster(cfg, secrets)
        first = proc.start()
        assert postgres.ready(cfg)
        record = read_pid_file(cfg.pid_path("postgres"))
        assert record is not None and record.pid == first and is_alive(record)
        proc.stop()
        assert not is_alive(record)
        assert not cfg.pid_path("postgres").exists()
        assert not postgres.ready(cfg)
        second = proc.start()
        assert second != first and postgres.ready(cfg)
    finally:
        proc.stop()
        shutil.rmtree(cfg.data_dir, ignore_errors=True)
    assert postgres.running_record(cfg) is None
