"""Reusable settings blocks nested into each service's one Settings class (env prefix TROVE_<SVC>_, delimiter __)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict


def env_config(service: str) -> SettingsConfigDict:
    """The pydantic-settings configuration every service uses: `TROVE_<SERVICE>_FIELD__SUBFIELD`."""
    return SettingsConfigDict(
        env_prefix=f"TROVE_{service.upper()}_",
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )


class PostgresSettings(BaseModel):
    dsn: SecretStr = SecretStr("postgresql://localhost:5433/trove")
    pool_min: int = Field(default=1, ge=0)
    pool_max: int = Field(default=10, ge=1)
    command_timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0, description="a connection attempt slower than this fails")

    @field_validator("dsn")
    @classmethod
    def _postgres_scheme(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// DSN")
        return value


class RedisSettings(BaseModel):
    dsn: SecretStr = SecretStr("redis://127.0.0.1:6380/0")

    @field_validator("dsn")
    @classmethod
    def _redis_scheme(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// DSN")
        return value


class OtelSettings(BaseModel):
    """Trace ids are always made (they land in logs and follow calls); spans are recorded only with an exporter."""

    exporter: Literal["none", "console", "otlp"] = "none"
    endpoint: str = "http://127.0.0.1:4318/v1/traces"
    # How long finished spans wait in the batch before they are sent (the SDK's default is 5 s).
    export_delay_ms: int = Field(default=5000, ge=1, le=60_000)


class MetricsSettings(BaseModel):
    """Where the process serves Prometheus metrics (`GET /metrics`): its own port, 0 = off.

    Loopback by default; in a cluster set `host` to 0.0.0.0 and let a NetworkPolicy admit only Prometheus.
    Env: TROVE_<SVC>_METRICS__PORT, TROVE_<SVC>_METRICS__HOST.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)


class GrpcServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    grace_s: float = Field(default=10.0, ge=0)


class S3Settings(BaseModel):
    """An S3 bucket (AWS, or anything speaking its API: MinIO, moto) for `TROVE_<SVC>_STORAGE__BACKEND=s3`.

    Empty credentials fall back to botocore's own chain (AWS_* variables, ~/.aws, the instance or pod role).
    Env: TROVE_<SVC>_STORAGE__S3__BUCKET, __REGION, __ENDPOINT_URL, __ACCESS_KEY_ID, __SECRET_ACCESS_KEY.
    """

    bucket: str = ""
    region: str = "us-east-1"
    endpoint_url: str = Field(
        default="", description="empty: AWS itself; else e.g. http://127.0.0.1:9000 (moto, MinIO)"
    )
    access_key_id: SecretStr = SecretStr("")
    secret_access_key: SecretStr = SecretStr("")
    timeout_s: float = Field(default=30.0, gt=0, le=600, description="connect and read timeout of each S3 call")

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, or empty for AWS")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _both_or_neither(self) -> S3Settings:
        if bool(self.access_key_id.get_secret_value()) != bool(self.secret_access_key.get_secret_value()):
            raise ValueError("set both access_key_id and secret_access_key, or neither (botocore's chain)")
        return self


class StorageSettings(BaseModel):
    """Where media bytes live: `local` files under `root` behind the gateway's HMAC-signed URLs, or an `s3` bucket
    with presigned URLs. Signed and presigned URLs both live `url_ttl_s`."""

    backend: Literal["local", "s3"] = "local"
    root: Path = Path(".trove/blobs")
    signing_key: SecretStr = SecretStr("")
    public_url: str = "http://127.0.0.1:8080"
    url_ttl_s: int = Field(default=900, ge=10, le=7 * 24 * 3600)
    s3: S3Settings = S3Settings()

    @model_validator(mode="after")
    def _backend_complete(self) -> StorageSettings:
        if self.backend == "local" and len(self.signing_key.get_secret_value()) < 32:
            raise ValueError(
                "signing_key (STORAGE__SIGNING_KEY) must be at least 32 characters for the local backend "
                "(generate one with `openssl rand -hex 32`)"
            )
        if self.backend == "s3" and not self.s3.bucket:
            raise ValueError("the s3 backend needs a bucket: set STORAGE__S3__BUCKET")
        return self


MIN_TOKEN_CHARS = 32


def _long_token(value: SecretStr, *, what: str) -> SecretStr:
    if len(value.get_secret_value()) < MIN_TOKEN_CHARS:
        raise ValueError(
            f"{what} must be at least {MIN_TOKEN_CHARS} characters (generate one with `openssl rand -hex 32`)"
        )
    return value


