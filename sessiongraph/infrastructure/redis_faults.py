"""Redis calls that give up in time, and an outage noticed once instead of on every request.

redis-py's defaults wait without bound on a hung server and retry a failed command
three times with backoff, which made a mutation take seconds while Redis hung. Every
client the service makes comes from `RedisTimeouts.client`: bounded connect and read,
no retries (each caller has its own fallback). After a failure `RedisOutage` tells
its caller to leave Redis alone for the retry interval, so that requests meanwhile
take the fallback at once instead of each waiting for a timeout, and it logs the
outage once when it begins and once when it ends.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from sessiongraph.infrastructure.settings import Settings

# What a Redis call raises when the server is down, hung or gone mid-answer.
REDIS_FAILURES = (RedisError, OSError)


@dataclass(frozen=True, slots=True)
class RedisTimeouts:
    connect: float = 1.0
    read: float = 1.0
    retry_interval: float = 5.0
    health_check: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisTimeouts:
        return cls(connect=settings.redis_connect_timeout_seconds, read=settings.redis_socket_timeout_seconds,
                   retry_interval=settings.redis_retry_interval_seconds,
                   health_check=settings.redis_health_check_seconds)

    def client(self, url: str, **options: Any) -> redis.Redis:
        return redis.Redis.from_url(url, socket_connect_timeout=self.connect, socket_timeout=self.read,
                                    retry=Retry(NoBackoff(), 0), **options)


class RedisOutage:
    """Whether Redis is to be left alone just now, for one user of it (`what`, as the log names it)."""

    def __init__(self, what: str, fallback: str, retry_interval: float, log: logging.Logger) -> None:
        self.what = what
        self.fallback = fallback
        self.retry_interval = retry_interval
        self.log = log
        self.down = False
        self._retry_at = 0.0
        self.outages = 0

    def skip(self) -> bool:
        """True while Redis failed less than the retry interval ago: take the fallback without asking it."""
        return self.down and time.monotonic() < self._retry_at

    def failed(self, error: BaseException) -> None:
        if not self.down:
            self.down = True
            self.outages += 1
            self.log.warning("%s: Redis unreachable (%s); %s until it answers again", self.what, error, self.fallback)
        self._retry_at = time.monotonic() + self.retry_interval

    def answered(self) -> None:
        if self.down:
            self.down = False
            self.log.warning("%s: Redis answers again", self.what)
