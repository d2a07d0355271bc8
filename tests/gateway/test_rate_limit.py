"""Abuse limits: token buckets in the real Redis, per user and per client address, answered with 429 + Retry-After."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from redis.asyncio import Redis
from support import Api

from trove_common.errors import RateLimitedError
from trove_gateway.rate_limit import RateLimiter, client_address, family_of
from trove_gateway.settings import Rate, RateLimitSettings
from trove_stack.config import free_ports
from trove_stack.infra import Infra


@pytest.fixture
async def redis(infra: Infra) -> AsyncIterator[Redis]:
    client = Redis.from_url(infra.redis_dsn)
    yield client
    await client.aclose()


def _limiter(redis: Redis, *, per_s: float, burst: int, tiers: dict[str, float] | None = None) -> RateLimiter:
    rate = Rate(per_s=per_s, burst=burst)
    settings = RateLimitSettings(
        per_user={"search": rate}, per_address={"search": rate}, tiers=tiers or {"free": 1.0, "pro": 2.0}
    )
    return RateLimiter(redis=redis, settings=settings)


async def test_a_bucket_empties_after_its_burst_and_refills_at_its_rate(redis: Redis) -> None:
    limiter = _limiter(redis, per_s=10, burst=3)
    user = uuid.uuid4().hex
    for _ in range(3):
        await limiter.take(scope="user", key=user, family="search")
    with pytest.raises(RateLimitedError) as refused:
        await limiter.take(scope="user", key=user, family="search")
    assert refused.value.details == {"family": "search", "scope": "user", "retry_after_s": 1}
    await asyncio.sleep(0.25)  # 10 tokens a second: two are back
    await limiter.take(scope="user", key=user, family="search")
    # Another user and the same key as an address have buckets of their own.
    await limiter.take(scope="user", key=uuid.uuid4().hex, family="search")
    await limiter.take(scope="address", key=user, family="search")


async def test_concurrent_requests_cannot_share_the_last_token(redis: Redis) -> None:
    limiter = _limiter(redis, per_s=0.01, burst=5)
    user = uuid.uuid4().hex

    async def one() -> bool:
        try:
            await limiter.take(scope="user", key=user, family="search")
        except RateLimitedError:
            return False
        return True

    outcomes = await asyncio.gather(*(one() for _ in range(40)))
    assert outcomes.count(True) == 5


async def test_a_tier_multiplies_the_bucket(redis: Redis) -> None:
    limiter = _limiter(redis, per_s=0.01, burst=2, tiers={"free": 1.0, "pro": 3.0})
    user = uuid.uuid4().hex
    for _ in range(6):
        await limiter.take(scope="user", key=user, family="search", tier="pro")
    with pytest.raises(RateLimitedError):
        await limiter.take(scope="user", key=user, family="search", tier="pro")


async def test_families_without_a_rate_and_a_disabled_limiter_let_everything_through(redis: Redis) -> None:
    limiter = _limiter(redis, per_s=0.01, burst=1)
    for _ in range(5):
        await limiter.take(scope="user", key="u", family="uploads")
    off = RateLimiter(redis=redis, settings=RateLimitSettings(enabled=False))
    for _ in range(500):
        await off.take(scope="user", key="u", family="search")


async def test_an_unreachable_redis_lets_requests_through() -> None:
    closed = Redis(host="127.0.0.1", port=free_ports(1)[0], socket_connect_timeout=0.5, socket_timeout=0.5)
    limiter = _limiter(closed, per_s=0.01, burst=1)
    for _ in range(3):
        await limiter.take(scope="user", key="u", family="search")
    await closed.aclose()


def test_route_families() -> None:
    assert family_of("/api/v1/search") == "search"
    assert family_of("/api/v1/media/abc/similar") == "search"
    assert family_of("/api/v1/uploads/abc/complete") == "uploads"
    assert family_of("/api/v1/admin/reindex") == "admin"
    assert family_of("/api/v1/jobs/dead") == "admin"
    assert family_of("/api/v1/media") == "api"
    assert family_of("/blobs/u/x") == "blobs"
    assert family_of("/healthz") is None
    assert family_of("/") is None


def test_the_client_address_believes_only_trusted_proxies() -> None:
    proxies = [ipaddress.ip_network("10.0.0.0/8")]
    # No proxy in front: X-Forwarded-For is the client's own words and ignored.
    assert client_address(peer="203.0.113.5", forwarded_for="198.51.100.1", trusted_proxies=proxies) == "203.0.113.5"
    # Through a trusted proxy: the nearest untrusted hop; what the client wrote to its left is ignored.
    assert (
        client_address(peer="10.0.0.2", forwarded_for="1.2.3.4, 198.51.100.1, 10.0.0.9", trusted_proxies=proxies)
        == "198.51.100.1"
    )
    # A proxy that forwarded nothing usable is itself the client.
    assert client_address(peer="10.0.0.2", forwarded_for="junk", trusted_proxies=proxies) == "10.0.0.2"
    assert client_address(peer="10.0.0.2", forwarded_for="", trusted_proxies=proxies) == "10.0.0.2"


def test_settings_refuse_an_unknown_family() -> None:
    with pytest.raises(ValueError, match="unknown route families"):
        RateLimitSettings(per_user={"serch": Rate(per_s=1, burst=1)})


async def test_a_burst_of_searches_gets_429_with_retry_after(new_api: Callable[..., Awaitable[Api]]) -> None:
    api = await new_api()
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> httpx.Response:
        async with gate:
            return await api.search(f"burst {i}")

    responses = await asyncio.gather(*(one(i) for i in range(160)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) >= 30, statuses
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "a burst of 160 searches was never limited"
    for response in limited:
        assert int(response.headers["retry-after"]) >= 1
        error = response.json()["error"]
        assert error["code"] == "rate_limited"
        assert error["details"]["scope"] == "user"
        assert error["request_id"]
    # Other users are not affected by this one's burst.
    other = await new_api()
    assert (await other.search("unrelated")).status_code == 200


async def test_an_address_is_limited_before_sign_in(gateway_url: str) -> None:
    # The session gateway trusts 127.0.0.1 as a proxy, so each test address here is a client of its own.
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        statuses = []
        for _ in range(80):
            response = await client.get("/api/v1/jobs/dead", headers={"X-Forwarded-For": address})
            statuses.append(response.status_code)
        assert set(statuses) == {401, 429}, statuses
        assert statuses[0] == 401 and statuses[-1] == 429
        assert int(response.headers["retry-after"]) >= 1
        other = await client.get("/api/v1/jobs/dead", headers={"X-Forwarded-For": "192.0.2.77"})
        assert other.status_code == 401
