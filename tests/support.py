"""Test helpers shared by the suites: emulator sign-up and a small REST client for the gateway."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx

from trove_common.context import USER_ID_KEY
from trove_common.settings import S3Settings
from trove_protos.billing.v1 import billing_pb2, billing_pb2_grpc
from trove_stack.config import AWS_SIM_REGION, PROJECT_ID, StackConfig, free_ports
from trove_stack.infra import Infra, running_services
from trove_stack.services import SERVICES, gateway_ready

REPO = Path(__file__).resolve().parents[1]
# The sample corpus every test, bench script and `make eval` reads (sources and licences in its SOURCES.md).
DEV_MEDIA = REPO / "samples" / "media"


PASSWORD = "secret-pass-123"


async def sign_up(auth_host: str, *, admin: bool = False) -> tuple[str, str]:
    """A new user on the Firebase Auth Emulator; returns (ID token, Firebase uid).

    Args:
        admin: give the user the `admin` custom claim (set through the emulator's owner access, then signed in
            again so the token carries it).
    """
    email = f"test-{uuid.uuid4().hex[:10]}@example.com"
    base = f"http://{auth_host}/identitytoolkit.googleapis.com/v1"
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{base}/accounts:signUp?key=fake-api-key",
            json={"email": email, "password": PASSWORD, "returnSecureToken": True},
        )
        response.raise_for_status()
        body = response.json()
        if admin:
            claimed = await client.post(
                f"{base}/projects/{PROJECT_ID}/accounts:update",
                headers={"Authorization": "Bearer owner"},
                json={"localId": body["localId"], "customAttributes": json.dumps({"admin": True})},
            )
            claimed.raise_for_status()
            response = await client.post(
                f"{base}/accounts:signInWithPassword?key=fake-api-key",
                json={"email": email, "password": PASSWORD, "returnSecureToken": True},
            )
            response.raise_for_status()
            body = response.json()
    return body["idToken"], body["localId"]


def expired_token(token: str) -> str:
    """The same emulator token with its expiry moved into the past (emulator tokens are unsigned)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["iat"] = claims["auth_time"] = int(time.time()) - 7200
    claims["exp"] = int(time.time()) - 3600
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{encoded}.{signature}"


@dataclass
class Api:
    """One signed-in user talking to the gateway."""

    base_url: str
    token: str
    firebase_uid: str = ""

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = self._headers(kwargs.pop("headers", None))
        async with httpx.AsyncClient(base_url=self.base_url, timeout=60) as client:
            return await client.request(method, path, headers=headers, **kwargs)

    async def create_upload(self, filename: str, content_type: str, size_bytes: int, **kw: Any) -> httpx.Response:
        return await self.request(
            "POST",
            "/api/v1/uploads",
            json={"filename": filename, "content_type": content_type, "size_bytes": size_bytes},
            **kw,
        )

    async def put(self, ticket: dict[str, Any], data: bytes) -> httpx.Response:
        async with httpx.AsyncClient(timeout=60) as client:
            return await client.request(ticket["method"], ticket["upload_url"], content=data, headers=ticket["headers"])

    async def upload(self, data: bytes, filename: str, content_type: str, **kw: Any) -> str:
        """Create, PUT and complete an upload; returns the media id."""
        created = await self.create_upload(filename, content_type, len(data), **kw)
        assert created.status_code == 201, created.text
        ticket = created.json()
        put = await self.put(ticket, data)
        assert put.status_code == 200, put.text
        done = await self.request("POST", f"/api/v1/uploads/{ticket['upload_id']}/complete", **kw)
        assert done.status_code == 202, done.text
        return str(done.json()["media_id"])

    async def wait_done(self, media_id: str, timeout_s: float = 180, poll_s: float = 0.5) -> dict[str, Any]:
        """Poll until the media's analysis ends (completed or failed)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = await self.request("GET", f"/api/v1/media/{media_id}")
            assert response.status_code == 200, response.text
            media: dict[str, Any] = response.json()
            if media["status"] in ("completed", "failed"):
                return media
            await asyncio.sleep(poll_s)
        raise AssertionError(f"media {media_id} still {media['status']} after {timeout_s} s")

    async def search(self, q: str, *, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        return await self.request("GET", "/api/v1/search", params={"q": q, **params}, headers=headers)


async def billing_user(channel: grpc.aio.Channel) -> str:
    """A new Trove user as the gateway makes one on first sign-in (through billing); returns the user id."""
    stub = billing_pb2_grpc.BillingServiceStub(channel)
    response = await stub.EnsureUser(billing_pb2.EnsureUserRequest(firebase_uid=f"uid-{uuid.uuid4().hex}"))
    return str(response.user.user_id)


def as_user(user_id: str) -> tuple[tuple[str, str], ...]:
    """gRPC metadata naming the calling user, as the gateway sets it."""
    return ((USER_ID_KEY, user_id),)


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, claims and signature of a JWT, unverified."""
    header, payload, signature = token.split(".")
    return _b64_json(header), _b64_json(payload), signature


