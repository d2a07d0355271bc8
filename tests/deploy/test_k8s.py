"""deploy/k8s: the overlays render with kustomize, pass `kubernetes-validate --strict` (KEDA objects against the
schema in deploy/k8s/schemas), and are wired to what each process reads, on the ports it opens."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_wiring import REPO, generated_secrets, load_settings, missing_env

from trove_analysis.queues import FAMILIES, family_queue
from trove_analysis.settings import FamilyConcurrency
from trove_stack.config import SERVICE_CALLERS

K8S = REPO / "deploy" / "k8s"
OVERLAYS = {"dev": "trove-dev", "prod": "trove"}
# A current Kubernetes release: the newest whose schemas kubernetes-validate ships.
KUBERNETES_VERSION = kubernetes_validate.latest_version()
SERVERS = ("gateway", "billing", "ingest", "search", "analysis")
KEDA_KINDS = {"ScaledObject", "TriggerAuthentication"}


def kustomize() -> list[str]:
    """`kustomize build`, or kubectl's built-in copy (`kubectl kustomize`); both render offline."""
    if path := shutil.which("kustomize"):
        return [path, "build"]
    if path := shutil.which("kubectl"):
        return [path, "kustomize"]
    pytest.fail("neither kustomize nor kubectl is installed (see README, Deploying: Kubernetes)")


