"""What subscribers hear: the join window as it opens and closes, and schedule changes.

`joinAvailability`: every subscriber to a live session in this process shares one
`JoinWatch`. The watch listens on the live session's channel (one broker entry, not
one per subscriber), holds what the join state follows from (`JoinFacts`: the
window, the URL, whether it is cancelled) and, per viewer, whether they may join.
It wakes at two kinds of moment:

- an instant the window opens or closes, through the process's one scheduler (one
  alarm per watch; the scheduler keeps one timer per distinct instant). Only the
  clock has changed, so the states are worked out again with no query: there are
  two (may join, or not), whatever the number of subscribers;
- an event on the channel (a reschedule, a new URL, a cancellation, a booking) or a
  resync after the broker reconnected. The watch reads the live session once, then
  checks every viewer's rights at once through shared loaders, so an event costs
  the same statements for one subscriber as for ten thousand. Events that arrive
  while it reads are folded into one more read.

A subscriber attaches to the watch (and so to the channel) before it reads the live
session, so an event published while it reads is not lost: the watch notices it
heard one meanwhile and reads again.

A subscriber is offered states, and holds at most one it has not sent yet: join
availability is a state, not a log, so one that falls behind gets the latest state
rather than a backlog. After the first state, the WebSocket handlers take a
subscriber over from Strawberry (`Handover`, sessiongraph/shared_results.py), so
that subscribers sharing a document and a state share one execution.

`scheduleChanged`: a change to a class is an event for each of its learners (and their
guardians), published on each one's own channel. Every subscriber in this process that
hears the same event reads it, their rights to it and the fields they selected through
one set of loaders (`EventReads`), so an event costs the same statements for one
subscriber as for a whole class, as a `JoinWatch`'s events do.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sessiongraph.infrastructure.broker import RESYNC, LocalFanout, Subscription
from sessiongraph.infrastructure.scheduler import Alarm
from sessiongraph.models import Course, LiveSession
from sessiongraph.resolvers import outbox, permissions
from sessiongraph.resolvers.context import Actor, Context
from sessiongraph.resolvers.errors import NotFound
from sessiongraph.resolvers.events import ScheduleEventKind, live_session_channel, user_channel
from sessiongraph.resolvers.loaders.accounts import ChildIdsByGuardian
from sessiongraph.resolvers.loaders.base import SharedLoaders
from sessiongraph.resolvers.loaders.courses import CourseById
from sessiongraph.resolvers.loaders.schedule import LiveSessionById
from sessiongraph.resolvers.permissions import require_signed_in
from sessiongraph.resolvers.schedule import JoinState

log = logging.getLogger("sessiongraph.subscriptions")
T = TypeVar("T")

# Live-session events after which every subscriber emits, even if its state did not change.
ANNOUNCED = {ScheduleEventKind.RESCHEDULED.value, ScheduleEventKind.UPDATED.value, ScheduleEventKind.CANCELLED.value}


@dataclass(frozen=True, slots=True)
class JoinFacts:
    """What the join state follows from that is the same for every viewer, copied out of the
    rows (a watch keeps it for hours); only `now` moves between events."""

    opens_at: datetime
    closes_at: datetime
    url: str | None
    cancelled: bool

    @classmethod
    def of(cls, live_session: LiveSession, course: Course) -> JoinFacts:
        window = live_session.join_window(course.join_lead_minutes)
        return cls(opens_at=window.start, closes_at=window.end, url=live_session.virtual_classroom_url,
                   cancelled=live_session.is_cancelled)

    def state(self, now: datetime, may_join: bool) -> JoinState:
        is_open = (may_join and not self.cancelled and self.url is not None
                   and self.opens_at <= now < self.closes_at)
        return JoinState(opens_at=self.opens_at, closes_at=self.closes_at, is_open=is_open,
                         url=self.url if is_open else None)

    def next_change(self, now: datetime) -> datetime | None:
        if now < self.opens_at:
            return self.opens_at
        if now < self.closes_at:
            return self.closes_at
        return None


async def _read(ctx: Context, live_session_id: int) -> tuple[LiveSession, Course] | None:
    live_session = await LiveSessionById(ctx).load(live_session_id)
    if live_session is None:
        return None
    return live_session, await CourseById(ctx).load(live_session.course_id)


async def _may_join(ctx: Context, live_session: LiveSession, course: Course) -> bool | None:
    """Whether the viewer may join; None when they may not even see the live session."""
    if not await permissions.can_see_live_session(ctx, live_session):
        return None
    return await permissions.may_join(ctx, live_session, course)


class JoinListener(Protocol):
    """A subscriber as the watch sees it. `last` is the state it was last offered (the watch
    sets it); `offer` hands it a new one; `end` tells it the viewer may no longer see the
    live session."""

    last: JoinState | None

    def offer(self, state: JoinState) -> None: ...

    def end(self) -> None: ...


class Viewer:
    """One person watching a live session, however many subscriptions they hold."""

    __slots__ = ("actor", "listeners", "may_join")

    def __init__(self, actor: Actor, may_join: bool) -> None:
        self.actor = actor
        self.may_join = may_join
        self.listeners: set[JoinListener] = set()


class JoinWatch:
    """One live session's join situation, shared by all its subscribers in this process."""

    def __init__(self, watches: JoinWatches, live_session_id: int) -> None:
        self._watches = watches
        self.live_session_id = live_session_id
        self.channels = (live_session_channel(live_session_id),)
        self.facts: JoinFacts | None = None
        self.heard = 0  # events heard on the channel so far
        self.viewers: dict[int, Viewer] = {}
        self._alarm: Alarm | None = None
        self._refresh: asyncio.Task[None] | None = None
        self._again = False
        self._announce = False
        self._closed = False
        self._joining = 0  # subscribers between `watch()` and `join()` (or `abandon()`)
        watches.broker.attach(self)

    @property
    def subscriber_count(self) -> int:
        return sum(len(viewer.listeners) for viewer in self.viewers.values())

    def join(self, actor: Actor, facts: JoinFacts, may_join: bool, listener: JoinListener, heard_before: int) -> Viewer:
        """Adds a subscriber whose own read (begun when the watch had heard `heard_before`
        events) found `facts` and `may_join`."""
        self._joining -= 1
        viewer = self.viewers.get(actor.user_id)
        if viewer is None:
            viewer = self.viewers[actor.user_id] = Viewer(actor, may_join)
        viewer.listeners.add(listener)
        fresh = heard_before == self.heard
        if fresh:
            viewer.may_join = may_join
        if fresh or self.facts is None:
            self.facts = facts
            self._set_alarm()
        if not fresh:
            # An event came while the subscriber read: what it read may predate it.
            self.refresh(announce=True)
        return viewer

    def leave(self, viewer: Viewer, listener: JoinListener) -> None:
        viewer.listeners.discard(listener)
        if not viewer.listeners and self.viewers.get(viewer.actor.user_id) is viewer:
            del self.viewers[viewer.actor.user_id]
        self.release()

    def abandon(self) -> None:
        """A subscriber that came to `watch()` will not join after all."""
        self._joining -= 1
        self.release()

    def release(self) -> None:
        """Stops watching once nobody is left (and nobody is on the way)."""
        if self.viewers or self._joining or self._closed:
            return
        self._closed = True
        if self._alarm is not None:
            self._alarm.cancel()
            self._alarm = None
        self._watches.broker.detach(self)
        if self._refresh is not None and self._refresh is not asyncio.current_task():
            self._refresh.cancel()
        self._watches.forget(self)

    # --- what the broker and the scheduler call

    def offer(self, message: dict[str, Any]) -> None:
        """An event on the live session's channel (or RESYNC after the broker reconnected)."""
        self.heard += 1
        self.refresh(announce=message is RESYNC or message.get("kind") in ANNOUNCED)

    def refresh(self, announce: bool) -> None:
        """Reads the live session again soon; requests made meanwhile are folded into one more read."""
        self._announce = self._announce or announce
        if self._refresh is None:
            # For every subscriber, so in a context of its own, not a copy of the operation that asked.
            self._refresh = asyncio.get_running_loop().create_task(self._refreshing(), context=contextvars.Context())
        else:
            self._again = True

    def _tick(self) -> None:
        self._alarm = None
        self._publish(announce=False)
        self._set_alarm()

    # ---

    async def _refreshing(self) -> None:
        try:
            while True:
                self._again = False
                announce, self._announce = self._announce, False
                await self._reread(announce)
                if not self._again or self._closed:
                    return
        except Exception:
            # Subscribers keep what they have (and their alarms); the next event reads again.
            log.exception("could not read live session %s for its join subscribers", self.live_session_id)
        finally:
            self._refresh = None

    async def _reread(self, announce: bool) -> None:
        ctx = SharedLoaders.of(self._watches.context()).context
        found = await _read(ctx, self.live_session_id)
        if found is None:  # deleted: nobody may see it any more
            for viewer in list(self.viewers.values()):
                self._drop(viewer)
            return
        live_session, course = found
        viewers = list(self.viewers.values())
        rights = await asyncio.gather(*(
            _may_join(replace(ctx, actor=viewer.actor), live_session, course) for viewer in viewers))
        if self._closed:
            return
        self.facts = JoinFacts.of(live_session, course)
        for viewer, may_join in zip(viewers, rights, strict=True):
            if self.viewers.get(viewer.actor.user_id) is not viewer:
                continue  # left meanwhile
            if may_join is None:
                self._drop(viewer)
            else:
                viewer.may_join = may_join
        if self._closed:
            return
        self._set_alarm()
        self._publish(announce)

    def _drop(self, viewer: Viewer) -> None:
        """The viewer may no longer see the live session: their subscriptions end."""
        del self.viewers[viewer.actor.user_id]
        for listener in list(viewer.listeners):
            listener.end()
        viewer.listeners.clear()
        self.release()

    def _publish(self, announce: bool) -> None:
        """Offers every subscriber its state: to all when `announce`, else to those whose state changed.
        There are two states (may join, or not) however many subscribers there are."""
        if self.facts is None:
            return
        now = self._watches.clock.now()
        states = (self.facts.state(now, False), self.facts.state(now, True))
        for viewer in self.viewers.values():
            state = states[viewer.may_join]
            for listener in viewer.listeners:
                last = listener.last
                if announce or (state is not last and state != last):
                    listener.last = state
                    listener.offer(state)

    def _set_alarm(self) -> None:
        instant = self.facts.next_change(self._watches.clock.now()) if self.facts is not None else None
        if self._alarm is not None:
            if self._alarm.instant == instant:
                return
            self._alarm.cancel()
            self._alarm = None
        if instant is not None:
            self._alarm = self._watches.scheduler.call_at(instant, self._tick)


