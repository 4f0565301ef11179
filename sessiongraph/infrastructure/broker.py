"""Domain events between service instances: Redis pub/sub, or in-process for one process.

Every instance publishes to Redis and delivers what Redis sends to its own
subscribers, so a booking made on instance A reaches a subscriber connected to B.
Each subscriber has a bounded queue: one that cannot keep up is closed with
`SubscriberOverflow` instead of buffering without bound. If the Redis connection
drops, or Redis stops answering its pings, the listener reconnects with backoff and
sends every subscriber `RESYNC`, since events may have been missed meanwhile: the
subscriber answers with the current state (or, for schedule changes, reads what it
missed from the outbox). Publishing gives up after Redis's read timeout and, for the
retry interval after a failure, does not try; it says so, and the outbox relay
(resolvers/outbox.py) keeps the events to publish them once Redis answers again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from collections import defaultdict, deque
from typing import Any, Protocol

import redis.asyncio as redis
from redis.backoff import ExponentialWithJitterBackoff

from sessiongraph.infrastructure.redis_faults import REDIS_FAILURES, RedisOutage, RedisTimeouts

log = logging.getLogger("sessiongraph.broker")

RESYNC: dict[str, Any] = {"kind": "RESYNC"}


class SubscriberOverflow(Exception):
    """The subscriber fell too far behind; its subscription is closed."""


class Subscription:
    """One subscriber's bounded queue. A deque and one waiting future rather than an
    asyncio.Queue: a process holds ten thousand of these, and this is a third the size."""

    __slots__ = ("_fanout", "_max_queued", "_messages", "_overflowed", "_waiter", "channels")

    def __init__(self, fanout: LocalFanout, channels: tuple[str, ...], max_queued: int) -> None:
        self._fanout = fanout
        self.channels = channels
        self._messages: deque[dict[str, Any]] = deque()
        self._max_queued = max_queued
        self._waiter: asyncio.Future[None] | None = None
        self._overflowed = False

    async def __aenter__(self) -> Subscription:
        self._fanout.attach(self)
        return self

    async def __aexit__(self, *_exc) -> None:
        self._fanout.detach(self)

    def offer(self, message: dict[str, Any]) -> None:
        if self._overflowed:
            return
        if len(self._messages) >= self._max_queued:
            # Closed rather than buffered without bound; the reader learns at once.
            self._overflowed = True
            self._fanout.detach(self)
            self._messages.clear()
        else:
            self._messages.append(message)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @property
    def pending(self) -> int:
        return len(self._messages)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._messages:
            if self._overflowed:
                raise SubscriberOverflow("too many events were waiting for this subscriber; subscribe again")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._messages.popleft()


class Subscriber(Protocol):
    """Anything the fanout delivers to: a `Subscription` queue, or an object that stands for many
    subscribers (a live session's join watch), which then says how many in `subscriber_count`."""

    channels: tuple[str, ...]

    def offer(self, message: dict[str, Any]) -> None: ...


class LocalFanout:
    """Delivers messages to this process's subscribers by channel."""

    def __init__(self, max_queued: int = 256) -> None:
        self.max_queued = max_queued
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)

    def subscribe(self, *channels: str) -> Subscription:
        return Subscription(self, channels, self.max_queued)

    @property
    def subscriber_count(self) -> int:
        return sum(getattr(s, "subscriber_count", 1) for s in {s for subs in self._subscribers.values() for s in subs})

    def deliver(self, channel: str, message: dict[str, Any]) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.offer(message)

    def resync_all(self) -> None:
        for subscription in {s for subs in self._subscribers.values() for s in subs}:
            subscription.offer(RESYNC)

    def attach(self, subscriber: Subscriber) -> None:
        """From now on `subscriber.offer` hears every message on its channels."""
        for channel in subscriber.channels:
            self._subscribers[channel].add(subscriber)

    def detach(self, subscriber: Subscriber) -> None:
        for channel in subscriber.channels:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._subscribers[channel]

    async def start(self) -> None:
        """Nothing to connect for one process."""

    async def close(self) -> None:
        """Nothing to disconnect for one process."""


