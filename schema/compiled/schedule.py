"""The calendars, compiled: CalendarTab (web), MobileCalendarMonth and MobileCalendarDay.

The calendars answer from `resolvers.schedule.calendar_rows`, one statement for the
sessions with their courses and instructors, and build the document's response in its
field order. The values are the ones the schema's fields give: statuses, join windows
and locations come from the same rules in models/schedule.py, IDs from schema/relay.py
and dates and instants from schema/scalars.py. A row whose join window is open now is
the exception: who may join decides its `isOpen` and `url`, so its join state comes from
the schema's own `resolvers.schedule.join_availability`, with the loaders' few more
statements.

Declined, and so executed field by field: an anonymous viewer (its `viewer` is null), and
variables that are not as the schema would coerce them (the schema reports the error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sessiongraph.models.calendar import CalendarView
from sessiongraph.models.schedule import location_of, status_of
from sessiongraph.resolvers import schedule
from sessiongraph.resolvers.context import Context
from sessiongraph.resolvers.loaders.schedule import (
    LiveSessionById,
)
from sessiongraph.schema.compiled import DECLINED, CompiledOperation
from sessiongraph.schema.relay import to_global_id
from sessiongraph.schema.scalars import InvalidScalar, parse_date, serialize_datetime


def _variables(variables: Mapping[str, Any], *, declared: frozenset[str] = frozenset({"view", "date"}),
               default_view: CalendarView | None = None) -> tuple[CalendarView, date] | None:
    """($view, $date) as the schema would coerce them; None when it would not, or when the
    request sends a variable the document does not declare (left to the schema to judge)."""
    if not variables.keys() <= declared:
        return None
    view_name = variables.get("view", default_view.name if default_view is not None else None)
    if not isinstance(view_name, str) or view_name not in CalendarView.__members__:
        return None
    try:
        day = parse_date(variables.get("date"))
    except InvalidScalar:
        return None
    return CalendarView[view_name], day


@dataclass(slots=True)
class _Answer:
    calendar: schedule.Calendar
    # Each row's join state, by live session ID.
    join: dict[int, schedule.JoinState]


async def _calendar(ctx: Context, view: CalendarView, day: date) -> _Answer | None:
    """The viewer's calendar of rows; None when it is not for this module to answer."""
    user = ctx.actor.user
    if user is None:
        return None
    calendar = await schedule.calendar_rows(ctx, user.id, view, day, schedule.viewer_zone(ctx),
                                            schedule.viewer_week_start(ctx))
    rows = [row for d in calendar.days for row in d.sessions]
    join = {row.id: schedule.closed_join_state(ctx, row, row.join_lead_minutes) for row in rows}
    # Who may join decides a window that is open now: those rows take the schema's own
    # path, a few statements whatever their number (the loaders batch them).
    open_ids = [live_session_id for live_session_id, state in join.items() if state is None]
    if open_ids:
        live_sessions = await LiveSessionById(ctx).load_many(open_ids)
        if any(ls is None for ls in live_sessions):
            return None  # deleted since the calendar was read: the schema answers afresh
        states = await asyncio.gather(*(schedule.join_availability(ctx, ls) for ls in live_sessions))
        join.update(zip(open_ids, states, strict=True))
    return _Answer(calendar, join)


def _join_fields(state: schedule.JoinState) -> dict[str, Any]:
    """clients/web/fragments/join_window.graphql."""
    return {"opensAt": serialize_datetime(state.opens_at), "closesAt": serialize_datetime(state.closes_at),
            "isOpen": state.is_open, "url": state.url}


