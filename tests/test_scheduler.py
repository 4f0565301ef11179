"""One timer per distinct instant, driven by the injectable clock."""

import asyncio
from datetime import timedelta

from sessiongraph.infrastructure.scheduler import Scheduler


async def test_many_callbacks_for_one_instant_share_one_timer_and_run_when_the_clock_gets_there(clock):
    scheduler = Scheduler(clock)
    opens = clock.now() + timedelta(minutes=15)
    called = []
    for n in range(1000):
        scheduler.call_at(opens, lambda n=n: called.append(n))

    assert scheduler.timer_count == 1
    clock.advance(minutes=14, seconds=59)
    await asyncio.sleep(0)
    assert called == []
    clock.advance(seconds=1)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert sorted(called) == list(range(1000))
    assert scheduler.timer_count == 0


async def test_a_cancelled_alarm_is_not_called_and_the_last_one_cancelled_stops_the_timer(clock):
    scheduler = Scheduler(clock)
    at = clock.now() + timedelta(minutes=1)
    called = []
    first = scheduler.call_at(at, lambda: called.append("first"))
    second = scheduler.call_at(at, lambda: called.append("second"))

    first.cancel()
    assert scheduler.timer_count == 1
    second.cancel()
    assert scheduler.timer_count == 0
    clock.advance(minutes=2)
    await asyncio.sleep(0)
    assert called == []


async def test_wait_until_returns_at_once_for_an_instant_already_past(clock):
    scheduler = Scheduler(clock)

    await asyncio.wait_for(scheduler.wait_until(clock.now() - timedelta(seconds=1)), 1)

    assert scheduler.timer_count == 0


async def test_distinct_instants_get_distinct_timers(clock):
    scheduler = Scheduler(clock)
    tasks = [asyncio.create_task(scheduler.wait_until(clock.now() + timedelta(minutes=m))) for m in (1, 2, 2, 3)]
    await asyncio.sleep(0)

    assert scheduler.timer_count == 3
    clock.advance(minutes=2)
    await asyncio.wait_for(asyncio.gather(*tasks[:3]), 2)
    assert not tasks[3].done()
    await scheduler.close()
