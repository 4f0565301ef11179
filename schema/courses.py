"""Courses on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from sessiongraph import models
from sessiongraph.resolvers import booking, courses, permissions
from sessiongraph.resolvers.loaders.courses import CourseById
from sessiongraph.schema.errors import UserError, attempt
from sessiongraph.schema.relay import Connection, Node, id_of, node_fetcher, to_global_id

if TYPE_CHECKING:
    from sessiongraph.schema.booking import BookableSlot


@strawberry.type
class Course(Node):
    code: str
    title: str
    bookable: bool
    credit_cost: int
    absence_requests_enabled: bool
    join_lead_minutes: int
    cancellation_notice_minutes: int
    db_id: strawberry.Private[int]
    model: strawberry.Private[models.Course]

    # Decoded from its stored JSON only when asked for: a course is built for every row of a list.
    @strawberry.field(description="Minutes before each of its live sessions that the people on it get a reminder "
                                  "(reminder.due webhooks, and email), largest first.")
    def reminder_offsets_minutes(self) -> list[int]:
        return self.model.reminder_offsets_minutes

    @strawberry.field(description="The course's open slots starting in [from, to) (at most 93 days), "
                                  "ascending, full ones included with seatsLeft 0; slots that have started "
                                  "or whose live session was cancelled are left out. Empty for a course "
                                  "that is not bookable.")
    async def available_slots(
            self, info: Info, from_: Annotated[datetime, strawberry.argument(name="from")], to: datetime,
            instructor_id: strawberry.ID | None = None) -> list[Annotated[BookableSlot,
                                                                          strawberry.lazy("sessiongraph.schema.booking")]]:
        from sessiongraph.schema.booking import BookableSlot

        instructor = None
        if instructor_id is not None:
            instructor = id_of(instructor_id, "Instructor")
            if instructor is None:
                return []
        slots = await booking.available_slots(info.context, self.model, from_, to, instructor)
        return [BookableSlot.from_model(slot) for slot in slots]

    @strawberry.field(description="Whether the viewer may book it: it is bookable, and they are enrolled in a "
                                  "session holding it that they may use now.")
    async def can_book(self, info: Info) -> bool:
        viewer_id = info.context.actor.user_id
        if viewer_id is None or not self.bookable:
            return False
        return await permissions.has_course_access(info.context, viewer_id, self.db_id)

    @classmethod
    def from_model(cls, course: models.Course) -> Course:
        assert course.id is not None  # a stored row
        return cls(id=to_global_id("Course", course.id), code=course.code, title=course.title,
                   bookable=course.bookable, credit_cost=course.credit_cost,
                   absence_requests_enabled=course.absence_requests_enabled,
                   join_lead_minutes=course.join_lead_minutes,
                   cancellation_notice_minutes=course.cancellation_notice_minutes, db_id=course.id, model=course)


async def load_course(info: Info, course_id: int) -> Course | None:
    course = await CourseById(info.context).load(course_id)
    return Course.from_model(course) if course is not None else None


@node_fetcher("Course")
async def fetch_course(info: Info, course_id: int) -> Course | None:
    return await load_course(info, course_id)


@strawberry.input
class CreateCourseInput:
    code: str
    title: str
    bookable: bool | None = None
    credit_cost: int | None = None
    absence_requests_enabled: bool | None = None
    join_lead_minutes: int | None = None
    cancellation_notice_minutes: int | None = None
    reminder_offsets_minutes: list[int] | None = strawberry.field(
        default=None, description="Default [1440, 15]; [] for none. At most 10, each 1 to 43200 minutes, none twice.")


@strawberry.type
class CreateCoursePayload:
    course: Course | None
    errors: list[UserError]


@strawberry.type
class CoursesQuery:
    @strawberry.field(description="Courses by title; any signed-in user.")
    async def courses(self, info: Info, search: str | None = None, bookable: bool | None = None,
                      first: int | None = None, after: str | None = None) -> Connection[Course]:
        page = await courses.list_courses(info.context, search=search, bookable=bookable, first=first, after=after)
        return Connection.from_page(page, Course.from_model)


@strawberry.type
class CoursesMutation:
    @strawberry.mutation
    async def create_course(self, info: Info, input: CreateCourseInput) -> CreateCoursePayload:
        course, errors = await attempt(info, lambda: courses.create_course(
            info.context, code=input.code, title=input.title, bookable=input.bookable,
            credit_cost=input.credit_cost, absence_requests_enabled=input.absence_requests_enabled,
            join_lead_minutes=input.join_lead_minutes,
            cancellation_notice_minutes=input.cancellation_notice_minutes,
            reminder_offsets_minutes=input.reminder_offsets_minutes))
        return CreateCoursePayload(course=Course.from_model(course) if course else None, errors=errors)
