"""Booking on the wire: slots, absence requests, and the mutations that book, cancel,
reschedule, publish and withdraw availability and request and review absences."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, TypeAlias

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.resolvers import absences, booking, permissions
from sessiongraph.resolvers.loaders.booking import AbsenceRequestById, SlotById
from sessiongraph.resolvers.loaders.schedule import BookingById, BookingByLearnerLiveSession, LiveSessionById
from sessiongraph.resolvers.loaders.waitlist import LatestEntryByLearnerSlot, WaitingCountBySlot
from sessiongraph.schema.accounts import Instructor, load_instructor
from sessiongraph.schema.courses import Course, load_course
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.relay import Node, decode_id, node_fetcher, to_global_id
from sessiongraph.schema.schedule import Booking, LocationInput

if TYPE_CHECKING:
    from sessiongraph.schema.waitlist import WaitlistEntry

# strawberry.enum marks the enum class in place (and returns it); the alias keeps its name a type for mypy.
AbsenceRequestStatus: TypeAlias = models.AbsenceRequestStatus
strawberry.enum(AbsenceRequestStatus, name="AbsenceRequestStatus")


@strawberry.type(description="An instructor's published time for a course, with seats; its first booking "
                             "creates the live session, later ones join it.")
class BookableSlot(Node):
    starts_at: datetime
    ends_at: datetime
    seats: int = strawberry.field(description="How many learners it takes.")
    seats_left: int = strawberry.field(description="Seats minus the live bookings; 0 when full.")
    recurrence: str | None = strawberry.field(description="The RRULE the slot was published with, on every "
                                                          "occurrence of the series; null for a single slot.")
    model: strawberry.Private[models.BookableSlot]

    @classmethod
    def from_model(cls, slot: models.BookableSlot) -> BookableSlot:
        return cls(id=to_global_id("BookableSlot", slot.id), starts_at=slot.starts_at, ends_at=slot.ends_at,
                   seats=slot.seats, seats_left=slot.seats_left, recurrence=slot.recurrence, model=slot)

    @strawberry.field(description="How many learners wait for a seat on it.")
    async def waitlist_count(self, info: Info) -> int:
        return await WaitingCountBySlot(info.context).load(self.model.id)

    @strawberry.field(description="The viewer's latest entry on its waitlist, whatever its status; null when "
                                  "they never joined.")
    async def my_waitlist_entry(self, info: Info) -> Annotated[
            WaitlistEntry, strawberry.lazy("sessiongraph.schema.waitlist")] | None:
        from sessiongraph.schema.waitlist import entry_or_none

        viewer_id = info.context.actor.user_id
        if viewer_id is None:
            return None
        return entry_or_none(info, await LatestEntryByLearnerSlot(info.context).load((viewer_id, self.model.id)))

    @strawberry.field
    async def instructor(self, info: Info) -> Instructor:
        return await load_instructor(info, self.model.instructor_id)

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return await load_course(info, self.model.course_id)

    @strawberry.field(description="The viewer's booking on it (the live one, else the latest cancelled one); "
                                  "null when they have none.")
    async def my_booking(self, info: Info) -> Booking | None:
        viewer_id = info.context.actor.user_id
        if viewer_id is None or self.model.live_session_id is None:
            return None
        found = await BookingByLearnerLiveSession(info.context).load((viewer_id, self.model.live_session_id))
        return Booking.from_model(found) if found is not None else None


@node_fetcher("BookableSlot")
async def fetch_slot(info: Info, slot_id: int) -> BookableSlot | None:
    """Slots are public to signed-in users, as learners choose them."""
    slot = await SlotById(info.context).load(slot_id)
    return BookableSlot.from_model(slot) if slot is not None else None


@strawberry.type(description="A booked learner's notice that they will not attend a live session.")
class AbsenceRequest(Node):
    reason: str
    status: AbsenceRequestStatus
    requested_at: datetime
    reviewed_at: datetime | None
    comment: str | None = strawberry.field(description="The reviewer's comment on the decision.")
    model: strawberry.Private[models.AbsenceRequest]

    @classmethod
    def from_model(cls, request: models.AbsenceRequest) -> AbsenceRequest:
        return cls(id=to_global_id("AbsenceRequest", request.id), reason=request.reason,
                   status=models.AbsenceRequestStatus(request.status), requested_at=request.requested_at,
                   reviewed_at=request.reviewed_at, comment=request.review_comment, model=request)

    @strawberry.field
    async def booking(self, info: Info) -> Booking:
        return Booking.from_model(await BookingById(info.context).load(self.model.booking_id))


@node_fetcher("AbsenceRequest")
async def fetch_absence_request(info: Info, request_id: int) -> AbsenceRequest | None:
    """Those who may see its booking: the learner, their guardians, and those who manage the live session."""
    request = await AbsenceRequestById(info.context).load(request_id)
    if request is None:
        return None
    found = await BookingById(info.context).load(request.booking_id)
    live_session = await LiveSessionById(info.context).load(found.live_session_id)
    if not await permissions.can_see_booking(info.context, found, live_session):
        return None
    return AbsenceRequest.from_model(request)


def absence_request_or_none(request: models.AbsenceRequest | None) -> AbsenceRequest | None:
    return AbsenceRequest.from_model(request) if request is not None else None


# --- mutations ----------------------------------------------------------------------------------


@strawberry.input(description="One slot: when, how many seats, and where the live session booked from it "
                              "takes place (the classroom URL is only ever shown to those who may join).")
class SlotInput:
    starts_at: datetime
    ends_at: datetime
    seats: int
    virtual_classroom_url: str | None = None
    location: LocationInput | None = None
    recurrence: str | None = strawberry.field(default=None, description=(
        "An RFC 5545 RRULE repeating the slot from startsAt (FREQ DAILY, WEEKLY, MONTHLY or YEARLY), expanded in "
        "the instructor's time zone: a weekly 09:00 stays 09:00 local across DST. At most 400 occurrences within "
        "one year; it must end, by COUNT, UNTIL or `until` (INVALID_RECURRENCE otherwise)."))
    until: datetime | None = strawberry.field(default=None, description="The last instant an occurrence may "
                                                                         "start at.")
    exceptions: list[datetime] | None = strawberry.field(default=None, description="Occurrence starts left out.")


@strawberry.input
class PublishAvailabilityInput:
    instructor_id: strawberry.ID
    course_id: strawberry.ID
    slots: list[SlotInput]


@strawberry.type
class PublishAvailabilityPayload:
    slots: list[BookableSlot]
    errors: list[UserError]


@strawberry.input(description="`idempotencyKey`: any string of up to 200 characters the client makes up "
                              "per booking; sending the same one again answers with the first booking.")
class BookSlotInput:
    slot_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.type
class BookSlotPayload:
    booking: Booking | None
    errors: list[UserError]


@strawberry.input
class CancelBookingInput:
    booking_id: strawberry.ID


@strawberry.type
class CancelBookingPayload:
    booking: Booking | None
    errors: list[UserError]


@strawberry.input
class RequestAbsenceInput:
    live_session_id: strawberry.ID
    reason: str


@strawberry.type
class RequestAbsencePayload:
    absence_request: AbsenceRequest | None
    errors: list[UserError]


@strawberry.input
class ReviewAbsenceRequestInput:
    id: strawberry.ID
    approve: bool
    comment: str | None = None


@strawberry.type
class ReviewAbsenceRequestPayload:
    absence_request: AbsenceRequest | None
    errors: list[UserError]


@strawberry.input(description="Moves a booking to another slot of the same course; `idempotencyKey` as for "
                              "bookSlot.")
class RescheduleBookingInput:
    booking_id: strawberry.ID
    slot_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.type
class RescheduleBookingPayload:
    booking: Booking | None = strawberry.field(description="The new booking; the old one is CANCELLED.")
    errors: list[UserError]


@strawberry.input
class WithdrawSlotInput:
    slot_id: strawberry.ID
    cancel_bookings: bool | None = None


@strawberry.type
class WithdrawSlotPayload:
    withdrawn_slot_id: strawberry.ID | None
    cancelled_booking_count: int
    errors: list[UserError]


def _offers(slots: list[SlotInput]) -> list[booking.SlotOffer]:
    return [booking.SlotOffer(
        starts_at=slot.starts_at, ends_at=slot.ends_at, seats=slot.seats,
        virtual_classroom_url=slot.virtual_classroom_url,
        location=(slot.location.name, slot.location.address, slot.location.room) if slot.location else None,
        recurrence=slot.recurrence, until=slot.until, exceptions=tuple(slot.exceptions or ()))
        for slot in slots]


def _booking_or_none(found: models.Booking | None) -> Booking | None:
    return Booking.from_model(found) if found is not None else None


@strawberry.type
class BookingMutation:
    @strawberry.mutation(description="An instructor (or an admin for them) offers slots of a bookable course. "
                                     "Refused, all of them, when one is in the past (SLOT_IN_PAST) or overlaps "
                                     "another given or the instructor's slots and live sessions (SLOT_OVERLAP).")
    async def publish_availability(self, info: Info, input: PublishAvailabilityInput) -> PublishAvailabilityPayload:
        slots, errors = await attempt(info, lambda: booking.publish_availability(
            info.context, instructor_id=decode_id(input.instructor_id, "Instructor", "instructorId"),
            course_id=decode_id(input.course_id, "Course", "courseId"), offers=_offers(input.slots)))
        return PublishAvailabilityPayload(slots=[BookableSlot.from_model(s) for s in slots or []], errors=errors)

    @strawberry.mutation(description="Books the viewer on a slot and debits the course's credit cost. Errors: "
                                     "NOT_BOOKABLE, NO_ACCESS, SLOT_IN_PAST, SLOT_FULL, ALREADY_BOOKED, "
                                     "INSUFFICIENT_CREDITS, IDEMPOTENCY_KEY_REUSED (the key named another slot).")
    async def book_slot(self, info: Info, input: BookSlotInput) -> BookSlotPayload:
        made, errors = await attempt(info, lambda: booking.book_slot(
            info.context, decode_id(input.slot_id, "BookableSlot", "slotId"), input.idempotency_key))
        return BookSlotPayload(booking=_booking_or_none(made), errors=errors)

    @strawberry.mutation(description="Cancels the booking and refunds its credits, until the course's "
                                     "cancellation notice before the start (TOO_LATE_TO_CANCEL after). "
                                     "Cancelling a cancelled booking changes nothing.")
    async def cancel_booking(self, info: Info, input: CancelBookingInput) -> CancelBookingPayload:
        cancelled, errors = await attempt(info, lambda: booking.cancel_booking(
            info.context, decode_id(input.booking_id, "Booking", "bookingId")))
        return CancelBookingPayload(booking=_booking_or_none(cancelled), errors=errors)

    @strawberry.mutation(description="Moves the booking to another slot of its course in one transaction: the new "
                                     "seat is taken before the old is released, the old booking is cancelled and "
                                     "refunded and the new one debited (the balance moves by the price "
                                     "difference). Errors: as bookSlot, and VALIDATION (a slot of another "
                                     "course), NOT_BOOKED (a cancelled booking), TOO_LATE_TO_CANCEL (the old "
                                     "slot's cancellation notice has passed).")
    async def reschedule_booking(self, info: Info, input: RescheduleBookingInput) -> RescheduleBookingPayload:
        moved, errors = await attempt(info, lambda: booking.reschedule_booking(
            info.context, decode_id(input.booking_id, "Booking", "bookingId"),
            decode_id(input.slot_id, "BookableSlot", "slotId"), input.idempotency_key))
        return RescheduleBookingPayload(booking=_booking_or_none(moved), errors=errors)

    @strawberry.mutation(description="An instructor (or an admin) removes a slot that has not started, with its "
                                     "waitlist. One with bookings is refused (SLOT_HAS_BOOKINGS) unless "
                                     "cancelBookings: true, which cancels and refunds each booking and cancels "
                                     "the slot's live session.")
    async def withdraw_slot(self, info: Info, input: WithdrawSlotInput) -> WithdrawSlotPayload:
        cancelled, errors = await attempt(info, lambda: booking.withdraw_slot(
            info.context, decode_id(input.slot_id, "BookableSlot", "slotId"), bool(input.cancel_bookings)))
        return WithdrawSlotPayload(withdrawn_slot_id=None if errors else input.slot_id,
                                   cancelled_booking_count=cancelled or 0, errors=errors)

    @strawberry.mutation(description="A booked learner asks to be excused, before the start, once per booking, "
                                     "where the course takes absence requests.")
    async def request_absence(self, info: Info, input: RequestAbsenceInput) -> RequestAbsencePayload:
        request, errors = await attempt(info, lambda: absences.request_absence(
            info.context, decode_id(input.live_session_id, "LiveSession", "liveSessionId"), input.reason))
        return RequestAbsencePayload(absence_request=absence_request_or_none(request), errors=errors)

    @strawberry.mutation(description="Admins and the live session's instructor approve or reject a request; "
                                     "reviewing again replaces the decision.")
    async def review_absence_request(self, info: Info, input: ReviewAbsenceRequestInput) -> ReviewAbsenceRequestPayload:
        request, errors = await attempt(info, lambda: absences.review_absence_request(
            info.context, decode_id(input.id, "AbsenceRequest", "id"), approve=input.approve, comment=input.comment))
        return ReviewAbsenceRequestPayload(absence_request=absence_request_or_none(request), errors=errors)
