"""The loader base: loads made a few event-loop turns apart share one query."""

import asyncio

import pytest

from sessiongraph.resolvers.context import Actor, Context
from sessiongraph.resolvers.loaders.base import SETTLE_TURNS, Loader


class Doubling(Loader[int, int]):
    async def batch_load(self, db, keys):
        self.context.batches.append(list(keys))
        if -1 in keys:
            raise LookupError("no such key")
        return [2 * k for k in keys]


@pytest.fixture
def context(database, settings, clock):
    ctx = Context(database=database, clock=clock, settings=settings, actor=Actor())
    ctx.batches = []
    return ctx


async def later(turns: int, load):
    for _ in range(turns):
        await asyncio.sleep(0)
    return await load()


async def test_loads_a_few_turns_apart_share_one_query(context):
    loads = [later(turns, lambda k=key: Doubling(context).load(k))
             for key, turns in ((1, 0), (2, 1), (3, 3), (4, SETTLE_TURNS - 1))]

    assert await asyncio.gather(*loads) == [2, 4, 6, 8]
    assert sorted(key for batch in context.batches for key in batch) == [1, 2, 3, 4]
    assert len(context.batches) == 1


async def test_a_load_long_after_gets_its_own_query(context):
    first = await Doubling(context).load(1)
    second = await Doubling(context).load(2)

    assert (first, second) == (2, 4)
    assert context.batches == [[1], [2]]


async def test_a_failing_query_fails_every_load_waiting_on_it(context):
    loads = [later(turns, lambda k=key: Doubling(context).load(k)) for key, turns in ((-1, 0), (5, 2))]

    results = await asyncio.gather(*loads, return_exceptions=True)

    assert all(isinstance(result, LookupError) for result in results)
    assert len(context.batches) == 1