class ServiceAuthSettings(BaseModel):
    """This process's credential on internal gRPC calls, and the credentials of the services allowed to call it.

    A server accepts a call only when its `x-trove-caller` names a key of `callers` and its
    `x-trove-service-token` equals that caller's token; `make run` generates every token into the stack's secrets.
    Env: TROVE_<SVC>_SERVICE_AUTH__TOKEN, TROVE_<SVC>_SERVICE_AUTH__CALLERS (JSON: {"gateway": "<its token>"}).
    """

    token: SecretStr = Field(default=SecretStr(""), validate_default=True)
    callers: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr) -> SecretStr:
        return _long_token(value, what="TROVE_<SERVICE>_SERVICE_AUTH__TOKEN")

    @field_validator("callers")
    @classmethod
    def _caller_tokens_long_enough(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, token in value.items():
            _long_token(token, what=f"the token of caller {name!r} in TROVE_<SERVICE>_SERVICE_AUTH__CALLERS")
        return value


class EmbedderSettings(BaseModel):
    """The sentence embedder of segments (analysis) and queries (search); both services must be given the same.

    `provider` local runs a BERT sentence encoder in the process (`model_dir`); openai calls any server that speaks
    OpenAI's `POST /v1/embeddings` (OpenAI, Ollama, vLLM, TEI, LocalAI, `python -m trove_ml.embed_server`) at
    `base_url` with `model`, `api_key` and, when set, `dimensions` (else the server's size, learnt by a first call).
    Its space is named `<model>/<dimension>`. Throttled calls (429) are retried by the SDK with backoff and jitter,
    `max_retries` times, honouring Retry-After.

    Changing it makes a new embedding space: search keeps answering from the old one until an admin's re-index
    (`POST /api/v1/admin/reindex`) has embedded every segment into the new one.
    Env: TROVE_<SVC>_EMBEDDER__PROVIDER, __BASE_URL, __MODEL, __DIMENSIONS, __API_KEY, __BATCH_SIZE, __MAX_RETRIES.
    """

    provider: Literal["local", "openai"] = "local"
    base_url: str = "https://api.openai.com/v1"
    model: str = Field(default="text-embedding-3-small", min_length=1, description="the model the server embeds with")
    dimensions: int | None = Field(default=None, ge=1, le=4096, description="sent to the server when set")
    api_key: SecretStr = SecretStr("")
    batch_size: int = Field(default=256, ge=1, le=2048, description="inputs per request (OpenAI takes 2048)")
    max_retries: int = Field(default=5, ge=0, le=20, description="retries of throttled or failed calls")
    timeout_s: float = Field(default=30.0, gt=0, description="one request's deadline")

    model_dir: Path | None = Field(
        default=None,
        description="a BERT sentence-transformers folder (config.json, tokenizer.json, model.safetensors); "
        "unset: the built-in all-MiniLM-L6-v2",
    )

    @field_validator("model_dir")
    @classmethod
    def _model_folder(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        missing = [
            name for name in ("config.json", "tokenizer.json", "model.safetensors") if not (value / name).is_file()
        ]
        if missing:
            raise ValueError(f"{value} is not a sentence-transformers model folder: missing {', '.join(missing)}")
        return value.resolve()

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. https://api.openai.com/v1")
        return value.rstrip("/")


class ImageTextSettings(BaseModel):
    """An image-text model (CLIP or SigLIP) that puts pictures and queries in one space; off unless a folder is given.

    Analysis embeds pictures and video keyframes with its image tower, search embeds queries with its text tower,
    so both services must be given the same folder. A similarity between `floor` (unrelated) and `ceil` (a good
    caption) is mapped to a 0-1 score; unset, they come from the model (see trove_ml.image_text).
    """

    model_dir: Path | None = Field(
        default=None,
        description="a Hugging Face CLIP or SigLIP folder (config.json, model.safetensors, tokenizer, "
        "preprocessor_config.json); unset: pictures are searched through their labels only",
    )
    floor: float | None = Field(default=None, ge=-1, le=1, description="cosine similarity of an unrelated picture")
    ceil: float | None = Field(default=None, ge=-1, le=1, description="cosine similarity of a well-captioned picture")

    @field_validator("model_dir")
    @classmethod
    def _model_folder(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        from trove_ml.image_text import check_folder  # here, not at the top: keeps torch out of other services

        check_folder(value)
        return value.resolve()

    @model_validator(mode="after")
    def _ordered(self) -> ImageTextSettings:
        if self.floor is not None and self.ceil is not None and self.floor >= self.ceil:
            raise ValueError("floor must be below ceil")
        return self


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not a host:port address")
    return value


# A gRPC peer address, `host:port`.
GrpcAddress = Annotated[str, AfterValidator(_host_port)]


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
