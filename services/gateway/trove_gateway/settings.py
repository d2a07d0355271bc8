"""Gateway settings, from TROVE_GATEWAY_* environment variables."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from trove_common.settings import (
    GrpcAddress,
    LogLevel,
    MetricsSettings,
    OtelSettings,
    RedisSettings,
    ServiceAuthSettings,
    StorageSettings,
    env_config,
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class LimitSettings(BaseModel):
    """Bounds on what a client may send, checked at the edge before anything is parsed or forwarded."""

    # A JSON body (and any body but a signed upload's): Content-Length and the bytes actually read; 413 past it.
    max_json_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Arrays and objects nested deeper than this are refused (400) before the JSON parser sees them.
    max_json_depth: int = Field(default=32, ge=2, le=512)


class FirebaseSettings(BaseModel):
    project_id: str = "demo-trove"
    # host:port of the Firebase Auth Emulator (TROVE_GATEWAY_AUTH__MODE=emulator only).
    auth_emulator_host: str = ""
    # firebase mode: ask Firebase whether the account is disabled or its tokens revoked (cached up to
    # auth.identity_ttl_s); one Admin API call per user per TTL, with the service account's credentials.
    check_revoked: bool = False
    # The project's Web API key, which the web page sends with sign-in calls; public by design (it names the
    # project, it grants nothing). The Auth Emulator accepts any value.
    api_key: str = "fake-api-key"
    # Where the browser reaches the Auth REST APIs, when that differs from what the gateway uses (a container's
    # `auth:9099` is `localhost:9099` to the browser). Empty: http://<auth_emulator_host>, or Google's hosts.
    web_auth_url: str = ""


class Rate(BaseModel):
    """A token bucket: `burst` requests at once, then `per_s` a second."""

    per_s: float = Field(gt=0)
    burst: int = Field(ge=1)


# Per user: a person browsing, searching as they type or uploading a folder of photos from the web page never
# meets these; a script hammering the API does within seconds. An address may hold a household or an office
# behind one router, so its buckets are larger.
_PER_USER = {
    "search": Rate(per_s=3, burst=30),
    "uploads": Rate(per_s=10, burst=200),
    "admin": Rate(per_s=2, burst=20),
    "api": Rate(per_s=20, burst=300),
}
_PER_ADDRESS = {
    "search": Rate(per_s=15, burst=150),
    "uploads": Rate(per_s=40, burst=800),
    "admin": Rate(per_s=5, burst=50),
    "api": Rate(per_s=60, burst=1000),
    "blobs": Rate(per_s=60, burst=1000),
}


FAMILIES = ("search", "uploads", "admin", "api", "blobs")


class RateLimitSettings(BaseModel):
    """Token buckets per route family (search, uploads, admin, api, blobs), for each user and each client address.

    One figure can be changed alone, e.g. TROVE_GATEWAY_RATE_LIMITS__PER_USER__SEARCH__BURST=60; a family left
    out of a table is not limited in that scope.
    """

    enabled: bool = True
    per_user: dict[str, Rate] = Field(default_factory=lambda: dict(_PER_USER))
    per_address: dict[str, Rate] = Field(default_factory=lambda: dict(_PER_ADDRESS))
    # A user's rates and bursts are multiplied by their tier's factor (tiers not named here: 1).
    tiers: dict[str, float] = Field(default_factory=lambda: {"free": 1.0, "pro": 2.0, "premium": 4.0})
    # Reverse proxies whose X-Forwarded-For is believed (e.g. ["10.0.0.0/8"]); empty: the TCP peer is the client.
    trusted_proxies: list[IPNetwork] = Field(default_factory=list)

    @field_validator("per_user", "per_address")
    @classmethod
    def _known_families(cls, value: dict[str, Rate]) -> dict[str, Rate]:
        if unknown := sorted(set(value) - set(FAMILIES)):
            raise ValueError(f"unknown route families {unknown}; known: {', '.join(FAMILIES)}")
        return value


# Signing algorithms an OIDC issuer may use: asymmetric only. `none` and HS* (a shared secret the gateway would have
# to hold, and the classic "public key as HMAC secret" confusion) are refused.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class OidcSettings(BaseModel):
    """An OpenID Connect issuer (Authentik, Keycloak, Authelia, ...) whose ID tokens the gateway accepts."""

    # The issuer exactly as its tokens' `iss` says; discovery is read from <issuer>/.well-known/openid-configuration.
    issuer: str = ""
    # The client id the web app signs in with; ID tokens must name it in `aud`.
    client_id: str = ""
    # Extra audiences accepted besides client_id (other clients of the same API); usually empty.
    audiences: list[str] = Field(default_factory=list)
    scopes: str = "openid email profile"
    # The admin role: a claim (e.g. `groups`) holding this value, or equal to it; empty value: the claim is `true`.
    admin_claim: str = "groups"
    admin_value: str = "trove-admins"
    leeway_s: float = Field(default=30, ge=0, le=300)
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"], min_length=1)
    http_timeout_s: float = Field(default=5, gt=0)
    # The key set is fetched again after this long, and at most this often when a token names an unknown `kid`.
    jwks_ttl_s: float = Field(default=3600, gt=0)
    jwks_min_refresh_s: float = Field(default=30, ge=0)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        refused = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if refused:
            raise ValueError(f"only asymmetric algorithms ({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}); not {refused}")
        return value


class AuthSettings(BaseModel):
    """How the gateway verifies callers: `emulator` (development), `firebase` or `oidc`."""

    mode: Literal["emulator", "firebase", "oidc"] = "emulator"
    # The longest a disabled or deleted account keeps access: bounds every cache of identity in the gateway.
    identity_ttl_s: float = Field(default=60, ge=0, le=3600)
    # Tokens longer than this are refused before they are parsed.
    max_token_bytes: int = Field(default=8192, ge=1024, le=65536)
    oidc: OidcSettings = OidcSettings()


class Settings(BaseSettings):
    # Nested defaults are updated, not replaced, by the variables that name part of them (one rate, one tier).
    model_config = {**env_config("gateway"), "nested_model_default_partial_update": True}

    service_auth: ServiceAuthSettings = Field(default_factory=ServiceAuthSettings)
    http: HttpSettings = HttpSettings()
    auth: AuthSettings = AuthSettings()
    firebase: FirebaseSettings = FirebaseSettings()
    storage: StorageSettings
    otel: OtelSettings = OtelSettings()
    metrics: MetricsSettings = MetricsSettings()
    redis: RedisSettings = RedisSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    limits: LimitSettings = LimitSettings()
    log_level: LogLevel = "INFO"
    billing_addr: GrpcAddress = "127.0.0.1:50051"
    ingest_addr: GrpcAddress = "127.0.0.1:50052"
    analysis_addr: GrpcAddress = "127.0.0.1:50053"
    search_addr: GrpcAddress = "127.0.0.1:50054"
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call the API from a browser")
    user_cache_ttl_s: float = Field(
        default=60,
        ge=0,
        description="how long a subject -> user id mapping is kept (never longer than auth.identity_ttl_s)",
    )
    # The web page checks files against this before uploading; keep it equal to TROVE_INGEST_MAX_UPLOAD_BYTES,
    # which is what the server enforces.
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0, description="largest file the web page offers to upload")

    @model_validator(mode="after")
    def _auth_mode_settings(self) -> Settings:
        if self.auth.mode == "oidc" and not (self.auth.oidc.issuer and self.auth.oidc.client_id):
            raise ValueError("TROVE_GATEWAY_AUTH__MODE=oidc needs TROVE_GATEWAY_AUTH__OIDC__ISSUER and __CLIENT_ID")
        if self.auth.mode != "emulator" and self.firebase.auth_emulator_host:
            raise ValueError(
                f"TROVE_GATEWAY_FIREBASE__AUTH_EMULATOR_HOST is set but TROVE_GATEWAY_AUTH__MODE={self.auth.mode}: "
                "the emulator accepts unsigned tokens; unset it, or use mode emulator for development"
            )
        return self
