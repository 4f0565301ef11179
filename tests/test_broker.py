"""Events between instances: in-process, and through a real Redis server."""

import asyncio
import uuid

import pytest
import redis.asyncio as redis

from sessiongraph.infrastructure.broker import RESYNC, InProcessBroker, RedisBroker, SubscriberOverflow

REDIS_URL = "redis://127.0.0.1:6379/0"


async def next_message(subscription, timeout=5):
    return await asyncio.wait_for(anext(subscription), timeout)


async def test_in_process_delivers_to_subscribers_of_the_channel_only():
    broker = InProcessBroker()
    async with broker.subscribe("user:1") as mine, broker.subscribe("user:2") as theirs:
        await broker.publish("user:1", {"kind": "BOOKED"})

        assert await next_message(mine) == {"kind": "BOOKED"}
        assert theirs.pending == 0
    assert broker.subscriber_count == 0


async def test_a_subscriber_that_falls_behind_is_closed_not_buffered_without_bound():
    broker = InProcessBroker(max_queued=3)
    async with broker.subscribe("user:1") as slow:
        for n in range(10):
            await broker.publish("user:1", {"n": n})

        with pytest.raises(SubscriberOverflow):
            while True:
                await next_message(slow)
        assert broker.subscriber_count == 0


async def kill_listeners(admin, name):
    """Drops the named listener's connection only, not other processes' on this Redis server."""
    for client in (await admin.client_list(_type="pubsub")):
        if client["name"] == name:
            await admin.client_kill_filter(_id=client["id"])


@pytest.fixture
async def redis_brokers():
    prefix = f"sessiongraph-test-{uuid.uuid4().hex[:8]}:"
    first, second = RedisBroker(REDIS_URL, prefix=prefix), RedisBroker(REDIS_URL, prefix=prefix)
    await first.start()
    await second.start()
    yield first, second
    await first.close()
    await second.close()


async def test_an_event_published_on_one_instance_reaches_a_subscriber_on_another(redis_brokers):
    instance_a, instance_b = redis_brokers
    async with instance_b.subscribe("live-session:7") as subscriber:
        await instance_a.publish("live-session:7", {"kind": "RESCHEDULED", "liveSessionId": 7})

        assert await next_message(subscriber) == {"kind": "RESCHEDULED", "liveSessionId": 7}


async def test_after_redis_drops_the_listener_reconnects_resyncs_and_delivers_again(redis_brokers):
    instance_a, instance_b = redis_brokers
    admin = redis.Redis.from_url(REDIS_URL)
    async with instance_b.subscribe("user:5") as subscriber:
        await kill_listeners(admin, instance_b.listener_name)

        assert await next_message(subscriber) == RESYNC
        await instance_a.publish("user:5", {"kind": "BOOKED"})
        assert await next_message(subscriber) == {"kind": "BOOKED"}
    assert instance_b.reconnects >= 1
    await admin.aclose()


async def test_publish_many_reaches_each_channel_across_instances(redis_brokers):
    instance_a, instance_b = redis_brokers
    async with instance_b.subscribe("user:1") as one, instance_b.subscribe("user:2") as two:
        await instance_a.publish_many([("user:1", {"n": 1}), ("user:2", {"n": 2})])

        assert await next_message(one) == {"n": 1}
        assert await next_message(two) == {"n": 2}
