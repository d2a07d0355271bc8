"""Applies a service's numbered SQL migrations once each, under an advisory lock, recorded per schema."""

from __future__ import annotations

import logging
import re
import zlib
from pathlib import Path

import asyncpg

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{3,4})_[a-z0-9_]+\.sql$")


def _migration_files(directory: Path) -> list[tuple[int, Path]]:
    found: list[tuple[int, Path]] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration {path} is not named NNN_name.sql")
        found.append((int(match.group(1)), path))
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration numbers in {directory}")
    return found


async def migrate(conn: asyncpg.Connection, *, schema: str, directory: Path) -> list[str]:
    """Apply every migration of `directory` not yet in `<schema>.schema_migrations`; returns the names applied.

    Several replicas may start at once: the advisory lock (keyed on the schema) makes them take turns, and
    each file runs in its own transaction together with its bookkeeping row.
    """
    lock_key = zlib.crc32(f"trove-migrations:{schema}".encode())
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        applied = {r["version"] for r in await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")}
        done: list[str] = []
        for version, path in _migration_files(directory):
            if version in applied:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)", version, path.name
                )
            logger.info("applied migration", extra={"schema": schema, "migration": path.name})
            done.append(path.name)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
