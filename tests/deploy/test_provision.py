"""`python -m trove_stack.provision` (the migration job) against the session's real PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys

import asyncpg

from trove_stack.config import DB_SERVICES
from trove_stack.infra import Infra
from trove_stack.provision import migrations_dir


def _env(infra: Infra) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("TROVE_")}
    env.update(
        {
            "TROVE_PROVISION_POSTGRES__HOST": infra.config.host,
            "TROVE_PROVISION_POSTGRES__PORT": str(infra.config.postgres_port),
            "TROVE_PROVISION_POSTGRES__SUPERUSER_PASSWORD": infra.secrets.postgres_password,
            "TROVE_PROVISION_ROLE_PASSWORDS": json.dumps(infra.secrets.role_passwords),
        }
    )
    return env


def test_provision_job_makes_roles_schemas_and_applies_every_migration(infra: Infra) -> None:
    for _ in range(2):  # idempotent: a second run (a re-applied Job) changes nothing and fails on nothing
        result = subprocess.run(
            [sys.executable, "-m", "trove_stack.provision"],
            env=_env(infra),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr

    async def check() -> None:
        conn = await asyncpg.connect(infra.admin_dsn)
        try:
            assert await conn.fetchval("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            for svc in DB_SERVICES:
                applied = {r["name"] for r in await conn.fetch(f"SELECT name FROM {svc}.schema_migrations")}
                assert applied == {p.name for p in migrations_dir(svc).glob("*.sql")}, svc
        finally:
            await conn.close()

    import asyncio

    asyncio.run(check())


def test_provision_job_refuses_to_run_without_every_role_password(infra: Infra) -> None:
    env = _env(infra)
    passwords = dict(infra.secrets.role_passwords)
    passwords.pop("search")
    env["TROVE_PROVISION_ROLE_PASSWORDS"] = json.dumps(passwords)
    result = subprocess.run([sys.executable, "-m", "trove_stack.provision"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "no password for the roles of search" in result.stderr
