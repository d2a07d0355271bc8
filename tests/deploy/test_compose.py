"""compose.yaml: valid against the Compose specification's schema, and wired to what each process reads."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from deploy_wiring import REPO, generated_secrets, interpolate, load_settings, missing_env

from trove_analysis.queues import FAMILIES
from trove_stack.config import SERVICE_CALLERS

COMPOSE = REPO / "compose.yaml"
# compose service -> the process' settings block
BLOCK_OF = {
    "gateway": "gateway",
    "billing": "billing",
    "ingest": "ingest",
    "search": "search",
    "analysis": "analysis",
    **{f"worker-{family}": "analysis" for family in FAMILIES},
}
GRPC_PORT = re.compile(r"^TROVE_[A-Z]+_GRPC__PORT$")


def _raw() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict)
    return doc


def _interpolated(doc: Any, env: dict[str, str]) -> Any:
    if isinstance(doc, str):
        return interpolate(doc, env)
    if isinstance(doc, list):
        return [_interpolated(v, env) for v in doc]
    if isinstance(doc, dict):
        return {k: _interpolated(v, env) for k, v in doc.items()}
    return doc


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return generated_secrets(tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="module")
def compose(secrets: dict[str, str]) -> dict[str, Any]:
    doc = _interpolated(_raw(), secrets)
    assert isinstance(doc, dict)
    return doc


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment is written as a mapping"
    return {k: str(v) for k, v in env.items()}


def test_compose_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    # The Compose specification's JSON schema as check-jsonschema vendors it (offline, pinned with the package).
    schema = json.loads((files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for doc in (_raw(), compose):
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]
        assert errors == []


def test_every_variable_interpolated_is_generated_or_has_a_default(secrets: dict[str, str]) -> None:
    text = COMPOSE.read_text()
    bare = set(re.findall(r"\$\{([A-Z0-9_]+)(?::\?[^}]*)?\}", text))
    assert bare <= set(secrets), f"not made by scripts/deploy-secrets.sh: {sorted(bare - set(secrets))}"
    for name, value in secrets.items():
        assert re.fullmatch(r"[0-9a-f]{48,}", value), name  # hex: no escaping in a DSN or JSON; long enough


def test_every_process_gets_every_variable_its_settings_need(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(BLOCK_OF) <= set(services)
    for name, block in BLOCK_OF.items():
        assert missing_env(block, set(_env(services[name]))) == [], name


def test_every_process_starts_from_its_environment(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose["services"]
    for name, block in BLOCK_OF.items():
        with monkeypatch.context() as patch:
            settings: Any = load_settings(block, _env(services[name]), patch)
        if block != "gateway":
            assert settings.grpc.host == "0.0.0.0"  # reachable from the other containers
        assert set(settings.service_auth.callers) == set(SERVICE_CALLERS.get(block, ())), name
        if name.startswith("worker-"):
            assert settings.families == [name.removeprefix("worker-")]
            assert services[name]["command"] == ["python", "-m", "trove_analysis.main", "worker"]
            grace = int(services[name]["stop_grace_period"].removesuffix("s"))
            assert grace > settings.shutdown_grace_s
    assert sorted(n.removeprefix("worker-") for n in services if n.startswith("worker-")) == sorted(FAMILIES)


def test_migration_job_provisions_with_the_generated_passwords(
    compose: dict[str, Any], secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from trove_stack.provision import Settings

    job = compose["services"]["migrate"]
    assert job["command"] == ["python", "-m", "trove_stack.provision"]
    assert job["restart"] == "no"
    for name, value in _env(job).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.postgres.superuser_password.get_secret_value() == secrets["TROVE_SECRET_POSTGRES_PASSWORD"]
    for svc, password in settings.role_passwords.items():
        dsn = _env(compose["services"][svc])[f"TROVE_{svc.upper()}_POSTGRES__DSN"]
        assert f"trove_{svc}:{password.get_secret_value()}@postgres:5432/trove" in dsn
    for name in (n for n, block in BLOCK_OF.items() if block != "gateway"):  # the gateway has no database
        assert compose["services"][name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_addresses_name_a_service_on_its_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in BLOCK_OF:
        for var, value in _env(services[name]).items():
            if var.endswith("_ADDR"):
                host, _, port = value.partition(":")
                target_env = _env(services[host])
                assert target_env[f"TROVE_{host.upper()}_GRPC__PORT"] == port, (name, var)


def test_only_the_gateway_is_published(compose: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if s.get("ports")}
    assert set(published) == {"gateway", "auth"}
    # The development Auth Emulator is reachable from this machine only (the browser signs in against it).
    assert all(str(p).startswith("127.0.0.1:") for p in published["auth"])
    assert compose["networks"]["backend"]["internal"] is True


def test_dependencies_wait_for_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    containerfile = (REPO / "Containerfile").read_text()
    for name, service in services.items():
        for dep, rule in service.get("depends_on", {}).items():
            assert rule["condition"] in ("service_healthy", "service_completed_successfully"), (name, dep)
            if rule["condition"] == "service_healthy":
                target = services[dep]
                own = target.get("healthcheck", {})
                assert not own.get("disable"), dep
                # Without its own, the image's HEALTHCHECK applies: the auth-emulator stage has one.
                assert own.get("test") or (
                    target.get("build", {}).get("target") == "auth-emulator" and "HEALTHCHECK" in containerfile
                ), dep


def test_redis_has_a_password_and_persists(compose: dict[str, Any], secrets: dict[str, str]) -> None:
    redis = compose["services"]["redis"]
    command = " ".join(redis["command"])
    assert "requirepass" in command and "--appendonly yes" in command
    assert secrets["TROVE_SECRET_REDIS_PASSWORD"] not in command  # read from the environment, not the argv
    assert any(v.endswith(":/data") for v in redis["volumes"])
    for name in ("gateway", "ingest", "search", "analysis"):
        dsn = next(v for k, v in _env(compose["services"][name]).items() if k.endswith("_REDIS__DSN"))
        assert dsn == f"redis://:{secrets['TROVE_SECRET_REDIS_PASSWORD']}@redis:6379/0"


def test_postgres_image_has_pgvector() -> None:
    assert re.fullmatch(r"pgvector/pgvector:\d+\.\d+\.\d+-pg\d+", _raw()["services"]["postgres"]["image"])


def test_secrets_script_keeps_existing_secrets(tmp_path: Path) -> None:
    first = generated_secrets(tmp_path)
    assert generated_secrets(tmp_path) == first
    assert (tmp_path / "secrets.env").stat().st_mode & 0o077 == 0
