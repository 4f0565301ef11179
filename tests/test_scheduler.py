"""One timer per distinct instant, driven by the injectable clock."""

import asyncio
from datetime import timedelta

from sessiongraph.scheduler import Scheduler


async def test_many_waiters_for_one_instant_share_one_timer_and_wake_when_the_clock_gets_there(clock):
    scheduler = Scheduler(clock)
    opens = clock.now() + timedelta(minutes=15)
    woken = []

    async def wait(n):
        await scheduler.wait_until(opens)
        woken.append(n)

    waiters = [asyncio.create_task(wait(n)) for n in range(100)]
    await asyncio.sleep(0)

    assert scheduler.timer_count == 1
    clock.advance(minutes=14, seconds=59)
    await asyncio.sleep(0)
    assert woken == []
    clock.advance(seconds=1)
    await asyncio.wait_for(asyncio.gather(*waiters), 2)
    assert sorted(woken) == list(range(100))
    assert scheduler.timer_count == 0


async def test_an_instant_already_past_returns_at_once(clock):
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
