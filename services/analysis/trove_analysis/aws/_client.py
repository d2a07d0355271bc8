"""Clients of the AWS services with the configured credentials, endpoints and retries, and their errors in ours."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import aioboto3
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

from trove_analysis.aws.settings import ENV, AwsSettings
from trove_analysis.errors import ProviderSetupError

logger = logging.getLogger(__name__)

Service = Literal["rekognition", "transcribe", "comprehend", "s3"]

# Codes AWS answers for a key it does not know, a wrong secret or a policy that does not allow the call.
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "ExpiredToken",
        "MissingAuthenticationTokenException",
        "IncompleteSignature",
        "AccessDeniedException",
        "AccessDenied",
    }
)
CREDENTIAL_SETTINGS = f"{ENV}ACCESS_KEY_ID and {ENV}SECRET_ACCESS_KEY"


def per_started(seconds: float, *, minimum: float) -> float:
    """Whole seconds billed, at least `minimum` (Transcribe: per second, 15 s minimum)."""
    return max(minimum, float(math.ceil(seconds)))


class AwsClients:
    """Opens clients of one service at a time; botocore retries throttled calls with backoff and jitter."""

    def __init__(self, settings: AwsSettings) -> None:
        self.settings = settings
        secret = settings.secret_access_key
        self._session = aioboto3.Session(
            aws_access_key_id=settings.access_key_id.get_secret_value() if settings.access_key_id else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            aws_session_token=settings.session_token.get_secret_value() if settings.session_token else None,
            region_name=settings.region,
        )
        self._config = Config(
            retries={"mode": settings.retry_mode, "total_max_attempts": settings.max_attempts},
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
            s3={"addressing_style": "path"} if settings.endpoints.s3 else None,
        )

    @asynccontextmanager
    async def client(self, service: Service) -> AsyncIterator[Any]:
        """A client of `service`; AWS's refusals of the credentials come out as ProviderSetupError."""
        endpoint = getattr(self.settings.endpoints, service)
        async with aws_errors(service), self._session.client(service, endpoint_url=endpoint, config=self._config) as c:
            yield c


@asynccontextmanager
async def aws_errors(service: str, *, bucket: str = "", bucket_setting: str = "") -> AsyncIterator[None]:
    """Refusals that no retry mends as ProviderSetupError naming the setting to fix; anything else as it is."""
    try:
        yield
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise ProviderSetupError(f"no AWS credentials for {service}: set {CREDENTIAL_SETTINGS}") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", ""))
        if code in CREDENTIAL_CODES:
            raise ProviderSetupError(
                f"AWS {service} refused the credentials ({code}: {message}); check {CREDENTIAL_SETTINGS} "
                "and that the key's IAM policy allows the call"
            ) from exc
        if code == "NoSuchBucket" and bucket_setting:
            raise ProviderSetupError(f"the S3 bucket {bucket!r} does not exist; check {ENV}{bucket_setting}") from exc
        raise
