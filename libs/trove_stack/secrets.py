"""The stack's generated secrets, made once and kept in <data>/secrets.json (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets as _random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLE_SERVICES = ("billing", "ingest", "analysis", "search")
# Every process that calls gRPC proves who it is with its own token; the analysis worker uses analysis'.
CALLER_SERVICES = ("gateway", "billing", "ingest", "analysis", "search")


@dataclass(frozen=True, slots=True)
class Secrets:
    """Passwords of the PostgreSQL superuser, of each service role and of Redis, the blob-signing HMAC key (hex),
    each service's token for internal gRPC calls, and the credential pair of the stack's AWS simulator."""

    postgres_password: str
    role_passwords: dict[str, str]
    signing_key: str
    redis_password: str
    service_tokens: dict[str, str]
    aws_access_key_id: str = ""
    aws_secret_access_key: str = ""


def _token() -> str:
    # Hex only, so a password never needs escaping inside a DSN, a SQL literal or redis.conf.
    return _random.token_hex(24)


def _filled(given: Any, names: tuple[str, ...], make: Any) -> dict[str, str]:
    values: dict[str, str] = dict(given or {})
    for name in names:
        if not values.get(name):
            values[name] = make()
    return values


def load_or_create(path: Path) -> Secrets:
    """The secrets in `path`, creating the file (or filling in what it lacks) on first use."""
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    result = Secrets(
        postgres_password=data.get("postgres_password") or _token(),
        role_passwords=_filled(data.get("role_passwords"), ROLE_SERVICES, _token),
        signing_key=data.get("signing_key") or _random.token_bytes(32).hex(),
        redis_password=data.get("redis_password") or _token(),
        service_tokens=_filled(data.get("service_tokens"), CALLER_SERVICES, lambda: _random.token_hex(32)),
        # AWS' shape: 20 upper-case characters starting AKIA, a 40-character secret.
        aws_access_key_id=data.get("aws_access_key_id") or "AKIA" + _random.token_hex(8).upper(),
        aws_secret_access_key=data.get("aws_secret_access_key") or _random.token_hex(20),
    )
    if _as_json(result) != data:
        _write_private(path, result)
    return result


def _as_json(value: Secrets) -> dict[str, Any]:
    return {
        "postgres_password": value.postgres_password,
        "role_passwords": value.role_passwords,
        "signing_key": value.signing_key,
        "redis_password": value.redis_password,
        "service_tokens": value.service_tokens,
        "aws_access_key_id": value.aws_access_key_id,
        "aws_secret_access_key": value.aws_secret_access_key,
    }


def _write_private(path: Path, value: Secrets) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(_as_json(value), f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