class JoinWatches:
    """The process's watches, one per live session that has subscribers (see `watches_of`)."""

    def __init__(self, ctx: Context) -> None:
        self.database = ctx.database
        self.clock = ctx.clock
        self.settings = ctx.settings
        self.broker = ctx.broker
        self.scheduler = ctx.scheduler
        self._watches: dict[int, JoinWatch] = {}

    def watch(self, live_session_id: int) -> JoinWatch:
        """The live session's watch, listening on its channel from the moment this returns; the
        caller then either `join`s it or `abandon`s it."""
        watch = self._watches.get(live_session_id)
        if watch is None:
            watch = self._watches[live_session_id] = JoinWatch(self, live_session_id)
        watch._joining += 1
        return watch

    def forget(self, watch: JoinWatch) -> None:
        if self._watches.get(watch.live_session_id) is watch:
            del self._watches[watch.live_session_id]

    def context(self) -> Context:
        """For reading what is the same for every viewer."""
        return nobody_context(self)

    def __len__(self) -> int:
        return len(self._watches)


def nobody_context(source: Any) -> Context:
    """A context of no viewer's, from anything with the app's database, clock, settings, broker and
    scheduler: what is read or executed in it is the same for everyone, and no right applies."""
    return Context(database=source.database, clock=source.clock, settings=source.settings, actor=Actor(None),
                   broker=source.broker, scheduler=source.scheduler)