def _gen_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_k8s", REPO / "scripts" / "gen_k8s.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Rendered:
    def __init__(self, docs: list[dict[str, Any]], secrets: dict[str, str]) -> None:
        self.docs = docs
        self.secrets = secrets

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        return next(d for d in self.of(kind) if d["metadata"]["name"] == name)

    def workloads(self) -> list[dict[str, Any]]:
        return self.of("Deployment") + self.of("StatefulSet") + self.of("Job")

    def env(self, container: dict[str, Any]) -> dict[str, str]:
        """The container's environment as the kubelet builds it: envFrom, then env with $(NAME) expanded."""
        values: dict[str, str] = {}
        for source in container.get("envFrom", []):
            values.update(self.named("ConfigMap", source["configMapRef"]["name"])["data"])
        for item in container.get("env", []):
            if "value" in item:
                values[item["name"]] = re.sub(
                    r"\$\((\w+)\)", lambda m: values.get(m.group(1), m.group(0)), item["value"]
                )
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                secret = self.named("Secret", ref["name"])
                assert ref["key"] in secret["data"], ref
                values[item["name"]] = self.secrets[ref["key"]]
        return values


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def overlay(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Rendered]:
    name: str = request.param
    work = tmp_path_factory.mktemp(f"k8s-{name}")
    shutil.copytree(K8S, work / "k8s")
    secrets = generated_secrets(work)
    shutil.copy(work / "secrets.env", work / "k8s" / "overlays" / name / "secrets.env")
    result = subprocess.run(
        [*kustomize(), str(work / "k8s" / "overlays" / name)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    return name, Rendered(docs, secrets)


def test_committed_manifests_are_what_the_generator_writes(tmp_path: Path) -> None:
    written = _gen_module().generate(tmp_path)
    for path in written:
        committed = K8S / path.relative_to(tmp_path)
        assert committed.read_text() == path.read_text(), f"{committed}: run `python scripts/gen_k8s.py`"


def test_overlay_passes_kubernetes_validate_strict(overlay: tuple[str, Rendered]) -> None:
    _, rendered = overlay
    keda = json.loads((K8S / "schemas" / "keda-v1alpha1.json").read_text())
    for doc in rendered.docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in KEDA_KINDS:
            errors = [e.message for e in jsonschema.Draft202012Validator(keda).iter_errors(doc)]
            assert errors == [], where
        else:
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{where}: {err.message} at {list(err.path)}")


def test_same_checks_from_the_command_line(overlay: tuple[str, Rendered], tmp_path: Path) -> None:
    """The CLI an operator would run (`kubernetes-validate --strict`) agrees: no failure, only the CRD warnings."""
    _, rendered = overlay
    plain = [d for d in rendered.docs if d["kind"] not in KEDA_KINDS]
    target = tmp_path / "rendered.yaml"
    target.write_text(yaml.safe_dump_all(plain))
    cli = Path(sys.executable).parent / "kubernetes-validate"  # the pip package's command, beside this Python
    result = subprocess.run(
        [str(cli), "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(target)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _block(deployment: dict[str, Any]) -> str:
    return str(deployment["spec"]["template"]["metadata"]["labels"]["trove-service"])


def _trove_deployments(rendered: Rendered) -> list[dict[str, Any]]:
    return [d for d in rendered.of("Deployment") if _block(d) in SERVERS]


def test_every_process_gets_every_variable_its_settings_need(
    overlay: tuple[str, Rendered], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, rendered = overlay
    deployments = _trove_deployments(rendered)
    assert {d["metadata"]["name"] for d in deployments} == {
        *(f"trove-{s}" for s in SERVERS),
        *(f"trove-worker-{f}" for f in FAMILIES),
    }
    for deployment in deployments:
        block = _block(deployment)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = rendered.env(container)
        missing = missing_env(block, set(env))
        mode = env.get("TROVE_GATEWAY_AUTH__MODE", "emulator")
        if mode != "emulator":
            # Only the emulator mode takes an emulator host (the gateway refuses one in any other mode), and only
            # the Firebase modes read the Firebase project.
            missing = [m for m in missing if m != "TROVE_GATEWAY_FIREBASE__AUTH_EMULATOR_HOST"]
        if mode == "oidc":
            missing = [m for m in missing if not m.startswith("TROVE_GATEWAY_FIREBASE__")]
        assert missing == [], deployment["metadata"]["name"]
        with monkeypatch.context() as patch:
            settings: Any = load_settings(block, env, patch)  # the process would start with this environment
        assert set(settings.service_auth.callers) == set(SERVICE_CALLERS.get(block, ()))
        if deployment["metadata"]["name"].startswith("trove-worker-"):
            assert settings.families == [deployment["metadata"]["name"].removeprefix("trove-worker-")]
    gateway = rendered.env(rendered.named("Deployment", "trove-gateway")["spec"]["template"]["spec"]["containers"][0])
    assert gateway["TROVE_GATEWAY_AUTH__MODE"] == ("emulator" if name == "dev" else "oidc")
    ingest = rendered.env(rendered.named("Deployment", "trove-ingest")["spec"]["template"]["spec"]["containers"][0])
    # Signed upload and download URLs come from both: they must name the same public address.
    assert ingest["TROVE_INGEST_STORAGE__PUBLIC_URL"] == gateway["TROVE_GATEWAY_STORAGE__PUBLIC_URL"]
    assert gateway["TROVE_GATEWAY_STORAGE__PUBLIC_URL"].startswith("https://" if name == "prod" else "http://")


def test_addresses_name_a_service_on_its_grpc_port(overlay: tuple[str, Rendered]) -> None:
    _, rendered = overlay
    for deployment in _trove_deployments(rendered):
        env = rendered.env(deployment["spec"]["template"]["spec"]["containers"][0])
        for var, value in env.items():
            if var.endswith("_ADDR") or var.endswith("_DSN"):
                host, port = re.findall(r"(?:@|^)([a-z0-9-]+):(\d+)", value)[0]
                svc = rendered.named("Service", host)
                (svc_port,) = svc["spec"]["ports"]
                assert str(svc_port["port"]) == port, var
                target = next(
                    d
                    for d in rendered.workloads()
                    if all(
                        d["spec"]["template"]["metadata"]["labels"].get(k) == v
                        for k, v in svc["spec"]["selector"].items()
                    )
                )
                ports = {
                    p["name"]: p["containerPort"] for p in target["spec"]["template"]["spec"]["containers"][0]["ports"]
                }
                assert ports[svc_port["targetPort"]] == int(port), var


def _probe_port(probe: dict[str, Any]) -> int | str | None:
    for kind in ("grpc", "httpGet", "tcpSocket"):
        if kind in probe:
            port: int | str = probe[kind]["port"]
            return port
    return None  # exec


def test_every_probe_uses_a_port_the_container_opens(overlay: tuple[str, Rendered]) -> None:
    _, rendered = overlay
    probed = set()
    for workload in rendered.workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            opened = {p["containerPort"] for p in container.get("ports", [])} | {
                p["name"] for p in container.get("ports", [])
            }
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                if kind in container:
                    port = _probe_port(container[kind])
                    assert port is None or port in opened, (workload["metadata"]["name"], kind, port)
                    probed.add((workload["metadata"]["name"], kind))
    for server in ("billing", "ingest", "search", "analysis"):
        container = rendered.named("Deployment", f"trove-{server}")["spec"]["template"]["spec"]["containers"][0]
        assert "grpc" in container["readinessProbe"] and "grpc" in container["livenessProbe"]
    gateway = rendered.named("Deployment", "trove-gateway")["spec"]["template"]["spec"]["containers"][0]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_shutdown_is_graceful(overlay: tuple[str, Rendered]) -> None:
    _, rendered = overlay
    for deployment in _trove_deployments(rendered):
        pod = deployment["spec"]["template"]["spec"]
        env = rendered.env(pod["containers"][0])
        if deployment["metadata"]["name"].startswith("trove-worker-"):
            needed = float(env["TROVE_ANALYSIS_SHUTDOWN_GRACE_S"])
        else:
            prestop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
            grace = next((v for k, v in env.items() if k.endswith("_GRPC__GRACE_S")), "0")
            needed = float(grace) + prestop
        assert pod["terminationGracePeriodSeconds"] > needed, deployment["metadata"]["name"]


def test_pods_run_locked_down(overlay: tuple[str, Rendered]) -> None:
    _, rendered = overlay
    for workload in rendered.workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            where = (workload["metadata"]["name"], container["name"])
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] > 0, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert container["resources"]["requests"] and container["resources"]["limits"], where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            if container.get("image", "").split(":")[0].endswith("trove"):
                for path in ("/tmp", "/home/trove/.cache"):
                    assert "emptyDir" in volumes[mounts[path]], (where, path)


def test_workers_scale_on_their_queue(overlay: tuple[str, Rendered]) -> None:
    _, rendered = overlay
    namespace = OVERLAYS[overlay[0]]
    concurrency = FamilyConcurrency().model_dump()
    auth = rendered.named("TriggerAuthentication", "trove-redis")
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["key"] in rendered.named("Secret", ref["name"])["data"]
    for family in FAMILIES:
        scaled = rendered.named("ScaledObject", f"trove-worker-{family}")
        assert scaled["spec"]["scaleTargetRef"]["name"] == f"trove-worker-{family}"
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "redis" and trigger["authenticationRef"]["name"] == "trove-redis"
        meta = trigger["metadata"]
        assert meta["listName"] == family_queue(family)  # the queue the family's workers read
        assert int(meta["listLength"]) == concurrency[family]  # one replica per pool's worth of waiting jobs
        assert meta["address"] == f"trove-redis.{namespace}.svc.cluster.local:6379"
        deployment = rendered.named("Deployment", f"trove-worker-{family}")
        assert "replicas" not in deployment["spec"]  # KEDA owns it


def test_gateway_and_search_scale_on_cpu_and_nothing_is_left_unbudgeted(overlay: tuple[str, Rendered]) -> None:
    _, rendered = overlay
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in rendered.of("HorizontalPodAutoscaler")}
    assert set(hpas) == {"trove-gateway", "trove-search"}
    for name, hpa in hpas.items():
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        assert "replicas" not in rendered.named("Deployment", name)["spec"]
    budgets = [p["spec"]["selector"]["matchLabels"] for p in rendered.of("PodDisruptionBudget")]
    for deployment in _trove_deployments(rendered):
        assert deployment["spec"]["selector"]["matchLabels"] in budgets, deployment["metadata"]["name"]


def _allowed_callers(rendered: Rendered, component: str) -> list[set[str] | None]:
    """For each ingress rule of the policies selecting `component`: the trove-service values allowed (None: any)."""
    rules: list[set[str] | None] = []
    for policy in rendered.of("NetworkPolicy"):
        match = policy["spec"]["podSelector"].get("matchLabels", {})
        if match and match.get("app.kubernetes.io/component") == component:
            for rule in policy["spec"].get("ingress", []):
                if "from" not in rule:
                    rules.append(None)
                    continue
                allowed: set[str] = set()
                for peer in rule["from"]:
                    for expr in peer.get("podSelector", {}).get("matchExpressions", []):
                        allowed |= set(expr["values"])
                rules.append(allowed)
    return rules


def test_network_policies_follow_who_trusts_whom(overlay: tuple[str, Rendered]) -> None:
    name, rendered = overlay
    deny = rendered.named("NetworkPolicy", "trove-default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    open_to_all = {
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for p in rendered.of("NetworkPolicy")
        if any("from" not in r for r in p["spec"].get("ingress", []))
    }
    assert open_to_all == ({"gateway", "auth"} if name == "dev" else {"gateway"})
    for server in ("billing", "ingest", "search", "analysis"):
        assert _allowed_callers(rendered, server) == [set(SERVICE_CALLERS[server])], server
    assert _allowed_callers(rendered, "postgres") == [{"billing", "ingest", "analysis", "search", "migrate"}]
    assert _allowed_callers(rendered, "redis") == [{"gateway", "ingest", "analysis", "search"}]
    # No policy lets anything reach a worker: they call out, nobody calls them.
    for family in FAMILIES:
        assert _allowed_callers(rendered, f"worker-{family}") == []


def test_migration_job_provisions_the_database(overlay: tuple[str, Rendered], monkeypatch: pytest.MonkeyPatch) -> None:
    _, rendered = overlay
    from trove_stack.provision import Settings

    job = rendered.named("Job", "trove-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["python", "-m", "trove_stack.provision"]
    assert job["spec"]["template"]["metadata"]["labels"]["trove-service"] == "migrate"
    for key, value in rendered.env(container).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.postgres.host == "trove-postgres"
    assert settings.role_passwords["search"].get_secret_value() == rendered.secrets["TROVE_SECRET_DB_SEARCH"]
