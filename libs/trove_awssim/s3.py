"""Reads and writes of the simulator's S3 (moto's server): Rekognition's S3 images, Transcribe's media and output."""

from __future__ import annotations

from typing import Any

import aioboto3
from botocore.config import Config
from botocore.exceptions import ClientError

from trove_awssim.wire import AwsError


class S3Reader:
    """An S3 client of the endpoint the simulated services share (moto takes any credentials; a gate in front of
    it, as in trove_stack, takes the pair it was given)."""

    def __init__(self, *, endpoint_url: str | None, region: str, credentials: tuple[str, str] | None = None) -> None:
        self.endpoint_url = endpoint_url
        key, secret = credentials or ("awssim", "awssim")
        self._session = aioboto3.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
        self._config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3})

    def _client(self) -> Any:
        if self.endpoint_url is None:
            raise AwsError("InvalidS3ObjectException", "the simulator was started without an S3 endpoint")
        return self._session.client("s3", endpoint_url=self.endpoint_url, config=self._config)

    async def read(self, *, bucket: str, key: str) -> bytes:
        async with self._client() as s3:
            try:
                got = await s3.get_object(Bucket=bucket, Key=key)
                async with got["Body"] as stream:
                    data: bytes = await stream.read()
                    return data
            except ClientError as exc:
                raise AwsError("InvalidS3ObjectException", f"Unable to get object metadata from S3: {exc}") from exc

    async def write(self, *, bucket: str, key: str, data: bytes) -> None:
        async with self._client() as s3:
            await s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/json")
