"""Abuse limits: token buckets in Redis per user and per client address, for each family of routes.

A bucket holds up to `burst` tokens and refills at `per_s` tokens a second; each request takes one. The refill and
the take happen in one Lua script, so every gateway replica shares the same buckets and two requests cannot both
take the last token. Redis being unreachable lets requests through (logged): an outage of the limiter must not
become an outage of Trove.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Sequence
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

from trove_common.blobstore import URL_PREFIX
from trove_common.errors import RateLimitedError
from trove_gateway.settings import IPNetwork, Rate, RateLimitSettings

logger = logging.getLogger(__name__)

Scope = Literal["user", "address"]
KEY_PREFIX = "trove:rate:"

# KEYS[1]: the bucket; ARGV: refill per second, burst. Returns {1, 0} when a token was taken, else {0, seconds
# until one is back}. Time comes from Redis, so replicas with skewed clocks agree.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {taken, tostring(wait)}
"""


def family_of(path: str) -> str | None:
    """The route family a path belongs to; None for what is never limited (health probes, the web page)."""
    if path.startswith("/api/v1/search") or (path.startswith("/api/v1/media/") and path.endswith("/similar")):
        return "search"
    if path.startswith("/api/v1/uploads"):
        return "uploads"
    if path.startswith(("/api/v1/admin/", "/api/v1/jobs/")):
        return "admin"
    if path.startswith(URL_PREFIX):
        return "blobs"
    if path.startswith("/api/"):
        return "api"
    return None


class RateLimiter:
    """Takes tokens from the caller's buckets; raises RateLimitedError (429 with Retry-After) when one is empty."""

    def __init__(self, *, redis: Redis, settings: RateLimitSettings) -> None:
        self.settings = settings
        self._script = redis.register_script(_TAKE)

    async def take(self, *, scope: Scope, key: str, family: str, tier: str = "") -> None:
        """Take one token from the `scope` bucket of `key` (a user id or an address) for `family`.

        Args:
            tier: the user's tier, whose multiplier from the settings scales the user's rate and burst.
        """
        if not self.settings.enabled:
            return
        rates = self.settings.per_user if scope == "user" else self.settings.per_address
        rate = rates.get(family)
        if rate is None:
            return
        factor = self.settings.tiers.get(tier, 1.0) if scope == "user" else 1.0
        wait_s = await self._take(f"{KEY_PREFIX}{family}:{scope}:{key}", rate=rate, factor=factor)
        if wait_s is not None:
            retry_after_s = max(1, math.ceil(wait_s))
            raise RateLimitedError(
                f"too many {family} requests; try again in {retry_after_s} s",
                details={"family": family, "scope": scope, "retry_after_s": retry_after_s},
            )

    async def _take(self, bucket: str, *, rate: Rate, factor: float) -> float | None:
        try:
            taken, wait = await self._script(
                keys=[bucket], args=[rate.per_s * factor, max(1, int(rate.burst * factor))]
            )
        except (RedisError, OSError, TimeoutError) as exc:
            logger.warning("rate limiter unavailable; letting the request through", extra={"error": repr(exc)})
            return None
        return None if int(taken) == 1 else float(wait)


def client_address(*, peer: str, forwarded_for: str, trusted_proxies: Sequence[IPNetwork]) -> str:
    """The address a request came from: the peer, or, when the peer is a trusted proxy, the nearest address in
    X-Forwarded-For that is not a trusted proxy (a client can write anything to the left of that one)."""
    address = peer
    hops = reversed([h.strip() for h in forwarded_for.split(",")]) if forwarded_for else iter(())
    while _trusted(address, trusted_proxies):
        hop = next(hops, None)
        if hop is None or not _is_address(hop):
            break
        address = hop
    return address


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _trusted(address: str, trusted_proxies: Sequence[IPNetwork]) -> bool:
    return _is_address(address) and any(ipaddress.ip_address(address) in net for net in trusted_proxies)
