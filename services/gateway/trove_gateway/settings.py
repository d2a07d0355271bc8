"""Gateway settings, from TROVE_GATEWAY_* environment variables."""

from __future__ import annotations

import ipaddress

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings

from trove_common.settings import (
    GrpcAddress,
    LogLevel,
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


class FirebaseSettings(BaseModel):
    project_id: str = "demo-trove"
    # host:port of the Firebase Auth Emulator; empty means real Firebase (tokens checked against Google's keys).
    auth_emulator_host: str = ""
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


class Settings(BaseSettings):
    # Nested defaults are updated, not replaced, by the variables that name part of them (one rate, one tier).
    model_config = {**env_config("gateway"), "nested_model_default_partial_update": True}

    service_auth: ServiceAuthSettings = Field(default_factory=ServiceAuthSettings)
    http: HttpSettings = HttpSettings()
    firebase: FirebaseSettings = FirebaseSettings()
    storage: StorageSettings
    otel: OtelSettings = OtelSettings()
    redis: RedisSettings = RedisSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    log_level: LogLevel = "INFO"
    billing_addr: GrpcAddress = "127.0.0.1:50051"
    ingest_addr: GrpcAddress = "127.0.0.1:50052"
    analysis_addr: GrpcAddress = "127.0.0.1:50053"
    search_addr: GrpcAddress = "127.0.0.1:50054"
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call the API from a browser")
    user_cache_ttl_s: float = Field(default=300, ge=0, description="how long a Firebase uid -> user id mapping is kept")
    # The web page checks files against this before uploading; keep it equal to TROVE_INGEST_MAX_UPLOAD_BYTES,
    # which is what the server enforces.
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0, description="largest file the web page offers to upload")