class EventReads:
    """The loaders this process's subscribers read one schedule event through (a `SharedLoaders` per event):
    a change concerns every learner of a session, and each subscriber would otherwise read the live
    session, its course, instructor and location, and their own rights, alone: hundreds of statements for
    one event. Together they cost one batch per loader (the viewers' rights included, as a `JoinWatch`'s
    do). A share serves the event's subscribers for EVENT_READS_SECONDS (they hear it within milliseconds
    of each other, and those catching up after a reconnect read the same events), and is never reused
    after one of its reads failed."""

    def __init__(self, ctx: Context) -> None:
        self._source = nobody_context(ctx)  # not the first subscriber's own context, which the app would keep
        self._by_event: dict[int, SharedLoaders] = {}

    def loaders(self, event_id: int) -> SharedLoaders:
        shared = self._by_event.get(event_id)
        if shared is None or shared.failed:
            shared = self._by_event[event_id] = SharedLoaders.of(nobody_context(self._source))
            asyncio.get_running_loop().call_later(EVENT_READS_SECONDS, self._forget, event_id, shared)
        return shared

    def _forget(self, event_id: int, shared: SharedLoaders) -> None:
        if self._by_event.get(event_id) is shared:
            del self._by_event[event_id]


# How long the rows read for a schedule event serve the process's other subscribers to it.
EVENT_READS_SECONDS = 1.0

