"""Setting up live sessions: what the session form offers (courses, lecturers, the activity
day's defaults, the segment plans) and how its answers become a session or a series.

The views of ``lms/web/live.py`` call these instead of querying: the domain rules (which
courses a session may belong to, who may lecture, a lecture's default length) live here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from flask_babel import gettext as _
from sqlalchemy import select

from lms.extensions import db
from lms.models import Camp, Course, Lesson, LiveSession, Registration, User
from lms.models._base import academy_timezone, utcnow
from lms.services import live

PLANS = ("activity_day", "lecture")
LECTURE_MINUTES = 90
LECTURE_SEGMENT = {"kind": "lecture", "title_zh": "讲座", "title_en": "Lecture", "offset": 0}


def next_activity_day(today: date) -> date:
    """The next 25th (today when it is the 25th)."""
    return (
        today.replace(day=live.ACTIVITY_DAY)
        if today.day <= live.ACTIVITY_DAY
        else (today + relativedelta(months=1, day=live.ACTIVITY_DAY))
    )


@dataclass(frozen=True)
class FormDefaults:
    """What the new-session form starts with: the next activity day, monthly on the 25th."""

    values: live.SessionValues
    date: date
    start: time
    frequency: str = "monthly"
    monthday: int = live.ACTIVITY_DAY


def activity_day_defaults(now: datetime | None = None) -> FormDefaults:
    today = live.local(now or utcnow(), academy_timezone()).date()
    return FormDefaults(
        values=live.activity_day_values(), date=next_activity_day(today),
        start=live.ACTIVITY_DAY_START,
    )  # fmt: skip


def segment_plan(plan: str, minutes: int | None = None) -> list[dict[str, Any]]:
    """The segments of a new session: the activity day's three, or one lecture of
    ``minutes`` (90 by default)."""
    if plan == "activity_day":
        return live.ACTIVITY_DAY_SEGMENTS
    if plan != "lecture":
        raise live.LiveError(_("Unknown programme."))
    return [{**LECTURE_SEGMENT, "minutes": minutes or LECTURE_MINUTES}]


def schedulable_courses() -> list[Course]:
    """Published, unarchived courses of the visible camps, which a session may belong to."""
    return list(
        db.session.scalars(
            db.select(Course)
            .where(Course.camp_id.in_(live.camp_ids_visible()), Course.status == "published")
            .where(Course.archived_at.is_(None))
            .order_by(Course.camp_id, Course.position)
        )
    )


def lecturers() -> list[User]:
    """Active trainers and organizers, who may lecture."""
    return list(
        db.session.scalars(
            db.select(User)
            .where(User.role.in_(("trainer", "organizer")), User.active.is_(True))
            .order_by(User.name)
        )
    )


def user(user_id: int | None) -> User | None:
    """A person the roster or the check-in form names by id (None when there is none)."""
    return db.session.get(User, user_id) if user_id else None


def placement(camp_slug: str, course_id: int | None) -> tuple[int | None, int | None]:
    """(camp id, course id) of a new session: a course brings its camp; unknown ones are
    refused."""
    course = db.session.get(Course, course_id) if course_id else None
    if course_id and (course is None or course.camp_id not in live.camp_ids_visible()):
        raise live.LiveError(_("Unknown course."))
    if course is not None:
        return course.camp_id, course.id
    if not camp_slug:
        return None, None
    camp = db.session.scalar(db.select(Camp).filter_by(slug=camp_slug))
    if camp is None or camp.id not in live.camp_ids_visible():
        raise live.LiveError(_("Unknown camp."))
    return camp.id, None


def check_screening(lesson_id: int | None) -> None:
    if lesson_id is not None and db.session.get(Lesson, lesson_id) is None:
        raise live.LiveError(_("There is no lesson with this number."))


def create(
    values: live.SessionValues,
    rule: str,
    starts_local: datetime,
    plan: list[dict[str, Any]],
    by: User,
) -> LiveSession:
    """A single session (``rule`` empty) or a series; the session to show: the single one,
    or the series' first. Commits."""
    if not rule:
        return live.create_session(
            values, starts_local.replace(tzinfo=live.zone(values.timezone)), plan
        )
    series = live.create_series(values, rule, starts_local, plan, by)
    first = db.session.scalar(
        select(LiveSession).filter_by(series_id=series.id).order_by(LiveSession.starts_at).limit(1)
    )
    if first is None:
        raise live.LiveError(_("The rule gives no date in the coming months."))
    return first


def registrations_by_session(
    user: User, sessions: Iterable[LiveSession]
) -> dict[int, Registration]:
    """The user's registrations for ``sessions``, by session id (one query)."""
    ids = [session.id for session in sessions]
    if not user.is_authenticated or not ids:
        return {}
    return {
        row.session_id: row
        for row in db.session.scalars(
            db.select(Registration).where(
                Registration.user_id == user.id, Registration.session_id.in_(ids)
            )
        )
    }


def on_session_day(session: LiveSession, value: time | None) -> datetime | None:
    """A time of day on the session's (local) day, as an aware instant; a time before the
    start of a session that runs past midnight is on the next day."""
    if value is None:
        return None
    start = live.local(session.starts_at, session.timezone)
    moment = datetime.combine(start.date(), value, tzinfo=start.tzinfo)
    if moment < start and live.local(session.ends_at, session.timezone).date() > start.date():
        moment += timedelta(days=1)
    return moment


def month_start(year: int, month: int) -> date:
    """The first of a calendar page's month; LiveError outside the years sessions use."""
    live.check_year(year)
    try:
        return date(year, month, 1)
    except ValueError as exc:
        raise live.LiveError(_("Unknown month.")) from exc


@dataclass(frozen=True)
class CalendarMonth:
    """A month page of the live calendar: its weeks, the visible sessions by local day."""

    first: date
    today: date
    weeks: list[list[date]]
    by_day: dict[date, list[LiveSession]]
    previous: date
    following: date


def calendar_month(
    year: int | None = None, month: int | None = None, now: datetime | None = None
) -> CalendarMonth:
    """The month (this month by default) in the academy's time zone; LiveError for an
    unknown month or a year sessions do not use."""
    today = live.local(now or utcnow(), academy_timezone()).date()
    first = month_start(
        today.year if year is None else year, today.month if month is None else month
    )
    start = datetime(first.year, first.month, 1, tzinfo=live.zone(academy_timezone()))
    by_day: dict[date, list[LiveSession]] = {}
    for session in live.upcoming(live.camp_ids_visible(), start=start - timedelta(days=7), days=45):
        by_day.setdefault(live.local(session.starts_at, session.timezone).date(), []).append(
            session
        )
    return CalendarMonth(
        first=first, today=today, weeks=live.month_grid(first.year, first.month), by_day=by_day,
        previous=first - relativedelta(months=1), following=first + relativedelta(months=1),
    )  # fmt: skip