def _b64_json(segment: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def with_claims(token: str, **changes: Any) -> str:
    """The same token with claims changed in its body (the signature no longer matches, if there was one)."""
    header, payload, signature = token.split(".")
    claims = _b64_json(payload) | changes
    return f"{header}.{b64(json.dumps(claims))}.{signature}"


@contextlib.contextmanager
def running_gateway(infra: Infra, *, data_dir: Path, overrides: Mapping[str, str]) -> Iterator[str]:
    """A second gateway process on the session's services, with its own settings; yields its URL."""
    (port,) = free_ports(1)
    cfg = dataclasses.replace(infra.config, data_dir=data_dir, gateway_port=port).with_new_metrics_ports()
    for folder in (cfg.log_dir, cfg.run_dir):
        folder.mkdir(parents=True, exist_ok=True)
    env = {"TROVE_GATEWAY_STORAGE__ROOT": str(infra.config.blobs_dir), **overrides}
    gateway = [spec for spec in SERVICES if spec.name == "gateway"]
    with running_services(dataclasses.replace(infra, config=cfg), specs=gateway, overrides=env):
        deadline = time.monotonic() + 60
        while not gateway_ready(cfg):
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway not ready; see {cfg.log_path('gateway')}")
            time.sleep(0.2)
        yield cfg.gateway_url


@dataclass(frozen=True, slots=True)
class S3Stack:
    """A second set of Trove's services on the session's infra with `TROVE_<SVC>_STORAGE__BACKEND=s3`, their media
    in a bucket of the AWS simulator (moto behind trove_stack.aws_gate), their queues in Redis database 2."""

    config: StackConfig
    infra: Infra
    overrides: dict[str, str]
    s3: S3Settings
    """The bucket, endpoint and credentials the services use."""

    @property
    def gateway_url(self) -> str:
        return self.config.gateway_url

    async def api(self, *, admin: bool = False) -> Api:
        """A fresh user signed up on the emulator, talking to this stack's gateway."""
        token, uid = await sign_up(self.infra.auth_emulator_host, admin=admin)
        return Api(base_url=self.gateway_url, token=token, firebase_uid=uid)


def sim_s3_settings(cfg: StackConfig, infra: Infra, **changes: object) -> S3Settings:
    """The bucket of the AWS simulator `cfg` names, with the stack's credential (`changes` override fields)."""
    values: dict[str, object] = {
        "bucket": cfg.s3_bucket,
        "region": AWS_SIM_REGION,
        "endpoint_url": cfg.aws_url,
        "access_key_id": infra.secrets.aws_access_key_id,
        "secret_access_key": infra.secrets.aws_secret_access_key,
    }
    return S3Settings.model_validate(values | changes)


@dataclass(frozen=True, slots=True)
class CloudStack:
    """Trove's services with every stage on its (simulated) cloud provider; see the `cloud_stack` fixture."""

    config: StackConfig
    infra: Infra

    @property
    def gateway_url(self) -> str:
        return self.config.gateway_url

    @property
    def sim_url(self) -> str:
        """trove_awssim: its /_sim/ routes throttle calls, revoke the key and list the calls it answered."""
        return self.config.awssim_url

    async def api(self) -> Api:
        token, uid = await sign_up(self.infra.auth_emulator_host)
        return Api(base_url=self.gateway_url, token=token, firebase_uid=uid)


# A further stack on the session's database (own queues, own storage) must not run ingest's cross-user loops: its
# ingest would resume or re-queue other stacks' media onto its own queue, where its worker cannot find their
# files (the budget e2e failed so, intermittently: the s3 stack resumed its blocked file first).
SHARED_DATABASE_OVERRIDES = {
    "TROVE_INGEST_BUDGET_RECHECK_S": "86400",
    "TROVE_INGEST_REQUEUE_STALE_S": "86400",
    "TROVE_INGEST_SWEEP_EVERY_S": "86400",
}
