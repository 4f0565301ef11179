"""Read replicas (DATABASE_REPLICA_URLS): which node answers a query's reads.

A query reads from a replica that is up, not lagging past DATABASE_REPLICA_MAX_LAG_SECONDS, and has
replayed the caller's own last write; otherwise from the primary. Everything else (mutations and their
payloads, subscription events, the background workers) reads from the primary, which is `Database`
itself: this module only hands a query a `Database` whose reads go to a replica (`Database.reading_from`).

Read-your-writes is by LSN: after a signed-in user's mutation the primary's WAL position
(`pg_current_wal_lsn()`, past the mutation's commit) is kept for DATABASE_REPLICA_OWN_WRITES_SECONDS under
the user's ID, in Redis when REDIS_URL is set (so that every instance knows it) and in this process. A
replica serves that user only once its replayed position has reached it.

Each replica's replayed position and lag are asked at most every DATABASE_REPLICA_CHECK_SECONDS, by one
probe at a time in the background; a request never waits for a probe. A probe that fails or does not
answer within its bound takes the replica out until a later probe answers; so does a query that found
the replica unavailable (`Replicas.failed`), which is then answered again by the primary.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import make_url

from sessiongraph.infrastructure.db import Database, create_engine, database_unavailable
from sessiongraph.infrastructure.observability import REPLICA_LAG, REPLICA_UP
from sessiongraph.infrastructure.redis_faults import REDIS_FAILURES, RedisOutage, RedisTimeouts
from sessiongraph.infrastructure.settings import Settings

log = logging.getLogger("sessiongraph.replicas")

PRIMARY = "primary"

# The replica's replayed WAL position (its own current one if it is no replica, say promoted) and its lag:
# none while it has replayed all it received, else the age of the last transaction it replayed.
PROBE = text("""
SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn,
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0) END
""")
PRIMARY_POSITION = text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")


# A hot standby cancels a query whose snapshot conflicts with the WAL it replays ("canceling statement due to
# conflict with recovery", max_standby_streaming_delay): the primary answers such a query again.
RECOVERY_CONFLICT = "40001"


def replica_failure(error: BaseException | None) -> bool:
    """Whether a query that read from a replica failed because of the replica, not of the query."""
    if database_unavailable(error):
        return True
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "sqlstate", None) == RECOVERY_CONFLICT:
            return True
        error = getattr(error, "original_error", None) or getattr(error, "orig", None) or error.__cause__
    return False


def node_name(url: str) -> str:
    """A replica as metrics and logs name it: host, port and database, never the password."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


@dataclass
class Replica:
    name: str
    database: Database
    replayed: int = -1  # WAL position last seen replayed; -1 before the first probe answered
    lag: float = math.inf
    checked_at: float = -math.inf  # when the last probe answered (time.monotonic)
    down_until: float = -math.inf  # taken out until then, and until a probe answers after it
    probe: asyncio.Task[None] | None = field(default=None, repr=False)


class OwnWrites:
    """Each signed-in writer's last WAL position, for DATABASE_REPLICA_OWN_WRITES_SECONDS: in this process,
    and in Redis when it is set, for the other instances."""

    # The larger position wins: two mutations of one user may record theirs out of order.
    _RECORD = """
    local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
    if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
    """

    def __init__(self, seconds: float, redis_url: str | None, prefix: str, timeouts: RedisTimeouts) -> None:
        self.seconds = seconds
        self.prefix = prefix + "own-writes:"
        self.local: dict[int, tuple[int, float]] = {}
        self.redis = timeouts.client(redis_url) if redis_url else None
        self.record_script = self.redis.register_script(self._RECORD) if self.redis is not None else None
        self.outage = RedisOutage("read-your-writes", "queries by recent writers read from the primary",
                                  timeouts.retry_interval, log)

    async def record(self, user_id: int, position: int) -> None:
        now = time.monotonic()
        known, until = self.local.get(user_id, (-1, now))
        self.local[user_id] = (max(position, known if until > now else -1), now + self.seconds)
        if len(self.local) > 10_000:  # forget the expired ones, now and then
            self.local = {key: value for key, value in self.local.items() if value[1] > now}
        if self.record_script is None or self.outage.skip():
            return
        try:
            await self.record_script(keys=[f"{self.prefix}{user_id}"],
                                     args=[position, max(1, int(self.seconds * 1000))])
            self.outage.answered()
        except REDIS_FAILURES as error:
            self.outage.failed(error)

    async def last(self, user_id: int) -> float:
        """The position a replica must have replayed to serve `user_id`; infinite when it cannot be known
        (Redis away): then the primary answers."""
        position, until = self.local.get(user_id, (-1, 0.0))
        known = float(position) if until > time.monotonic() else -1.0
        if self.redis is None:
            return known
        if self.outage.skip():
            return math.inf
        try:
            shared = await self.redis.get(f"{self.prefix}{user_id}")
            self.outage.answered()
        except REDIS_FAILURES as error:
            self.outage.failed(error)
            return math.inf
        return max(known, float(shared) if shared is not None else -1.0)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


