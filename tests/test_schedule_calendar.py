"""The calendar: DAY, WEEK and MONTH views as local days in the viewer's zone, across
daylight-saving changes."""

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sessiongraph.models.accounts import Weekday
from sessiongraph.models.calendar import CalendarView, calendar_days, local_midnight
from tests.schedule_data import data  # noqa: F401

CALENDAR = """
query($view: CalendarView!, $date: Date!, $tz: String, $weekStart: Weekday) {
  viewer { schedule { calendar(view: $view, date: $date, timeZone: $tz, weekStart: $weekStart) {
    view timeZone weekStart start end
    days { date isToday count sessions { code status startsAt } }
  } } }
}
"""


def local(zone: str, *fields: int) -> datetime:
    return datetime(*fields, tzinfo=ZoneInfo(zone))


def dates(calendar) -> list[str]:
    return [day["date"] for day in calendar["days"]]


def consecutive(first: date, count: int) -> list[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range(count)]


def on_days(calendar) -> dict[str, list[str]]:
    return {day["date"]: [s["code"] for s in day["sessions"]] for day in calendar["days"] if day["sessions"]}


async def learner_with(data, time_zone: str, *starts: tuple[str, datetime], week_start: str = "MONDAY"):
    learner = await data.user(time_zone=time_zone, week_start=week_start)
    course = await data.course()
    teacher = await data.instructor()
    for code, starts_at in starts:
        await data.book(learner, await data.live_session(course, teacher, starts_at, code=code, minutes=45))
    return learner


async def test_month_covers_whole_weeks_from_the_week_start(data, caller):
    # given: March 2026 starts on a Sunday and ends on a Tuesday
    learner = await learner_with(data, "UTC", ("MAR1", datetime(2026, 3, 1, 9, tzinfo=UTC)),
                                 ("MAR10A", datetime(2026, 3, 10, 8, tzinfo=UTC)),
                                 ("MAR10B", datetime(2026, 3, 10, 18, tzinfo=UTC)),
                                 ("APR5", datetime(2026, 4, 5, 9, tzinfo=UTC)),
                                 ("APR6", datetime(2026, 4, 6, 9, tzinfo=UTC)))
    me = caller(learner)

    # when
    monday = (await me(CALENDAR, view="MONTH", date="2026-03-17"))["viewer"]["schedule"]["calendar"]
    sunday = (await me(CALENDAR, view="MONTH", date="2026-03-17", weekStart="SUNDAY"))["viewer"]["schedule"]["calendar"]

    # then: Monday weeks run Feb 23 .. Apr 5 (6 weeks); Sunday weeks Mar 1 .. Apr 4 (5 weeks)
    assert (monday["start"], monday["end"], monday["weekStart"], monday["view"]) == (
        "2026-02-23", "2026-04-05", "MONDAY", "MONTH")
    assert dates(monday) == consecutive(date(2026, 2, 23), 42)
    assert on_days(monday) == {"2026-03-01": ["MAR1"], "2026-03-10": ["MAR10A", "MAR10B"], "2026-04-05": ["APR5"]}
    assert [d["isToday"] for d in monday["days"]].count(True) == 1
    assert next(d for d in monday["days"] if d["isToday"])["date"] == "2026-03-10"
    assert next(d for d in monday["days"] if d["date"] == "2026-03-10")["count"] == 2
    assert (sunday["start"], sunday["end"]) == ("2026-03-01", "2026-04-04")
    assert len(sunday["days"]) == 35 and "2026-04-05" not in on_days(sunday)


async def test_week_and_day_views(data, caller):
    learner = await learner_with(data, "UTC", ("TUE", datetime(2026, 3, 10, 9, tzinfo=UTC)),
                                 ("SUN", datetime(2026, 3, 15, 23, 30, tzinfo=UTC)),
                                 ("NEXTMON", datetime(2026, 3, 16, 0, 0, tzinfo=UTC)), week_start="SUNDAY")
    me = caller(learner)

    week = (await me(CALENDAR, view="WEEK", date="2026-03-12"))["viewer"]["schedule"]["calendar"]
    monday_week = (await me(CALENDAR, view="WEEK", date="2026-03-15", weekStart="MONDAY"))
    day = (await me(CALENDAR, view="DAY", date="2026-03-15"))["viewer"]["schedule"]["calendar"]

    # the user's setting says Sunday: the week holding Thursday the 12th is Sun 8 .. Sat 14
    assert (week["start"], week["end"], week["weekStart"]) == ("2026-03-08", "2026-03-14", "SUNDAY")
    assert on_days(week) == {"2026-03-10": ["TUE"]}
    monday_week = monday_week["viewer"]["schedule"]["calendar"]
    assert (monday_week["start"], monday_week["end"]) == ("2026-03-09", "2026-03-15")
    assert on_days(monday_week) == {"2026-03-10": ["TUE"], "2026-03-15": ["SUN"]}
    assert dates(day) == ["2026-03-15"] and on_days(day) == {"2026-03-15": ["SUN"]}
    assert day["days"][0]["isToday"] is False


async def test_paris_week_of_the_spring_change_puts_every_session_on_its_local_day(data, caller):
    # given: on Sunday 2026-03-29 Paris goes from +01:00 to +02:00 at 02:00 (a 23-hour day)
    paris = "Europe/Paris"
    learner = await learner_with(
        data, paris,
        ("SAT2330", local(paris, 2026, 3, 28, 23, 30)),    # 22:30 UTC
        ("SUN0030", local(paris, 2026, 3, 29, 0, 30)),     # 23:30 UTC on the 28th
        ("SUN0330", local(paris, 2026, 3, 29, 3, 30)),     # just after the change
        ("SUN2330", local(paris, 2026, 3, 29, 23, 30)),    # 21:30 UTC
        ("MON0030", local(paris, 2026, 3, 30, 0, 30)))     # 22:30 UTC on the 29th

    # when
    week = (await caller(learner)(CALENDAR, view="WEEK", date="2026-03-29"))["viewer"]["schedule"]["calendar"]

    # then
    assert week["timeZone"] == paris and dates(week) == consecutive(date(2026, 3, 23), 7)
    assert on_days(week) == {"2026-03-28": ["SAT2330"], "2026-03-29": ["SUN0030", "SUN0330", "SUN2330"]}