def _live_session_row(row: Any, answer: _Answer, now: datetime) -> dict[str, Any]:
    """clients/web/fragments/live_session_row.graphql."""
    location = location_of(row)
    return {
        "id": to_global_id("LiveSession", row.id),
        "code": row.code,
        "startsAt": serialize_datetime(row.starts_at),
        "endsAt": serialize_datetime(row.ends_at),
        "status": status_of(row, now).name,
        "course": {"id": to_global_id("Course", row.course_id), "code": row.course_code,
                   "title": row.course_title},
        "instructor": {"id": to_global_id("Instructor", row.instructor_id),
                       "displayName": row.instructor_display_name},
        "lesson": {"name": row.lesson_name} if row.lesson_name is not None else None,
        "location": {"isVirtual": location.is_virtual, "name": location.name} if location is not None else None,
        "joinAvailability": _join_fields(answer.join[row.id]),
    }


def _session_list_item(row: Any, answer: _Answer, now: datetime) -> dict[str, Any]:
    """clients/mobile/fragments/session_list_item.graphql."""
    return {
        "id": to_global_id("LiveSession", row.id),
        "startsAt": serialize_datetime(row.starts_at),
        "endsAt": serialize_datetime(row.ends_at),
        "status": status_of(row, now).name,
        "course": {"title": row.course_title},
        "joinAvailability": {"isOpen": answer.join[row.id].is_open},
    }


def _data(calendar_fields: dict[str, Any]) -> dict[str, Any]:
    return {"viewer": {"schedule": {"calendar": calendar_fields}}}


def _days(answer: _Answer, now: datetime, *, count: bool,
          session: Callable[[Any, _Answer, datetime], dict[str, Any]] | None) -> list[dict[str, Any]]:
    days = []
    for d in answer.calendar.days:
        fields: dict[str, Any] = {"date": d.date.isoformat(), "isToday": d.is_today}
        if count:
            fields["count"] = len(d.sessions)
        if session is not None:
            fields["sessions"] = [session(row, answer, now) for row in d.sessions]
        days.append(fields)
    return days


async def calendar_tab(ctx: Context, variables: Mapping[str, Any]) -> Any:
    """clients/web/calendar_tab.graphql."""
    coerced = _variables(variables)
    answer = await _calendar(ctx, *coerced) if coerced is not None else None
    if answer is None:
        return DECLINED
    calendar = answer.calendar
    return _data({
        "view": calendar.view.name,
        "timeZone": calendar.zone.key,
        "weekStart": calendar.week_start.name,
        "start": calendar.start.isoformat(),
        "end": calendar.end.isoformat(),
        "days": _days(answer, ctx.now, count=True, session=_live_session_row),
    })


async def mobile_calendar_month(ctx: Context, variables: Mapping[str, Any]) -> Any:
    """clients/mobile/calendar_month.graphql: its view is always MONTH."""
    coerced = _variables(variables, declared=frozenset({"date"}), default_view=CalendarView.MONTH)
    answer = await _calendar(ctx, *coerced) if coerced is not None else None
    if answer is None:
        return DECLINED
    return _data({
        "start": answer.calendar.start.isoformat(),
        "end": answer.calendar.end.isoformat(),
        "days": _days(answer, ctx.now, count=True, session=None),
    })


async def mobile_calendar_day(ctx: Context, variables: Mapping[str, Any]) -> Any:
    """clients/mobile/calendar_day.graphql: $view defaults to DAY."""
    coerced = _variables(variables, default_view=CalendarView.DAY)
    answer = await _calendar(ctx, *coerced) if coerced is not None else None
    if answer is None:
        return DECLINED
    return _data({"days": _days(answer, ctx.now, count=False, session=_session_list_item)})


COMPILED = (
    CompiledOperation("web", "CalendarTab", "0f422f88098e9626756044aa94ad58e9cebc568b284f33c0c498948e9ed8b869",
                      calendar_tab),
    CompiledOperation("mobile", "MobileCalendarMonth",
                      "1a983ae5bd714ec3589509694c7866559ea5510d8255f67094f66142c34ba884", mobile_calendar_month),
    CompiledOperation("mobile", "MobileCalendarDay",
                      "b6a535239ec513bc9c312265db37c49ff04b1fb98a8e71c71312b9133cc2f435", mobile_calendar_day),
)
