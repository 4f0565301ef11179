"""Rate limits on mutations: a token bucket per user and one per client IP.

A bucket holds up to `burst` tokens and refills continuously at `per_minute`;
each mutation field takes one token from every bucket of the caller (all of them
or none), so a signed-in user is held to their own bucket and to their IP's.
Buckets live in this process, or in Redis when REDIS_URL is set so that every
instance shares them; either way time comes from the service's clock, so tests
freeze and advance it instead of sleeping. While Redis cannot be reached the
buckets are this process's own (each instance then holds a caller to the limit on
its own): a limit a little looser for a while is better than refusing every change,
or none at all. The log says so once when the outage begins and once when it ends.

The client IP is the ASGI peer address: behind a reverse proxy set FORWARDED_ALLOW_IPS to
the proxy's address, so that uvicorn takes the real client's from X-Forwarded-For.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis

from sessiongraph.infrastructure.clock import Clock
from sessiongraph.infrastructure.redis_faults import REDIS_FAILURES, RedisOutage, RedisTimeouts
from sessiongraph.infrastructure.settings import Settings

log = logging.getLogger("sessiongraph.ratelimit")


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    burst: float
    per_second: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    # Whole seconds until the same request would be allowed; 0 when allowed.
    retry_after: int = 0

    @classmethod
    def wait(cls, seconds: float) -> Decision:
        # Rounded up to whole seconds, ignoring float noise (10.000000001 is 10).
        return cls(False, max(1, math.ceil(round(seconds, 6))))


ALLOWED = Decision(True)


class BucketStore(Protocol):
    async def take(self, buckets: list[Bucket], cost: float, now: float) -> Decision: ...

    async def close(self) -> None: ...


class InProcessBuckets:
    """Buckets in a dict; enough for one process. Buckets that have refilled are forgotten."""

    FORGET_ABOVE = 10_000

    def __init__(self) -> None:
        self.levels: dict[str, tuple[float, float, float]] = {}  # key -> (tokens, as of, full again at)

    async def take(self, buckets: list[Bucket], cost: float, now: float) -> Decision:
        # No await in here: the check and the take are one step for the event loop.
        levels = [self._level(bucket, now) for bucket in buckets]
        wait = max(_wait(bucket, tokens, cost) for bucket, tokens in zip(buckets, levels, strict=True))
        if wait > 0:
            return Decision.wait(wait)
        for bucket, tokens in zip(buckets, levels, strict=True):
            left = tokens - min(cost, bucket.burst)
            self.levels[bucket.key] = (left, now, now + (bucket.burst - left) / bucket.per_second)
        if len(self.levels) > self.FORGET_ABOVE:
            # A bucket that has refilled is the same as one never used.
            self.levels = {key: level for key, level in self.levels.items() if level[2] > now}
        return ALLOWED

    def _level(self, bucket: Bucket, now: float) -> float:
        tokens, as_of, _ = self.levels.get(bucket.key, (bucket.burst, now, now))
        return min(bucket.burst, tokens + max(0.0, now - as_of) * bucket.per_second)

    async def close(self) -> None:
        pass


# KEYS: the buckets. ARGV: now, cost, then burst and refill per second for each key.
# Takes from every bucket or from none; answers {1, "0"} or {0, seconds to wait}.
TAKE_SCRIPT = """
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local wait = 0
local levels = {}
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[1 + 2 * i])
  local rate = tonumber(ARGV[2 + 2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1])
  local at = tonumber(state[2])
  if tokens == nil or at == nil then
    tokens = burst
    at = now
  end
  if now > at then
    tokens = math.min(burst, tokens + (now - at) * rate)
    at = now
  end
  levels[i] = {tokens, at}
  local need = math.min(cost, burst)
  if tokens < need then
    wait = math.max(wait, (need - tokens) / rate)
  end
end
if wait > 0 then
  return {0, tostring(wait)}
end
for i, key in ipairs(KEYS) do
  local burst = tonumber(ARGV[1 + 2 * i])
  local rate = tonumber(ARGV[2 + 2 * i])
  redis.call('HSET', key, 'tokens', tostring(levels[i][1] - math.min(cost, burst)), 'at', tostring(levels[i][2]))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
