"""`oidc` mode: ID tokens of any OpenID Connect issuer, verified with the keys its discovery document names.

The key set (JWKS) is cached and fetched again when a token names a key the cache does not hold (the issuer
rotated its keys), at most once per `jwks_min_refresh_s`. Only asymmetric algorithms are accepted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from trove_common.errors import UnauthenticatedError, UnavailableError
from trove_gateway.identity._token import INVALID, subject_claim, unverified_parts
from trove_gateway.identity.emulator import is_loopback
from trove_gateway.identity.model import Identity, IdentityConfigError
from trove_gateway.settings import OidcSettings

logger = logging.getLogger(__name__)


def check_oidc_startup(settings: OidcSettings) -> None:
    """The issuer must be https (plain http only on loopback, for tests and local issuers)."""
    parts = urlsplit(settings.issuer)
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        return
    raise IdentityConfigError(
        f"TROVE_GATEWAY_AUTH__OIDC__ISSUER={settings.issuer!r} must be an https:// URL (http only on loopback)"
    )


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The parts of the issuer's discovery document Trove uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str = ""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One key of the issuer's set; `alg` is what the key set pins it to, when it does."""

    jwk: jwt.PyJWK
    alg: str | None


class OidcProvider:
    """The issuer's discovery document and key set, fetched with timeouts and cached."""

    def __init__(self, settings: OidcSettings) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(timeout=settings.http_timeout_s, follow_redirects=False)
        self._lock = asyncio.Lock()
        self._metadata: ProviderMetadata | None = None
        self._keys: dict[str | None, SigningKey] = {}
        self._keys_fetched_at = -float("inf")

    @property
    def cached_metadata(self) -> ProviderMetadata | None:
        return self._metadata

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning("OIDC issuer request failed", extra={"what": what, "error": repr(exc)[:200]})
            raise UnavailableError(f"cannot read the identity provider's {what}") from None
        if not isinstance(body, dict):
            raise UnavailableError(f"the identity provider's {what} is not a JSON object")
        return body

    async def metadata(self) -> ProviderMetadata:
        if self._metadata is not None:
            return self._metadata
        async with self._lock:
            if self._metadata is None:
                self._metadata = await self._discover()
        return self._metadata

    async def _discover(self) -> ProviderMetadata:
        issuer = self._settings.issuer
        doc = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery document")
        if doc.get("issuer") != issuer:
            # OpenID Connect Discovery 1.0, section 4.3: the document must name exactly the configured issuer.
            raise UnavailableError("the identity provider's discovery document names another issuer")
        try:
            return ProviderMetadata(
                issuer=issuer,
                authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]),
                jwks_uri=str(doc["jwks_uri"]),
                end_session_endpoint=str(doc.get("end_session_endpoint") or ""),
            )
        except KeyError as exc:
            raise UnavailableError(f"the identity provider's discovery document has no {exc}") from None

    async def signing_key(self, kid: str | None) -> SigningKey:
        """The key named `kid` (or the only key, for tokens without one); refetches the set once when unknown."""
        now = time.monotonic()
        stale = now - self._keys_fetched_at > self._settings.jwks_ttl_s
        if stale or (kid not in self._keys and now - self._keys_fetched_at >= self._settings.jwks_min_refresh_s):
            async with self._lock:
                if self._keys_fetched_at < now:  # nobody fetched while this waited for the lock
                    await self._fetch_keys()
        key = self._keys.get(kid)
        if key is None:
            raise UnauthenticatedError("the ID token is signed with an unknown key")
        return key

    async def _fetch_keys(self) -> None:
        metadata = self._metadata or await self._discover()
        self._metadata = metadata
        doc = await self._get_json(metadata.jwks_uri, "key set")
        keys: dict[str | None, SigningKey] = {}
        for data in doc.get("keys") or []:
            if not isinstance(data, dict) or data.get("use", "sig") != "sig" or data.get("kty") == "oct":
                continue
            try:
                jwk = jwt.PyJWK(data)
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue  # a key type or curve this gateway does not support, or a broken entry
            kid, alg = data.get("kid"), data.get("alg")
            keys[kid if isinstance(kid, str) else None] = SigningKey(jwk=jwk, alg=alg if isinstance(alg, str) else None)
        if len(keys) == 1:
            keys[None] = next(iter(keys.values()))
        self._keys = keys
        self._keys_fetched_at = time.monotonic()
        logger.info("OIDC key set fetched", extra={"keys": len(doc.get("keys") or [])})

    async def aclose(self) -> None:
        await self._client.aclose()


def _has_role(value: Any, wanted: str) -> bool:
    if not wanted:
        return value is True
    if isinstance(value, list):
        return wanted in value
    return bool(value == wanted)


class OidcVerifier:
    """Signature with the issuer's key, then iss, aud (and azp), exp, nbf, iat with leeway; the admin claim."""

    def __init__(self, *, settings: OidcSettings, provider: OidcProvider) -> None:
        self._settings = settings
        self._provider = provider
        self._audiences = [settings.client_id, *settings.audiences]

    async def verify(self, token: str) -> Identity:
        header, _ = unverified_parts(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._settings.algorithms:
            raise UnauthenticatedError(f"the ID token's algorithm is not accepted ({str(alg)[:20]})")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise UnauthenticatedError(INVALID)
        key = await self._provider.signing_key(kid)
        if key.alg is not None and key.alg != alg:
            raise UnauthenticatedError("the ID token's algorithm does not match its key")
        claims = self._decode(token, key=key, alg=alg)
        subject = subject_claim(claims)
        azp = claims.get("azp")
        if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1 and azp != self._settings.client_id:
            raise UnauthenticatedError("the ID token was issued to another client")
        email = claims.get("email")
        return Identity(
            subject=subject,
            email=email if isinstance(email, str) else "",
            admin=_has_role(claims.get(self._settings.admin_claim), self._settings.admin_value),
        )

    def _decode(self, token: str, *, key: SigningKey, alg: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.jwk.key,
                algorithms=[alg],
                audience=self._audiences,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthenticatedError("the ID token has expired; refresh it and try again") from None
        except jwt.ImmatureSignatureError:
            raise UnauthenticatedError("the ID token is not valid yet") from None
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            logger.info("rejected ID token", extra={"reason": str(exc)[:200]})
            raise UnauthenticatedError(INVALID) from None
        return claims

    async def aclose(self) -> None:
        await self._provider.aclose()