_registries: weakref.WeakKeyDictionary[LocalFanout, dict[type, Any]] = weakref.WeakKeyDictionary()


def _of_app(ctx: Context, kind: type[T]) -> T:
    """One `kind` per broker, and so per app (tests build several apps in one process)."""
    registry = _registries.get(ctx.broker)
    if registry is None:
        registry = _registries[ctx.broker] = {}
    found = registry.get(kind)
    if found is None:
        found = registry[kind] = kind(ctx)
    return found


def watches_of(ctx: Context) -> JoinWatches:
    return _of_app(ctx, JoinWatches)


def event_reads_of(ctx: Context) -> EventReads:
    return _of_app(ctx, EventReads)


class JoinStream:
    """One subscriber's join states, as an async iterator: the current state at once, then each
    change. It holds at most one state not yet taken (the latest)."""

    __slots__ = ("_closed", "_ended", "_next", "_waiter", "last", "viewer", "watch")

    def __init__(self, watch: JoinWatch, first: JoinState) -> None:
        self.watch = watch
        self.viewer: Viewer | None = None
        self.last: JoinState | None = first
        self._next: JoinState | None = first
        self._waiter: asyncio.Future[None] | None = None
        self._ended = False
        self._closed = False

    def offer(self, state: JoinState) -> None:
        self._next = state
        self._wake()

    def end(self) -> None:
        self._ended = True
        self._closed = True  # the watch has let go of it already
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> JoinStream:
        return self

    async def __anext__(self) -> JoinState:
        while self._next is None:
            if self._ended:
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        state, self._next = self._next, None
        return state

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.watch.leave(self.viewer, self)

    def hand_over(self, listener: JoinListener) -> None:
        """Puts `listener` in this stream's place at the watch, with the state this stream was
        last offered, and offers it what this stream had not yet yielded."""
        if self._closed:
            if self._ended:
                listener.end()
            return
        self._closed = True
        self.viewer.listeners.discard(self)
        self.viewer.listeners.add(listener)
        listener.last = self.last
        if self._next is not None:
            listener.offer(self._next)


async def join_availability(ctx: Context, live_session_id: int) -> JoinStream:
    """Checks the caller may see the live session first (raising NotFound before any
    event), then returns the stream of its join states."""
    require_signed_in(ctx)
    watch = watches_of(ctx).watch(live_session_id)  # on the channel before anything is read
    heard_before = watch.heard
    try:
        read_ctx = ctx.fresh()
        found = await _read(read_ctx, live_session_id)
        may_join = await _may_join(read_ctx, *found) if found is not None else None
        if may_join is None:
            raise NotFound("No such live session.")
    except BaseException:
        watch.abandon()
        raise
    facts = JoinFacts.of(*found)
    stream = JoinStream(watch, facts.state(read_ctx.now, may_join))
    stream.viewer = watch.join(ctx.actor, facts, may_join, stream, heard_before)
    return stream


