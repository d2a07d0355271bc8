"""The stack's generated secrets, made once and kept in <data>/secrets.json (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets as _random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLE_SERVICES = ("billing", "ingest", "analysis", "search")


@dataclass(frozen=True, slots=True)
class Secrets:
    """Passwords of the PostgreSQL superuser and of each service role, and the blob-signing HMAC key (hex)."""

    postgres_password: str
    role_passwords: dict[str, str]
    signing_key: str


def _token() -> str:
    # Hex only, so a password never needs escaping inside a DSN or a SQL literal.
    return _random.token_hex(24)


def load_or_create(path: Path) -> Secrets:
    """The secrets in `path`, creating the file (or filling in what it lacks) on first use."""
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    roles: dict[str, str] = dict(data.get("role_passwords", {}))
    changed = not path.exists()
    for svc in ROLE_SERVICES:
        if not roles.get(svc):
            roles[svc] = _token()
            changed = True
    result = Secrets(
        postgres_password=data.get("postgres_password") or _token(),
        role_passwords=roles,
        signing_key=data.get("signing_key") or _random.token_bytes(32).hex(),
    )
    if changed or result.postgres_password != data.get("postgres_password") or "signing_key" not in data:
        _write_private(path, result)
    return result


def _write_private(path: Path, value: Secrets) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    body = {
        "postgres_password": value.postgres_password,
        "role_passwords": value.role_passwords,
        "signing_key": value.signing_key,
    }
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(body, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
