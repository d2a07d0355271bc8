"""Gateway settings, from TROVE_GATEWAY_* environment variables."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings

from trove_common.settings import (
    GrpcAddress,
    LogLevel,
    OtelSettings,
    ServiceAuthSettings,
    StorageSettings,
    env_config,
)


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


class Settings(BaseSettings):
    model_config = env_config("gateway")

    service_auth: ServiceAuthSettings = Field(default_factory=ServiceAuthSettings)
    http: HttpSettings = HttpSettings()
    firebase: FirebaseSettings = FirebaseSettings()
    storage: StorageSettings
    otel: OtelSettings = OtelSettings()
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