return {1, '0'}
"""


class RedisBuckets:
    """Buckets in Redis hashes, checked and taken by one Lua script, so instances share them."""

    def __init__(self, client: redis.Redis, *, retry_interval: float = 5.0) -> None:
        self.client = client
        self.script = client.register_script(TAKE_SCRIPT)
        self.fallback = InProcessBuckets()
        self.outage = RedisOutage("rate limits", "enforced in-process", retry_interval, log)

    @classmethod
    def from_url(cls, url: str, timeouts: RedisTimeouts | None = None) -> RedisBuckets:
        timeouts = timeouts or RedisTimeouts()
        return cls(timeouts.client(url), retry_interval=timeouts.retry_interval)

    async def take(self, buckets: list[Bucket], cost: float, now: float) -> Decision:
        arguments: list[float | str] = [repr(now), repr(float(cost))]
        for bucket in buckets:
            arguments += [repr(float(bucket.burst)), repr(float(bucket.per_second))]
        if self.outage.skip():
            return await self.fallback.take(buckets, cost, now)
        try:
            allowed, wait = await self.script(keys=[bucket.key for bucket in buckets], args=arguments)
        except REDIS_FAILURES as error:
            self.outage.failed(error)
            return await self.fallback.take(buckets, cost, now)
        self.outage.answered()
        return ALLOWED if int(allowed) else Decision.wait(float(wait))

    async def close(self) -> None:
        await self.client.aclose()


def _wait(bucket: Bucket, tokens: float, cost: float) -> float:
    # An operation with more mutation fields than a bucket holds needs a full bucket.
    need = min(cost, bucket.burst)
    return 0.0 if tokens >= need else (need - tokens) / bucket.per_second


class MutationRateLimiter:
    def __init__(self, settings: Settings, clock: Clock, store: BucketStore) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store
        self.prefix = settings.rate_limit_key_prefix
        self.user_burst = settings.rate_limit_user_burst
        self.user_per_second = settings.rate_limit_user_per_minute / 60
        self.ip_burst = settings.rate_limit_ip_burst
        self.ip_per_second = settings.rate_limit_ip_per_minute / 60

    async def take(self, *, user_id: int | None, ip: str | None, cost: int = 1) -> Decision:
        buckets = []
        if user_id is not None:
            buckets.append(Bucket(f"{self.prefix}user:{user_id}", self.user_burst, self.user_per_second))
        if ip:
            buckets.append(Bucket(f"{self.prefix}ip:{ip}", self.ip_burst, self.ip_per_second))
        if not buckets:
            return ALLOWED
        return await self.store.take(buckets, cost, self.clock.now().timestamp())

    async def take_sign_in(self, *, ip: str | None, email: str) -> Decision:
        """One signIn attempt, from the client IP's and the address's sign-in buckets (SIGN_IN_*), which
        are apart from the mutation buckets: a flood of guesses is stopped long before those would."""
        settings = self.settings
        # The address as a digest: Redis keys are no place for people's e-mail addresses.
        digest = hashlib.sha256(email.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        buckets = [Bucket(f"{self.prefix}signin:email:{digest}", settings.sign_in_email_burst,
                          settings.sign_in_email_per_minute / 60)]
        if ip:
            buckets.append(Bucket(f"{self.prefix}signin:ip:{ip}", settings.sign_in_ip_burst,
                                  settings.sign_in_ip_per_minute / 60))
        return await self.store.take(buckets, 1, self.clock.now().timestamp())

    async def close(self) -> None:
        await self.store.close()


def create_rate_limiter(settings: Settings, clock: Clock) -> MutationRateLimiter | None:
    """The limiter the settings ask for; None when rate limiting is off."""
    if not settings.rate_limit_enabled:
        return None
    store: BucketStore = (RedisBuckets.from_url(settings.redis_url, RedisTimeouts.from_settings(settings))
                          if settings.redis_url else InProcessBuckets())
    return MutationRateLimiter(settings, clock, store)
