"""A small OpenID Connect issuer the tests run themselves on 127.0.0.1: discovery, JWKS, authorize, token.

It speaks the protocol a real issuer does (Authentik, Keycloak): the authorization endpoint approves a test user
at once and redirects back with a code; the token endpoint checks the PKCE verifier (S256) and answers ID tokens
signed with keys the tests generate. Keys can be rotated (a new `kid`); `mint` signs any claims for bad-token tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from support import running_gateway

from trove_stack.infra import Infra

CLIENT_ID = "trove-web"
ADMIN_GROUP = "trove-admins"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.alg)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return jwk | {"kid": self.kid, "alg": self.alg, "use": "sig"}


def new_key(alg: str = "RS256") -> SigningKey:
    private: Any
    if alg.startswith(("RS", "PS")):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    return SigningKey(kid=f"key-{uuid.uuid4().hex[:8]}", alg=alg, private=private)


@dataclass
class IssuerUser:
    sub: str
    email: str
    groups: list[str] = field(default_factory=list)


@dataclass
class _Grant:
    user: IssuerUser
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str


class OidcIssuer:
    """The issuer's state; `serve()` runs it. `user` is who the authorization endpoint signs in next."""

    def __init__(self) -> None:
        self.keys = [new_key("RS256")]
        self.url = ""
        self.user = IssuerUser(sub=f"oidc-{uuid.uuid4().hex[:10]}", email="oidc-user@example.com")
        self.token_lifetime_s = 300
        self.grants: dict[str, _Grant] = {}
        self.refresh_tokens: dict[str, IssuerUser] = {}
        self.jwks_requests = 0

    @property
    def key(self) -> SigningKey:
        return self.keys[0]

    def rotate(self, alg: str = "RS256") -> SigningKey:
        """A new current key; the old one leaves the key set (as after a rotation with no overlap)."""
        self.keys = [new_key(alg)]
        return self.key

    def claims(self, user: IssuerUser, **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": user.sub,
            "email": user.email,
            "groups": user.groups,
            "iat": now,
            "exp": now + self.token_lifetime_s,
        }
        claims.update(changes)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(self, user: IssuerUser | None = None, *, key: SigningKey | None = None, **changes: Any) -> str:
        """An ID token of `user` (the current test user by default), signed with `key` (the current one)."""
        key = key or self.key
        return jwt.encode(
            self.claims(user or self.user, **changes), key.private, algorithm=key.alg, headers={"kid": key.kid}
        )

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "end_session_endpoint": f"{self.url}/logout",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys}),
            "code_challenge_methods_supported": ["S256"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """Approve the test user; (status, location or error)."""
        if query.get("response_type") != "code" or query.get("client_id") != CLIENT_ID:
            return 400, "unsupported response_type or unknown client"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, "PKCE (S256) is required"
        code = secrets.token_urlsafe(24)
        self.grants[code] = _Grant(
            user=self.user,
            client_id=query["client_id"],
            redirect_uri=query.get("redirect_uri", ""),
            challenge=query["code_challenge"],
            nonce=query.get("nonce", ""),
        )
        back = {"code": code, "state": query.get("state", "")}
        return 302, f"{query.get('redirect_uri', '')}?{urlencode(back)}"

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") == "refresh_token":
            user = self.refresh_tokens.get(form.get("refresh_token", ""))
            if user is None:
                return 400, {"error": "invalid_grant"}
            return 200, self._tokens(user, nonce="")
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if challenge != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
        if form.get("redirect_uri") != grant.redirect_uri or form.get("client_id") != grant.client_id:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri or client_id differs"}
        return 200, self._tokens(grant.user, nonce=grant.nonce)

    def _tokens(self, user: IssuerUser, *, nonce: str) -> dict[str, Any]:
        refresh = secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = user
        return {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_s,
            "refresh_token": refresh,
            "id_token": self.mint(user, nonce=nonce or None),
        }


def _handler(issuer: OidcIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self) -> None:
            self._send(
                204, None, {"Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "content-type"}
            )

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._send(200, issuer.discovery())
            elif parts.path == "/jwks":
                issuer.jwks_requests += 1
                self._send(200, {"keys": [k.public_jwk() for k in issuer.keys]})
            elif parts.path == "/authorize":
                status, location = issuer.authorize(query)
                if status == 302:
                    self._send(302, None, {"Location": location})
                else:
                    self._send(status, {"error": location})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path == "/token":
                status, body = issuer.token(form)
                self._send(status, body, {"Cache-Control": "no-store"})
            else:
                self._send(404, {"error": "not found"})

    return Handler


@contextmanager
def serve() -> Iterator[OidcIssuer]:
    """A running issuer on a free loopback port, stopped on exit."""
    issuer = OidcIssuer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(issuer))
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="oidc-issuer", daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def oidc_overrides(issuer: OidcIssuer) -> dict[str, str]:
    """A gateway's settings for this issuer, as a self-hoster writes them for theirs."""
    return {
        "TROVE_GATEWAY_AUTH__MODE": "oidc",
        "TROVE_GATEWAY_FIREBASE__AUTH_EMULATOR_HOST": "",
        "TROVE_GATEWAY_AUTH__OIDC__ISSUER": issuer.url,
        "TROVE_GATEWAY_AUTH__OIDC__CLIENT_ID": CLIENT_ID,
        "TROVE_GATEWAY_AUTH__OIDC__ADMIN_CLAIM": "groups",
        "TROVE_GATEWAY_AUTH__OIDC__ADMIN_VALUE": ADMIN_GROUP,
        "TROVE_GATEWAY_AUTH__OIDC__JWKS_MIN_REFRESH_S": "1",
    }


@contextmanager
def running_oidc_gateway(infra: Infra, *, data_dir: Path) -> Iterator[tuple[str, OidcIssuer]]:
    """An issuer and a second gateway (on the session's services) that trusts it; yields (gateway URL, issuer)."""
    with serve() as issuer, running_gateway(infra, data_dir=data_dir, overrides=oidc_overrides(issuer)) as url:
        yield url, issuer
