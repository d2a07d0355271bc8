"""`emulator` mode: every token is checked with the Auth Emulator; nothing in a token's body is believed alone."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator

import httpx
import pytest
from support import Api, b64, running_gateway, with_claims

from trove_common.settings import ServiceAuthSettings, StorageSettings
from trove_gateway.app import create_app
from trove_gateway.identity import IdentityConfigError
from trove_gateway.settings import FirebaseSettings, HttpSettings, Settings
from trove_stack.config import PROJECT_ID
from trove_stack.infra import Infra, ServiceGroup

NewApi = Callable[..., Awaitable[Api]]
IDENTITY_TTL_S = 1


@pytest.fixture(scope="module")
def strict_gateway(infra: Infra, services: ServiceGroup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway that forgets what it knows of an account after IDENTITY_TTL_S."""
    overrides = {
        "TROVE_GATEWAY_AUTH__IDENTITY_TTL_S": str(IDENTITY_TTL_S),
        "TROVE_GATEWAY_USER_CACHE_TTL_S": str(IDENTITY_TTL_S),
    }
    with running_gateway(infra, data_dir=tmp_path_factory.mktemp("strict-gw"), overrides=overrides) as url:
        yield url


def unsigned_token(uid: str, **changes: object) -> str:
    """What anyone can write: an `alg: none` token in the emulator's shape."""
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT_ID}",
        "aud": PROJECT_ID,
        "sub": uid,
        "user_id": uid,
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        **changes,
    }
    return f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}))}.{b64(json.dumps(claims))}."


async def get(url: str, path: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["request_id"]


async def test_unsigned_token_for_an_unknown_account_is_401(gateway_url: str) -> None:
    for admin in (False, True):
        token = unsigned_token(f"nobody-{uuid.uuid4().hex}", admin=admin)
        assert_error(await get(gateway_url, "/api/v1/media", token), 401, "unauthenticated")
        assert_error(await get(gateway_url, "/api/v1/admin/reindex", token), 401, "unauthenticated")


async def test_an_admin_claim_written_into_a_token_grants_nothing(new_api: NewApi, gateway_url: str) -> None:
    user = await new_api()
    forged = with_claims(user.token, admin=True)
    assert (await get(gateway_url, "/api/v1/media", forged)).status_code == 200  # still the same user...
    assert_error(await get(gateway_url, "/api/v1/admin/reindex", forged), 403, "permission_denied")  # ...no admin
    other = with_claims(user.token, aud="demo-other")
    assert_error(await get(gateway_url, "/api/v1/media", other), 401, "unauthenticated")


async def test_an_admin_by_the_accounts_stored_claims_is_allowed(new_api: NewApi, gateway_url: str) -> None:
    admin = await new_api(admin=True)
    assert (await get(gateway_url, "/api/v1/admin/reindex", admin.token)).status_code == 200
    # The claim in the token's body is not what counts: without it, the stored claim still makes an admin.
    body_without = with_claims(admin.token, admin=False)
    assert (await get(gateway_url, "/api/v1/admin/reindex", body_without)).status_code == 200


async def _emulator(infra: Infra, operation: str, body: dict[str, object]) -> None:
    url = f"http://{infra.auth_emulator_host}/identitytoolkit.googleapis.com/v1/projects/{PROJECT_ID}/{operation}"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.post(url, json=body, headers={"Authorization": "Bearer owner"})
    response.raise_for_status()


async def _refused_within_bound(url: str, token: str) -> float:
    """Seconds until the gateway answers 401 to `token`."""
    start = time.monotonic()
    while (response := await get(url, "/api/v1/media", token)).status_code == 200:
        assert time.monotonic() - start < IDENTITY_TTL_S + 2, "still allowed after the identity TTL"
        await asyncio.sleep(0.2)
    assert_error(response, 401, "unauthenticated")
    return time.monotonic() - start


@pytest.mark.parametrize("how", ["disabled", "deleted"])
async def test_a_disabled_or_deleted_account_loses_access_within_the_ttl(
    infra: Infra, new_api: NewApi, strict_gateway: str, how: str
) -> None:
    user = await new_api()
    assert (await get(strict_gateway, "/api/v1/media", user.token)).status_code == 200
    if how == "disabled":
        await _emulator(infra, "accounts:update", {"localId": user.firebase_uid, "disableUser": True})
    else:
        await _emulator(infra, "accounts:delete", {"localId": user.firebase_uid})
    await _refused_within_bound(strict_gateway, user.token)


def _settings(*, host: str = "127.0.0.1", project_id: str = "demo-trove") -> Settings:
    return Settings(
        http=HttpSettings(host=host),
        firebase=FirebaseSettings(project_id=project_id, auth_emulator_host="127.0.0.1:9099"),
        storage=StorageSettings(signing_key="x" * 32),  # type: ignore[arg-type]
        service_auth=ServiceAuthSettings(token="y" * 32),  # type: ignore[arg-type]
    )


def test_emulator_mode_refuses_to_start_off_loopback_or_outside_demo_projects() -> None:
    create_app(_settings())  # loopback and demo-: fine
    with pytest.raises(IdentityConfigError, match=r"TROVE_GATEWAY_HTTP__HOST='0\.0\.0\.0'"):
        create_app(_settings(host="0.0.0.0"))
    with pytest.raises(IdentityConfigError, match="TROVE_GATEWAY_FIREBASE__PROJECT_ID='trove-prod'"):
        create_app(_settings(project_id="trove-prod"))
    with pytest.raises(IdentityConfigError, match="TROVE_GATEWAY_AUTH__MODE=emulator"):
        create_app(_settings(host="192.168.1.10", project_id="my-project"))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Token abc.def.ghi",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer " + "a" * 100_000 + ".b.c",
        "Bearer !!!.@@@.###",
        f"Bearer {b64('{not json')}.{b64('[1, 2]')}.",
        f"Bearer {b64('{}')}.{b64('not json at all')}.",
        f"Bearer {b64(bytes([0xFF, 0xFE, 0x00]))}.{b64(bytes([0x80]))}.",
        "Bearer " + unsigned_token("x", sub=12345),
        "Bearer " + unsigned_token("x", sub={"nested": True}),
        "Bearer " + unsigned_token("x", exp="tomorrow"),
        "Bearer " + unsigned_token("x", sub="u" * 5000),
    ],
    ids=lambda v: v[:40],
)
async def test_bad_authorization_is_401_with_the_error_body(gateway_url: str, authorization: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        response = await client.get("/api/v1/media", headers={"Authorization": authorization})
    assert_error(response, 401, "unauthenticated")