@dataclass
class Handover:
    """Set by a WebSocket handler around one operation: the subscription resolver leaves its
    stream here, with what turns a state into the field's value, for the handler to take over
    once the first result has gone out."""

    stream: JoinStream | None = None
    to_value: Callable[[JoinState], Any] | None = None
    # Called when the subscription has been set up and waits for what comes next: the server sets a few
    # sockets up at a time (sessiongraph/server/admission.py), and one with nothing to catch up has no
    # first result to say so.
    settled: Callable[[], None] | None = None


HANDOVER: contextvars.ContextVar[Handover | None] = contextvars.ContextVar("join_handover", default=None)


def _settled() -> None:
    handover = HANDOVER.get()
    if handover is not None and handover.settled is not None:
        handover.settled()


def offer_handover(stream: JoinStream, to_value: Callable[[JoinState], Any]) -> None:
    handover = HANDOVER.get()
    if handover is not None:
        handover.stream = stream
        handover.to_value = to_value


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    event_id: int
    kind: ScheduleEventKind
    live_session: LiveSession
    occurred_at: datetime


# Events read from the outbox per statement while catching up.
REPLAY_PAGE = 100


async def schedule_changes(ctx: Context, after: str | None = None) -> AsyncGenerator[ScheduleChange, None]:
    """The viewer's schedule changes, and their children's for a guardian: after the cursor `after`
    (from the outbox, then live), or from now on. Refuses a cursor before anything is sent:
    BadInput for one the service never handed out, CursorExpired for one whose events are purged."""
    user = require_signed_in(ctx)
    after_id = outbox.decode_cursor(after) if after is not None else None
    children = await ChildIdsByGuardian(ctx.fresh()).load(user.id)
    user_ids = [user.id, *sorted(children)]
    live = ctx.broker.subscribe(*(user_channel(user_id) for user_id in user_ids))
    # Listening before the position is read: whatever commits after it is heard, or replayed.
    await live.__aenter__()
    try:
        at = await outbox.positions(ctx.database)
        if after_id is not None:
            outbox.check_resumable(after_id, at)
    except BaseException:
        await live.__aexit__(None, None, None)
        raise
    return _schedule_changes(ctx, live, user_ids, after_id if after_id is not None else at.last_event,
                             replay=after_id is not None)


async def _schedule_changes(ctx: Context, live: Subscription, user_ids: list[int], position: int,
                            replay: bool) -> AsyncGenerator[ScheduleChange, None]:
    """Events are numbered in commit order and published in that order, so `position` (the last
    event yielded) is all the seam needs: the outbox's events after it, then live ones after it.
    A live event at or before it was replayed already (or heard twice); after a RESYNC (the broker's
    connection was lost, so live events may have been) the outbox is read again from it."""
    try:
        while True:
            while replay:
                rows = await outbox.schedule_events_after(ctx.database, position, user_ids, REPLAY_PAGE)
                for row in rows:
                    position = row.id
                    change = await _seen(ctx, row.id, ScheduleEventKind(row.kind), row.live_session_id,
                                         row.occurred_at)
                    if change is not None:
                        yield change
                replay = len(rows) == REPLAY_PAGE
            _settled()  # caught up: what comes next comes when it happens
            message = await anext(live)
            if message is RESYNC:
                replay = True
            elif message.get("eventId", 0) > position:
                position = message["eventId"]
                change = await _seen(ctx, position, ScheduleEventKind(message["kind"]), message["liveSessionId"],
                                     datetime.fromisoformat(message["occurredAt"]))
                if change is not None:
                    yield change
    finally:
        await live.__aexit__(None, None, None)


async def _seen(ctx: Context, event_id: int, kind: ScheduleEventKind, live_session_id: int,
                occurred_at: datetime) -> ScheduleChange | None:
    """The change as the viewer is sent it, None when they may not see its live session (any more). Its
    reads, and those of the fields the subscriber selected, go through the event's shared loaders."""
    ctx.refresh(event_reads_of(ctx).loaders(event_id))
    live_session = await LiveSessionById(ctx).load(live_session_id)
    if live_session is None or not await permissions.can_see_live_session(ctx, live_session):
        return None
    return ScheduleChange(event_id, kind, live_session, occurred_at)