async def test_new_york_month_across_the_autumn_change_has_every_day_once(data, caller):
    # given: on Sunday 2026-11-01 New York goes from -04:00 to -05:00 at 02:00 (a 25-hour day),
    # and the October view's last week (Mon Oct 26 .. Sun Nov 1) holds that day
    ny = "America/New_York"
    learner = await learner_with(
        data, ny,
        ("OCT31LATE", local(ny, 2026, 10, 31, 23, 30)),                        # 03:30 UTC Nov 1
        ("NOV1EARLY", local(ny, 2026, 11, 1, 0, 30)),                          # 04:30 UTC, still EDT
        ("NOV1REPEAT", datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),              # 01:30 EST, the second one
        ("NOV1LATE", local(ny, 2026, 11, 1, 23, 30)),                          # 04:30 UTC Nov 2, EST
        ("NOV2", local(ny, 2026, 11, 2, 0, 30)))                               # next view
    me = caller(learner)

    # when
    october = (await me(CALENDAR, view="MONTH", date="2026-10-15"))["viewer"]["schedule"]["calendar"]
    as_paris = (await me(CALENDAR, view="MONTH", date="2026-10-15", tz="Europe/Paris"))

    # then
    assert (october["start"], october["end"]) == ("2026-09-28", "2026-11-01")
    assert dates(october) == consecutive(date(2026, 9, 28), 35)
    assert on_days(october) == {"2026-10-31": ["OCT31LATE"], "2026-11-01": ["NOV1EARLY", "NOV1REPEAT", "NOV1LATE"]}
    # Paris changed a week earlier (Oct 25); the same instants fall on Paris days
    paris = as_paris["viewer"]["schedule"]["calendar"]
    assert paris["timeZone"] == "Europe/Paris" and dates(paris) == consecutive(date(2026, 9, 28), 35)
    assert on_days(paris) == {"2026-11-01": ["OCT31LATE", "NOV1EARLY", "NOV1REPEAT"]}


async def test_new_york_week_of_the_spring_change(data, caller):
    # given: on Sunday 2026-03-08 New York skips 02:00..03:00
    ny = "America/New_York"
    learner = await learner_with(
        data, ny,
        ("SAT2330", local(ny, 2026, 3, 7, 23, 30)),     # EST: 04:30 UTC on the 8th
        ("SUN0130", local(ny, 2026, 3, 8, 1, 30)),      # EST
        ("SUN0330", local(ny, 2026, 3, 8, 3, 30)),      # EDT
        ("SUN2330", local(ny, 2026, 3, 8, 23, 30)))     # EDT: 03:30 UTC on the 9th

    week = (await caller(learner)(CALENDAR, view="WEEK", date="2026-03-08"))["viewer"]["schedule"]["calendar"]

    assert dates(week) == consecutive(date(2026, 3, 2), 7)
    assert on_days(week) == {"2026-03-07": ["SAT2330"], "2026-03-08": ["SUN0130", "SUN0330", "SUN2330"]}


async def test_cancelled_sessions_stay_on_the_calendar_and_others_are_not_there(data, caller):
    learner = await data.user()
    stranger = await data.user()
    course = await data.course()
    teacher = await data.instructor()
    await data.book(learner, await data.live_session(course, teacher, datetime(2026, 3, 12, 9, tzinfo=UTC),
                                                     code="OFF", cancelled_at=datetime(2026, 3, 1, tzinfo=UTC)))
    await data.book(stranger, await data.live_session(course, teacher, datetime(2026, 3, 12, 10, tzinfo=UTC),
                                                      code="NOTMINE"))

    week = (await caller(learner)(CALENDAR, view="WEEK", date="2026-03-12"))["viewer"]["schedule"]["calendar"]

    thursday = next(d for d in week["days"] if d["date"] == "2026-03-12")
    assert thursday["count"] == 1 and thursday["sessions"][0]["status"] == "CANCELLED"
    assert thursday["sessions"][0]["code"] == "OFF"


async def test_an_unknown_time_zone_is_a_clear_error(data, caller):
    learner = await data.user()
    body = await caller(learner).execute(CALENDAR, view="DAY", date="2026-03-10", tz="Europe/Atlantis")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "'Europe/Atlantis' is not an IANA time zone" in body["errors"][0]["message"]


def test_calendar_days_every_month_of_a_year_in_every_zone_is_whole_weeks_with_each_day_once():
    for zone_name in ("Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe", "America/Santiago"):
        zone = ZoneInfo(zone_name)
        for month in range(1, 13):
            for week_start in (Weekday.MONDAY, Weekday.SUNDAY):
                span = calendar_days(CalendarView.MONTH, date(2026, month, 14), week_start, zone)
                days = span.dates
                assert len(days) in (28, 35, 42) and len(set(days)) == len(days)
                assert days[0].weekday() == week_start.index
                assert days[0] <= date(2026, month, 1) and days[-1] >= date(2026, month, 28)
                # each local day is a span of 22.5 to 25 hours that starts where the last ended
                bounds = [local_midnight(d, zone) for d in days] + [span.ends_at]
                assert bounds[0] == span.starts_at
                for start, end in itertools.pairwise(bounds):
                    assert timedelta(hours=22.5) <= end - start <= timedelta(hours=25)