class Replicas:
    """Chooses the node for a query's reads, and remembers each writer's last write."""

    def __init__(self, primary: Database, replicas: list[Replica], settings: Settings) -> None:
        self.primary = primary
        self.replicas = replicas
        self.max_lag = settings.database_replica_max_lag_seconds
        self.check_every = settings.database_replica_check_seconds
        # A probe is one short statement: it gets the connect bound, at most the statement timeout.
        self.probe_timeout = min(settings.database_connect_timeout_seconds,
                                 settings.database_statement_timeout_seconds)
        self.own_writes = OwnWrites(settings.database_replica_own_writes_seconds, settings.redis_url,
                                    settings.redis_prefix, RedisTimeouts.from_settings(settings))
        self._views = {replica.name: primary.reading_from(replica.database, replica.name) for replica in replicas}

    @classmethod
    def from_settings(cls, primary: Database, settings: Settings) -> Replicas | None:
        if not settings.database_replica_urls:
            return None
        return cls(primary, [Replica(node_name(url), Database(create_engine(settings, url)))
                             for url in settings.database_replica_urls], settings)

    async def for_query(self, user_id: int | None) -> Database:
        """The database a query's reads go to: a replica fit to answer this caller, else the primary."""
        now = time.monotonic()
        for replica in self.replicas:
            self._keep_checked(replica, now)
        fit = [replica for replica in self.replicas if self._usable(replica, now)]
        if not fit:
            return self.primary
        if user_id is not None:
            needed = await self.own_writes.last(user_id)
            fit = [replica for replica in fit if replica.replayed >= needed]
            if not fit:
                return self.primary
        return self._views[random.choice(fit).name]

    def _usable(self, replica: Replica, now: float) -> bool:
        # A probe answer older than two check intervals means the probes stopped answering: a hung replica.
        return (replica.down_until <= now and replica.checked_at >= now - 2 * self.check_every - self.probe_timeout
                and replica.lag <= self.max_lag)

    def _keep_checked(self, replica: Replica, now: float) -> None:
        if replica.probe is None and replica.checked_at < now - self.check_every:
            replica.probe = asyncio.get_running_loop().create_task(self._probe(replica))

    async def _probe(self, replica: Replica) -> None:
        try:
            async with asyncio.timeout(self.probe_timeout):
                async with replica.database.read_rows() as connection:
                    replayed, lag = (await connection.execute(PROBE)).one()
        except Exception as error:  # any failure to answer takes the replica out until a probe answers
            self._take_out(replica, f"its probe failed: {error!r}")
        else:
            if replica.checked_at == -math.inf or replica.down_until > -math.inf:
                log.info("replica %s answers: reads go to it again", replica.name)
            replica.replayed, replica.lag = int(replayed), float(lag)
            replica.checked_at, replica.down_until = time.monotonic(), -math.inf
            REPLICA_UP.labels(replica.name).set(1)
            REPLICA_LAG.labels(replica.name).set(replica.lag)
        finally:
            replica.probe = None

    def failed(self, name: str) -> None:
        """A query found replica `name` unavailable: no query goes to it until a probe answers again."""
        for replica in self.replicas:
            if replica.name == name:
                self._take_out(replica, "a query found it unavailable")

    def _take_out(self, replica: Replica, why: str) -> None:
        if replica.down_until == -math.inf:
            log.warning("replica %s left out, the primary answers its reads: %s", replica.name, why)
        now = time.monotonic()
        replica.down_until = now + self.check_every
        replica.checked_at = -math.inf
        REPLICA_UP.labels(replica.name).set(0)

    async def wrote(self, user_id: int) -> None:
        """After `user_id`'s mutation: the primary's WAL position, which their later queries wait for."""
        try:
            async with asyncio.timeout(self.probe_timeout):
                async with self.primary.read_rows() as connection:
                    position = int((await connection.execute(PRIMARY_POSITION)).scalar_one())
        except Exception as error:  # the mutation stands; this user's reads go to the primary for a while
            log.warning("cannot read the primary's WAL position after a write: %r", error)
            position = 2**63
        await self.own_writes.record(user_id, position)

    async def dispose(self) -> None:
        for replica in self.replicas:
            if replica.probe is not None:
                replica.probe.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await replica.probe
            await replica.database.dispose()
        await self.own_writes.close()
