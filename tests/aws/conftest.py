"""The simulated cloud for the AWS providers' tests: moto's S3 server and trove_awssim, on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
from aws.cloud_support import Sim, settings_for

from trove_analysis.aws._client import AwsClients
from trove_awssim.launch import Cloud, running_cloud
from trove_common.offload import ModelExecutor


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    with running_cloud(log_dir=tmp_path_factory.mktemp("cloud")) as running:
        yield running


@pytest.fixture
async def sim(cloud: Cloud) -> AsyncIterator[Sim]:
    sim = Sim(cloud.sim)
    await sim.reset()
    yield sim
    await sim.reset()
    await sim.close()


@pytest.fixture
def s3(cloud: Cloud) -> Iterator[Any]:
    client = boto3.client(
        "s3", endpoint_url=cloud.s3, region_name=cloud.region, aws_access_key_id="x", aws_secret_access_key="y"
    )
    yield client
    client.close()


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"trove-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def clients(cloud: Cloud, bucket: str) -> AwsClients:
    return AwsClients(settings_for(cloud, bucket=bucket))


@pytest.fixture(scope="session")
def executor() -> Iterator[ModelExecutor]:
    pool = ModelExecutor(threads=2)
    yield pool
    pool.shutdown()
