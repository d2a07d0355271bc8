"""`oidc` mode against an issuer the tests run themselves: what is accepted, what is refused, key rotation."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from oidc_issuer import ADMIN_GROUP, CLIENT_ID, IssuerUser, OidcIssuer, new_key, running_oidc_gateway
from pydantic import ValidationError
from support import b64

from trove_common.settings import ServiceAuthSettings, StorageSettings
from trove_gateway.app import create_app
from trove_gateway.identity import IdentityConfigError
from trove_gateway.settings import AuthSettings, HttpSettings, OidcSettings, Settings
from trove_stack.infra import Infra, ServiceGroup


@dataclass(frozen=True, slots=True)
class OidcGateway:
    url: str
    issuer: OidcIssuer


@pytest.fixture(scope="module")
def oidc(infra: Infra, services: ServiceGroup, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcGateway]:
    with running_oidc_gateway(infra, data_dir=tmp_path_factory.mktemp("oidc-gw")) as (url, issuer):
        yield OidcGateway(url=url, issuer=issuer)


async def call(oidc: OidcGateway, token: str, path: str = "/api/v1/media") -> httpx.Response:
    async with httpx.AsyncClient(base_url=oidc.url, timeout=30) as client:
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})


async def assert_401(oidc: OidcGateway, token: str, message: str = "") -> None:
    response = await call(oidc, token)
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "unauthenticated" and error["request_id"]
    assert message in error["message"]


def unsigned(header: dict[str, object], claims: dict[str, object], signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header))}.{b64(json.dumps(claims))}.{b64(signature)}"


async def test_a_valid_token_is_accepted(oidc: OidcGateway) -> None:
    response = await call(oidc, oidc.issuer.mint())
    assert response.status_code == 200, response.text
    # Within the leeway (30 s) a just-expired token still passes; beyond it, not.
    now = int(time.time())
    assert (await call(oidc, oidc.issuer.mint(exp=now - 10, iat=now - 310))).status_code == 200


async def test_time_audience_and_issuer_are_checked(oidc: OidcGateway) -> None:
    issuer, now = oidc.issuer, int(time.time())
    await assert_401(oidc, issuer.mint(exp=now - 120, iat=now - 420), "expired")
    await assert_401(oidc, issuer.mint(nbf=now + 600), "not valid yet")
    await assert_401(oidc, issuer.mint(iat=now + 600, exp=now + 900))
    await assert_401(oidc, issuer.mint(aud="another-client"))
    await assert_401(oidc, issuer.mint(aud=["another-client", CLIENT_ID], azp="another-client"))
    await assert_401(oidc, issuer.mint(iss="https://evil.example.com"))
    await assert_401(oidc, issuer.mint(exp=None))
    await assert_401(oidc, issuer.mint(sub=12345))
    await assert_401(oidc, issuer.mint(sub=None))


async def test_forged_tokens_are_refused(oidc: OidcGateway) -> None:
    issuer = oidc.issuer
    claims = issuer.claims(issuer.user)
    # alg none, with and without the issuer's kid.
    await assert_401(oidc, unsigned({"alg": "none", "kid": issuer.key.kid}, claims), "algorithm")
    await assert_401(oidc, unsigned({"alg": "none"}, claims), "algorithm")
    # HS256 with the issuer's public key as the HMAC secret (the classic key-confusion attack).
    public_pem = issuer.key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "kid": issuer.key.kid, "typ": "JWT"}
    signing_input = f"{b64(json.dumps(header))}.{b64(json.dumps(claims))}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    await assert_401(oidc, f"{signing_input}.{b64(mac)}", "algorithm")
    # Signed with a key the issuer never published (a kid of its own, or the issuer's kid).
    stranger = new_key()
    await assert_401(oidc, issuer.mint(key=stranger), "unknown key")
    stranger.kid = issuer.key.kid
    await assert_401(oidc, issuer.mint(key=stranger))
    # A good token whose body was changed afterwards: another subject, or the admin group added.
    good = issuer.mint()
    head, _, signature = good.split(".")
    for changes in ({"sub": "someone-else"}, {"groups": [ADMIN_GROUP]}):
        await assert_401(oidc, f"{head}.{b64(json.dumps(claims | changes))}.{signature}")


async def test_the_admin_claim_grants_the_admin_routes(oidc: OidcGateway) -> None:
    issuer = oidc.issuer
    admin = IssuerUser(sub=f"admin-{uuid.uuid4().hex[:8]}", email="admin@example.com", groups=["staff", ADMIN_GROUP])
    plain = IssuerUser(sub=f"user-{uuid.uuid4().hex[:8]}", email="user@example.com", groups=["staff"])
    assert (await call(oidc, issuer.mint(admin), "/api/v1/admin/reindex")).status_code == 200
    denied = await call(oidc, issuer.mint(plain), "/api/v1/admin/reindex")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"


async def test_a_rotated_key_is_accepted_after_the_key_set_is_fetched_again(oidc: OidcGateway) -> None:
    issuer = oidc.issuer
    old_key = issuer.key
    old_token = issuer.mint()
    assert (await call(oidc, old_token)).status_code == 200
    fetched = issuer.jwks_requests
    issuer.rotate("ES256")
    await asyncio.sleep(1.1)  # past jwks_min_refresh_s since the last fetch
    assert (await call(oidc, issuer.mint())).status_code == 200
    assert issuer.jwks_requests == fetched + 1
    # The old key left the set: its tokens are refused now, and unknown kids do not refetch more than once a second.
    await assert_401(oidc, issuer.mint(key=old_key), "unknown key")
    for _ in range(5):
        await assert_401(oidc, issuer.mint(key=new_key()), "unknown key")
    assert issuer.jwks_requests <= fetched + 2


async def test_the_page_is_told_where_to_sign_in(oidc: OidcGateway) -> None:
    async with httpx.AsyncClient(base_url=oidc.url, timeout=30) as client:
        config = (await client.get("/config.json")).json()
        page = await client.get("/")
    assert config["authMode"] == "oidc"
    assert config["oidc"] == {
        "issuer": oidc.issuer.url,
        "authorizationEndpoint": f"{oidc.issuer.url}/authorize",
        "tokenEndpoint": f"{oidc.issuer.url}/token",
        "endSessionEndpoint": f"{oidc.issuer.url}/logout",
        "clientId": CLIENT_ID,
        "scopes": "openid email profile",
    }
    assert "apiKey" not in config
    policy = dict(part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";"))
    assert oidc.issuer.url in policy["connect-src"].split()
    assert policy["form-action"].split() == ["'self'", oidc.issuer.url]


def _oidc_settings(**oidc: object) -> Settings:
    return Settings(
        http=HttpSettings(host="0.0.0.0"),
        auth=AuthSettings(mode="oidc", oidc=OidcSettings(**oidc)),  # type: ignore[arg-type]
        storage=StorageSettings(signing_key="x" * 32),  # type: ignore[arg-type]
        service_auth=ServiceAuthSettings(token="y" * 32),  # type: ignore[arg-type]
    )


def test_unsafe_oidc_settings_are_refused_at_startup() -> None:
    create_app(_oidc_settings(issuer="https://auth.example.org/realms/home", client_id="trove"))
    for algorithms in (["HS256"], ["none"], ["RS256", "HS512"]):
        with pytest.raises(ValidationError, match="only asymmetric algorithms"):
            _oidc_settings(issuer="https://auth.example.org", client_id="trove", algorithms=algorithms)
    with pytest.raises(ValidationError, match="TROVE_GATEWAY_AUTH__OIDC__ISSUER"):
        _oidc_settings(client_id="trove")
    with pytest.raises(IdentityConfigError, match="must be an https:// URL"):
        create_app(_oidc_settings(issuer="http://auth.example.org", client_id="trove"))