class InProcessBroker(LocalFanout):
    """For a single process: publishing is delivering."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        self.deliver(channel, message)

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> bool:
        for channel, message in messages:
            self.deliver(channel, message)
        return True


class RedisBroker(LocalFanout):
    def __init__(self, url: str, *, prefix: str = "sessiongraph:", max_queued: int = 256,
                 timeouts: RedisTimeouts | None = None) -> None:
        super().__init__(max_queued)
        self.url = url
        self.prefix = prefix
        self.timeouts = timeouts or RedisTimeouts()
        self._publisher = self.timeouts.client(url)
        self.publishing = RedisOutage("events", "events are not published", self.timeouts.retry_interval, log)
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.reconnects = 0
        self.connected = False  # the listener's subscription is in place
        self.listener_name = f"{prefix.rstrip(':')}-listener-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    async def start(self) -> None:
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="redis-broker-listener")
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        await self._publisher.aclose()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self.publish_many([(channel, message)])

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> bool:
        """One round trip for a change that concerns many people. False when Redis did not take them
        (the outbox relay keeps its events and publishes them again later)."""
        if self.publishing.skip():
            return False
        try:
            async with self._publisher.pipeline(transaction=False) as pipe:
                for channel, message in messages:
                    pipe.publish(self.prefix + channel, json.dumps(message))
                await pipe.execute()
        except REDIS_FAILURES as error:
            self.publishing.failed(error)
            return False
        self.publishing.answered()
        return True

    async def _listen(self) -> None:
        backoff = ExponentialWithJitterBackoff(base=0.05, cap=5.0)
        failures = 0
        while True:
            # Named, so an operator (or a test) can find this process's listener in CLIENT LIST.
            client = self.timeouts.client(self.url, client_name=self.listener_name)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(self.prefix + "*")
                    if failures:
                        self.reconnects += 1
                        log.info("reconnected to Redis after %d failed attempts", failures)
                        self.resync_all()
                    failures = 0
                    self.connected = True
                    self._ready.set()
                    await self._deliver_while_answering(pubsub)
            except asyncio.CancelledError:
                raise
            except REDIS_FAILURES as error:
                self.connected = False
                failures += 1
                delay = backoff.compute(failures)
                # Said once per outage; the attempts that follow go to the debug log.
                (log.warning if failures == 1 else log.debug)(
                    "Redis listener lost its connection (%s); retrying in %.2fs", error, delay)
                await asyncio.sleep(delay)
            finally:
                await client.aclose()

    async def _deliver_while_answering(self, pubsub: redis.client.PubSub) -> None:
        """Delivers what Redis sends; after `health_check` seconds of silence pings it, and gives up on a
        connection whose server has not answered the ping within the read timeout (a hung Redis
        keeps the socket open and would otherwise leave the listener waiting for ever)."""
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=self.timeouts.health_check / 2)
            now = loop.time()
            if message is not None:
                heard, pinged = now, False
                if message["type"] == "pmessage":
                    channel = message["channel"].decode()[len(self.prefix):]
                    self.deliver(channel, json.loads(message["data"]))
            elif pinged and now - heard > self.timeouts.health_check + self.timeouts.read:
                raise redis.TimeoutError("Redis did not answer the listener's ping")
            elif not pinged and now - heard > self.timeouts.health_check:
                await pubsub.ping()
                pinged = True


# What publishes: both brokers deliver to local subscribers (LocalFanout) and publish.
Broker = InProcessBroker | RedisBroker


def create_broker(redis_url: str | None, prefix: str = "sessiongraph:",
                  timeouts: RedisTimeouts | None = None) -> Broker:
    return RedisBroker(redis_url, prefix=prefix, timeouts=timeouts) if redis_url else InProcessBroker()
