"""One-shot database set-up for a deployment (compose's `migrate` service, Kubernetes' migration Job).

`python -m trove_stack.provision` does what `make run` does for its embedded PostgreSQL, against a server it does
not manage: as the superuser, database `trove`, pgvector, one LOGIN role and schema per service (`provision`); then,
as each service's own role, that service's migrations (the services also apply them at start-up under the same
advisory lock, so running this first only means no replica waits for another).

Env (prefix TROVE_PROVISION_): POSTGRES__HOST, POSTGRES__PORT, POSTGRES__SUPERUSER_PASSWORD, ROLE_PASSWORDS as
JSON or one per service (ROLE_PASSWORDS__BILLING, __INGEST, __ANALYSIS, __SEARCH), MIGRATE (default true).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from trove_common.migrations import migrate
from trove_stack.config import DB_SERVICES, REPO_ROOT, StackConfig, postgres_dsn
from trove_stack.postgres import DATABASE, SUPERUSER, provision
from trove_stack.secrets import Secrets

logger = logging.getLogger("trove_stack.provision")


class ProvisionPostgres(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=5432, ge=1, le=65535)
    superuser_password: SecretStr


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TROVE_PROVISION_", env_nested_delimiter="__", extra="ignore")

    postgres: ProvisionPostgres
    role_passwords: dict[str, SecretStr]
    migrate: bool = True

    @field_validator("role_passwords")
    @classmethod
    def _every_service(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        missing = [svc for svc in DB_SERVICES if not value.get(svc, SecretStr("")).get_secret_value()]
        if missing:
            raise ValueError(f"no password for the roles of {', '.join(missing)}")
        return value


def migrations_dir(service: str) -> Path:
    return REPO_ROOT / "services" / service / "migrations"


async def run(settings: Settings) -> list[str]:
    """Provision, then migrate each schema as its owner; returns what was done, one line each."""
    cfg = StackConfig(host=settings.postgres.host, postgres_port=settings.postgres.port)
    passwords = {svc: settings.role_passwords[svc].get_secret_value() for svc in DB_SERVICES}
    # provision() reads only the superuser's and the roles' passwords; the other secrets are not its business.
    secrets = Secrets(
        postgres_password=settings.postgres.superuser_password.get_secret_value(),
        role_passwords=passwords,
        signing_key="",
        redis_password="",
        service_tokens={},
    )
    done = await provision(cfg, secrets)
    if settings.migrate:
        for svc in DB_SERVICES:
            dsn = postgres_dsn(cfg, user=f"trove_{svc}", password=passwords[svc], database=DATABASE)
            conn = await asyncpg.connect(dsn, timeout=30)
            try:
                applied = await migrate(conn, schema=svc, directory=migrations_dir(svc))
            finally:
                await conn.close()
            done += [f"migrated {svc}: {name}" for name in applied]
    return done


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()  # required fields come from the environment
    done = asyncio.run(run(settings))
    logger.info(
        "database ready",
        extra={"superuser": SUPERUSER, "changes": len(done)},
    )
    for line in done:
        logger.info(line)


if __name__ == "__main__":
    main()
