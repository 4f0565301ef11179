"""Waitlists on the wire: entries, and the mutations that join and leave one."""

from __future__ import annotations

from datetime import datetime
from typing import TypeAlias

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.models.waitlist import reason_of, status_of
from sessiongraph.resolvers import waitlist
from sessiongraph.resolvers.loaders.booking import SlotById
from sessiongraph.resolvers.loaders.schedule import BookingById
from sessiongraph.resolvers.loaders.waitlist import AheadCountByEntry, WaitlistEntryById
from sessiongraph.schema.booking import BookableSlot
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.relay import Node, decode_id, node_fetcher, to_global_id
from sessiongraph.schema.schedule import Booking

# strawberry.enum marks the enum class in place (and returns it); the alias keeps its name a type for mypy.
WaitlistStatus: TypeAlias = models.WaitlistStatus
strawberry.enum(WaitlistStatus, name="WaitlistStatus")


@strawberry.type(description="A learner's place in a full slot's queue. When a seat frees before the slot's "
                             "cancellation notice, the first WAITING learner who may book and has the credits "
                             "is booked at once (PROMOTED); one who may not is SKIPPED with the reason.")
class WaitlistEntry(Node):
    position: int = strawberry.field(description="The order of joining on this slot, from 1; unique per slot, "
                                                 "never reused.")
    status: WaitlistStatus
    joined_at: datetime
    reason: str | None = strawberry.field(description="Why SKIPPED or EXPIRED: NO_ACCESS, NOT_BOOKABLE, "
                                                      "ALREADY_BOOKED, INSUFFICIENT_CREDITS, NOTICE_PASSED, "
                                                      "LIVE_SESSION_CANCELLED.")
    resolved_at: datetime | None = strawberry.field(description="When it stopped WAITING.")
    model: strawberry.Private[models.WaitlistEntry]
    id_number: strawberry.Private[int]

    @classmethod
    def from_model(cls, entry: models.WaitlistEntry, now: datetime) -> WaitlistEntry:
        assert entry.id is not None  # a stored entry
        return cls(id=to_global_id("WaitlistEntry", entry.id), position=entry.position,
                   status=status_of(entry, now), joined_at=entry.joined_at, reason=reason_of(entry, now),
                   resolved_at=entry.resolved_at, model=entry, id_number=entry.id)

    @strawberry.field
    async def slot(self, info: Info) -> BookableSlot:
        slot = await SlotById(info.context).load(self.model.slot_id)
        assert slot is not None  # an entry goes with its slot (ON DELETE CASCADE)
        return BookableSlot.from_model(slot)

    @strawberry.field(description="1 for the next learner to be offered a seat; null once not WAITING.")
    async def place_in_line(self, info: Info) -> int | None:
        if self.status is not models.WaitlistStatus.WAITING:
            return None
        return await AheadCountByEntry(info.context).load(self.id_number) + 1

    @strawberry.field(description="The booking a promotion made; null unless PROMOTED.")
    async def booking(self, info: Info) -> Booking | None:
        if self.model.booking_id is None:
            return None
        found = await BookingById(info.context).load(self.model.booking_id)
        return Booking.from_model(found) if found is not None else None


def entry_or_none(info: Info, entry: models.WaitlistEntry | None) -> WaitlistEntry | None:
    return WaitlistEntry.from_model(entry, info.context.now) if entry is not None else None


@node_fetcher("WaitlistEntry")
async def fetch_waitlist_entry(info: Info, entry_id: int) -> WaitlistEntry | None:
    """An entry is its learner's, and administrators'."""
    entry = await WaitlistEntryById(info.context).load(entry_id)
    return entry_or_none(info, entry) if entry is not None and waitlist.may_see_entry(info.context, entry) else None


@strawberry.input
class JoinWaitlistInput:
    slot_id: strawberry.ID


@strawberry.type
class JoinWaitlistPayload:
    waitlist_entry: WaitlistEntry | None
    errors: list[UserError]


@strawberry.input
class LeaveWaitlistInput:
    waitlist_entry_id: strawberry.ID


@strawberry.type
class LeaveWaitlistPayload:
    waitlist_entry: WaitlistEntry | None
    errors: list[UserError]


@strawberry.type
class WaitlistMutation:
    @strawberry.mutation(description="Queues the viewer for a full slot. Errors: NOT_FOUND, NOT_BOOKABLE, "
                                     "NO_ACCESS, SLOT_IN_PAST, LIVE_SESSION_CANCELLED, ALREADY_BOOKED, "
                                     "ALREADY_WAITING, WAITLIST_CLOSED (the cancellation notice has passed), "
                                     "SLOT_NOT_FULL (book it instead). Credits are checked at promotion.")
    async def join_waitlist(self, info: Info, input: JoinWaitlistInput) -> JoinWaitlistPayload:
        entry, errors = await attempt(info, lambda: waitlist.join_waitlist(
            info.context, decode_id(input.slot_id, "BookableSlot", "slotId")))
        return JoinWaitlistPayload(waitlist_entry=entry_or_none(info, entry), errors=errors)

    @strawberry.mutation(description="Leaves the queue (LEFT); an entry no longer WAITING is answered as it is.")
    async def leave_waitlist(self, info: Info, input: LeaveWaitlistInput) -> LeaveWaitlistPayload:
        entry, errors = await attempt(info, lambda: waitlist.leave_waitlist(
            info.context, decode_id(input.waitlist_entry_id, "WaitlistEntry", "waitlistEntryId")))
        return LeaveWaitlistPayload(waitlist_entry=entry_or_none(info, entry), errors=errors)
