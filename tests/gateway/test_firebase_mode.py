"""`firebase` mode, offline: what can be checked without Google. Forged tokens are never accepted."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest
from oidc_issuer import new_key
from pydantic import ValidationError
from support import b64

from trove_common.settings import ServiceAuthSettings, StorageSettings
from trove_gateway.app import create_app
from trove_gateway.settings import AuthSettings, FirebaseSettings, HttpSettings, Settings

PROJECT = "trove-real-project"


def firebase_settings(**firebase: object) -> Settings:
    return Settings(
        http=HttpSettings(host="0.0.0.0"),  # firebase mode may listen anywhere
        auth=AuthSettings(mode="firebase"),
        firebase=FirebaseSettings(project_id=PROJECT, **firebase),  # type: ignore[arg-type]
        storage=StorageSettings(signing_key="x" * 32),  # type: ignore[arg-type]
        service_auth=ServiceAuthSettings(token="y" * 32),  # type: ignore[arg-type]
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(firebase_settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=60) as client:
            yield client


def claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "sub": "someone",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "admin": True,
        **changes,
    }


async def test_unsigned_or_self_signed_tokens_are_refused(client: httpx.AsyncClient) -> None:
    unsigned = f"{b64(json.dumps({'alg': 'none'}))}.{b64(json.dumps(claims()))}."
    key = new_key()
    self_signed = jwt.encode(claims(), key.private, algorithm="RS256", headers={"kid": "made-up"})
    other_project = jwt.encode(claims(aud="demo-trove"), key.private, algorithm="RS256", headers={"kid": "x"})
    for token, statuses in ((unsigned, {401}), (other_project, {401}), (self_signed, {401, 503})):
        response = await client.get("/api/v1/admin/reindex", headers={"Authorization": f"Bearer {token}"})
        # Google's keys cannot be fetched here: a well-formed token is 503 (cannot check) or 401, never accepted.
        assert response.status_code in statuses, response.text
        assert response.json()["error"]["code"] in ("unauthenticated", "unavailable")


def test_the_emulator_cannot_be_configured_in_firebase_mode() -> None:
    with pytest.raises(ValidationError, match="AUTH_EMULATOR_HOST"):
        firebase_settings(auth_emulator_host="127.0.0.1:9099")
