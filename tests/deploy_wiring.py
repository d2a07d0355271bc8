"""What the deployment files must give each process: the variables its Settings needs and `make run` computes.

Shared by tests/deploy/: compose.yaml and the Kubernetes overlays are checked against the same two sources, the
services' Settings classes (walked for required fields) and trove_stack.config.service_env (the full set the
embedded stack computes: addresses, DSNs with passwords, service credentials, storage key).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_settings import BaseSettings

from trove_stack.config import SERVICE_CALLERS, StackConfig, service_env
from trove_stack.secrets import CALLER_SERVICES, ROLE_SERVICES, Secrets

REPO = Path(__file__).resolve().parents[1]
# Each deployed process and the service_env block it takes (the analysis workers share analysis').
BLOCKS = ("gateway", "billing", "ingest", "analysis", "search")
_PLACEHOLDER = "x" * 48


def settings_class(block: str) -> type[BaseSettings]:
    from trove_analysis.settings import Settings as Analysis
    from trove_billing.settings import Settings as Billing
    from trove_gateway.settings import Settings as Gateway
    from trove_ingest.settings import Settings as Ingest
    from trove_search.settings import Settings as Search

    classes: dict[str, type[BaseSettings]] = {
        "gateway": Gateway,
        "billing": Billing,
        "ingest": Ingest,
        "analysis": Analysis,
        "search": Search,
    }
    return classes[block]


def _required(model: type[BaseModel], prefix: str) -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        env = f"{prefix}{name.upper()}"
        annotation = info.annotation
        nested = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        if not info.is_required():
            continue  # its default stands, nested defaults included
        # A required block is given when any of its variables is; its own required fields must be too.
        names.append(f"{env}__" if nested else env)
        if nested:
            assert isinstance(annotation, type)
            names += _required(annotation, f"{env}__")
    return names


def required_env(block: str) -> list[str]:
    """Variables (or, ending in `__`, variable prefixes) that the block's Settings cannot start without."""
    return _required(settings_class(block), f"TROVE_{block.upper()}_")


def computed_env(block: str) -> set[str]:
    """The names `make run` sets for the block (trove_stack.config.service_env)."""
    secrets = Secrets(
        postgres_password=_PLACEHOLDER,
        role_passwords=dict.fromkeys(ROLE_SERVICES, _PLACEHOLDER),
        signing_key=_PLACEHOLDER,
        redis_password=_PLACEHOLDER,
        service_tokens=dict.fromkeys(CALLER_SERVICES, _PLACEHOLDER),
    )
    return set(service_env(StackConfig(), secrets)[block])


def callers(block: str) -> set[str]:
    return set(SERVICE_CALLERS.get(block, ()))


def missing_env(block: str, given: set[str]) -> list[str]:
    """Names the block needs (required settings and the computed set) that `given` lacks."""
    missing = sorted(computed_env(block) - given)
    for name in required_env(block):
        present = any(g.startswith(name) for g in given) if name.endswith("__") else name in given
        if not present:
            missing.append(name)
    return missing


def load_settings(block: str, env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> BaseSettings:
    """The block's Settings built from exactly `env` (no other TROVE_ variable in the way)."""
    import os

    for name in list(os.environ):
        if name.startswith("TROVE_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings_class(block)()


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$ for a literal $."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = env.get(name)
        if op in (":-", "-"):
            return value if value or (op == "-" and value is not None) else arg
        if op in (":?", "?") and not value:
            raise KeyError(f"{name}: {arg}")
        return value or ""

    return _VAR.sub(one, text)


def generated_secrets(tmp_path: Path) -> dict[str, str]:
    """Runs scripts/deploy-secrets.sh into a fresh file and returns what it wrote."""
    target = tmp_path / "secrets.env"
    subprocess.run(["bash", str(REPO / "scripts" / "deploy-secrets.sh"), str(target)], check=True, capture_output=True)
    values = {}
    for line in target.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values
