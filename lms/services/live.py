"""Live sessions: series with recurrence rules, occurrences, registration with capacity.

A series stores an iCalendar RRULE and a local start time in a time zone; its occurrences
are materialized as sessions keyed by their original start (``recurrence_id``), so one can
be moved or cancelled and a later regeneration leaves it as it is.
"""

from __future__ import annotations

import calendar
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from lms.database import lock_row
from lms.extensions import db
from lms.models import (
    Attendance,
    Course,
    LiveSegment,
    LiveSeries,
    LiveSession,
    Registration,
    User,
)
from lms.models._base import academy_timezone, aware, utcnow
from lms.services import notifications, schedule
from lms.services.catalog import can_edit
from lms.services.errors import Conflict, Invalid

ACTIVITY_DAY = 25  # of every month
ACTIVITY_DAY_RULE = f"FREQ=MONTHLY;BYMONTHDAY={ACTIVITY_DAY}"
ACTIVITY_DAY_START = time(13, 30)
# The academy's fixed activity day: three segments in the afternoon (minutes from the start).
ACTIVITY_DAY_SEGMENTS = [
    {"kind": kind, "title_zh": zh, "title_en": en, "offset": offset, "minutes": minutes}
    for kind, zh, en, offset, minutes in (
        ("open_class", "创客公开课", "Open class", 0, 60),
        ("salon", "创客沙龙", "Maker salon", 70, 60),
        ("discussion", "党员大讨论", "Members' discussion", 140, 50),
    )
]
REMOTE_EDUCATION_CENTRE = "园区党员远程教育中心 Remote-education centre"


def place_label(location: str) -> str:
    """A session's place as the reader reads it: the activity day's default place (stored in
    both languages at once) in the reader's language; any other place as it was typed."""
    if location == REMOTE_EDUCATION_CENTRE:
        return _("The park's remote-education centre for Party members")
    return location


HORIZON_DAYS = 400
ALLOWED_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
# NAME=VALUE parts joined by ";" — no DTSTART, no line breaks, nothing else.
RULE_SHAPE = re.compile(r"[A-Z]+=[A-Z0-9,+\-]+(;[A-Z]+=[A-Z0-9,+\-]+)*")
MAX_OCCURRENCES = 500
# A new or edited series may give at most this many sessions within the horizon (a daily rule
# without an end would flood the list and the calendar with 400).
MAX_SERIES_SESSIONS = 60
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# Sessions and calendar pages stay within these years (far from datetime's limits).
FIRST_YEAR, LAST_YEAR = 1970, 2199


class LiveError(Invalid):
    """A request the live-teaching rules refuse; the message is shown (a 400)."""


class LiveConflict(LiveError, Conflict):
    """The change conflicts with what learners already did (registered, attended): a 409."""


class NeedsConfirmation(LiveError):
    """A date in the past: allowed only when the trainer confirms it (the form asks)."""


def check_year(year: int) -> None:
    """Refuse a date outside the years sessions and calendars may use."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise LiveError(
            _("Choose a date between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR)
        )


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise LiveError(_("Unknown time zone %(zone)s.", zone=name)) from exc


def parse_rule(rule: str, starts_local: datetime, timezone: str) -> Any:
    """An RRULE string (without DTSTART) into a dateutil rule; raise LiveError if invalid."""
    if not rule or len(rule) > 500 or not RULE_SHAPE.fullmatch(rule.upper()):
        raise LiveError(_("Give a recurrence rule such as FREQ=MONTHLY;BYMONTHDAY=25."))
    frequency = re.search(r"FREQ=([A-Z]+)", rule.upper())
    if frequency is None or frequency.group(1) not in ALLOWED_FREQUENCIES:
        raise LiveError(_("A series repeats daily, weekly, monthly or yearly."))
    start = starts_local.replace(tzinfo=zone(timezone))
    try:
        parsed = rrulestr(rule, dtstart=start)
    except (ValueError, TypeError) as exc:
        raise LiveError(_("The recurrence rule is not valid: %(error)s", error=str(exc))) from exc
    if not parsed.between(start, start + timedelta(days=3660), inc=True):
        raise LiveError(_("The recurrence rule gives no date in the next ten years."))
    return parsed


def occurrences(series: LiveSeries, start: datetime, end: datetime) -> list[datetime]:
    """Local, zone-aware starts between two UTC instants; the wall-clock time holds across DST."""
    rule = parse_rule(series.rrule, series.starts_local, series.timezone)
    tz = zone(series.timezone)
    found: list[datetime] = rule.between(start.astimezone(tz), end.astimezone(tz), inc=True)
    return found[:MAX_OCCURRENCES]


@dataclass
class SessionValues:
    title_zh: str
    title_en: str
    location: str
    capacity: int
    timezone: str = field(default_factory=academy_timezone)
    camp_id: int | None = None
    course_id: int | None = None
    lecturer_id: int | None = None
    guest_name: str = ""
    guest_title: str = ""
    delivery: str = "lecture"
    screening_lesson_id: int | None = None
    summary_zh: str = ""
    summary_en: str = ""


# What a series passes to each of its occurrences, and what an occurrence copies from the last.
SERIES_FIELDS = (
    "title_zh", "title_en", "summary_zh", "summary_en", "camp_id", "course_id",
    "location", "capacity", "timezone",
)  # fmt: skip
OCCURRENCE_FIELDS = (
    "lecturer_id", "guest_name", "guest_title", "delivery", "screening_lesson_id",
)  # fmt: skip


def _apply(session: LiveSession, values: SessionValues) -> None:
    for key, value in values.__dict__.items():
        setattr(session, key, value)


def _segments_for(session: LiveSession, plan: list[dict[str, Any]]) -> list[LiveSegment]:
    start = aware(session.starts_at)
    return [
        LiveSegment(
            kind=part["kind"],
            title_zh=part["title_zh"],
            title_en=part["title_en"],
            starts_at=start + timedelta(minutes=part["offset"]),
            ends_at=start + timedelta(minutes=part["offset"] + part["minutes"]),
        )
        for part in plan
    ]


def validate_segments(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not plan:
        raise LiveError(_("A session needs at least one segment."))
    cursor = 0
    for part in plan:
        if part["minutes"] <= 0 or part["offset"] < cursor:
            raise LiveError(_("Segments must have a length and must not overlap."))
        cursor = part["offset"] + part["minutes"]
    return plan


def create_session(
    values: SessionValues, starts_at: datetime, plan: list[dict[str, Any]]
) -> LiveSession:
    """A single session (no series). ``starts_at`` is zone-aware. Commits."""
    validate_segments(plan)
    check_year(starts_at.year)
    session = LiveSession(checkin_secret=secrets.token_hex(16))
    _apply(session, values)
    session.starts_at = starts_at.astimezone(UTC).replace(second=0, microsecond=0)
    session.ends_at = session.starts_at + timedelta(
        minutes=plan[-1]["offset"] + plan[-1]["minutes"]
    )
    session.segments = _segments_for(session, plan)
    db.session.add(session)
    db.session.commit()
    return session


def create_series(
    values: SessionValues, rule: str, starts_local: datetime, plan: list[dict[str, Any]], user: User
) -> LiveSeries:
    """A recurring series and its occurrences for the coming months. Commits."""
    validate_segments(plan)
    check_year(starts_local.year)
    preview(rule, starts_local, values.timezone)
    series = LiveSeries(
        **{name: getattr(values, name) for name in SERIES_FIELDS},
        rrule=rule,
        starts_local=starts_local.replace(tzinfo=None),
        segments=plan,
        created_by_id=user.id,
    )
    db.session.add(series)
    db.session.flush()
    materialize(series, values)
    db.session.commit()
    return series


def activity_day_values(
    title_zh: str = "园区党员固定活动日", title_en: str = "Park activity day"
) -> SessionValues:
    return SessionValues(
        title_zh=title_zh, title_en=title_en, location=REMOTE_EDUCATION_CENTRE, capacity=80
    )


def materialize(
    series: LiveSeries, values: SessionValues | None = None, now: datetime | None = None
) -> int:
    """Create the sessions of ``series`` up to the horizon; existing ones are left alone.

    The series row is locked first, so two callers never create the same occurrence.
    """
    now = now or utcnow()
    lock_row(LiveSeries, series.id)
    existing = set(
        aware(moment)
        for moment in db.session.scalars(
            select(LiveSession.recurrence_id).where(LiveSession.series_id == series.id)
        )
        if moment is not None  # a series' sessions all have their occurrence
    )
    # Lecturer, guest and delivery come from the values given, else from the latest occurrence.
    template: Any = values or db.session.scalar(
        select(LiveSession)
        .filter_by(series_id=series.id)
        .order_by(LiveSession.starts_at.desc())
        .limit(1)
    )
    created = 0
    first = series.starts_local.replace(tzinfo=zone(series.timezone)).astimezone(UTC)
    window_start = max(now, first) - timedelta(days=1)
    window_end = window_start + timedelta(days=HORIZON_DAYS)
    for local_start in occurrences(series, window_start, window_end):
        recurrence = local_start.astimezone(UTC)
        if recurrence in existing:
            continue
        session = LiveSession(
            **{name: getattr(series, name) for name in SERIES_FIELDS},
            **{name: getattr(template, name) for name in OCCURRENCE_FIELDS if template},
            series_id=series.id,
            recurrence_id=recurrence,
            checkin_secret=secrets.token_hex(16),
            starts_at=recurrence,
        )
        last = series.segments[-1]
        session.ends_at = recurrence + timedelta(minutes=last["offset"] + last["minutes"])
        session.segments = _segments_for(session, series.segments)
        db.session.add(session)
        created += 1
    db.session.flush()
    return created


@schedule.register("extend live series", every=timedelta(hours=6))
def extend_series(now: datetime | None = None) -> int:
    """Keep every series materialized a horizon ahead as time passes (cheap when nothing to do).

    A scheduled task (``lms cron``); running it twice creates nothing the second time.
    """
    now = now or utcnow()
    soon = now + timedelta(days=HORIZON_DAYS - 60)
    stale = db.session.scalars(
        select(LiveSeries)
        .outerjoin(LiveSession, LiveSession.series_id == LiveSeries.id)
        .group_by(LiveSeries.id)
        .having(func.coalesce(func.max(LiveSession.starts_at), now) < soon)
    ).all()
    created = sum(materialize(series, now=now) for series in stale)
    if created:
        db.session.commit()
    return created


def build_rule(
    frequency: str,
    *,
    weekday: str = "",
    monthday: int | None = None,
    until: date | None = None,
    count: int | None = None,
    timezone: str = "UTC",
) -> str:
    """An RRULE from the recurrence form: weekly on a weekday, or monthly on a day of the
    month, ending on a date or after a number of sessions (or neither)."""
    if frequency == "weekly":
        if weekday not in WEEKDAYS:
            raise LiveError(_("Choose the day of the week."))
        parts = ["FREQ=WEEKLY", f"BYDAY={weekday}"]
    elif frequency == "monthly":
        if monthday is None or not 1 <= monthday <= 31:
            raise LiveError(_("Choose a day of the month between 1 and 31."))
        parts = ["FREQ=MONTHLY", f"BYMONTHDAY={monthday}"]
    else:
        raise LiveError(_("A series repeats weekly or monthly (or give a rule)."))
    if until is not None and count is not None:
        raise LiveError(_("End the series on a date or after a number of sessions, not both."))
    if until is not None:
        check_year(until.year)
        last = datetime.combine(until, time(23, 59, 59), zone(timezone))
        parts.append(f"UNTIL={last.astimezone(UTC):%Y%m%dT%H%M%SZ}")
    if count is not None:
        if not 1 <= count <= MAX_SERIES_SESSIONS:
            raise LiveError(
                _("A series has at most %(count)d sessions.", count=MAX_SERIES_SESSIONS)
            )
        parts.append(f"COUNT={count}")
    return ";".join(parts)


def preview(rule: str, starts_local: datetime, timezone: str) -> list[datetime]:
    """The local starts a rule gives from ``starts_local`` within the horizon, to show before
    saving; refused (LiveError) when invalid or when it gives more than
    :data:`MAX_SERIES_SESSIONS` sessions."""
    check_year(starts_local.year)
    parsed = parse_rule(rule, starts_local.replace(tzinfo=None), timezone)
    start = starts_local.replace(tzinfo=zone(timezone))
    found = []
    for moment in parsed:
        if moment > start + timedelta(days=HORIZON_DAYS):
            break
        found.append(moment)
        if len(found) > MAX_SERIES_SESSIONS:
            raise LiveError(
                _(
                    "This rule gives more than %(count)d sessions in the next %(days)d days: "
                    "give an end date or a number of sessions.",
                    count=MAX_SERIES_SESSIONS,
                    days=HORIZON_DAYS,
                )
            )
    if not found:
        raise LiveError(_("The rule gives no date in the coming months."))
    return found


def check_past(
    starts_at: datetime,
    confirmed: bool,
    session: LiveSession | None = None,
    now: datetime | None = None,
) -> None:
    """A start in the past needs the trainer's confirmation, and is refused outright for a
    session that learners registered for."""
    now = now or utcnow()
    if starts_at >= now:
        return
    if session is not None and has_registrations(session):
        raise LiveConflict(_("Learners registered for this session: it cannot move into the past."))
    if not confirmed:
        raise NeedsConfirmation(
            _("This date is in the past. Tick the confirmation to save it anyway.")
        )


def has_registrations(session: LiveSession) -> bool:
    return (
        db.session.scalar(
            select(Registration.id)
            .where(Registration.session_id == session.id, Registration.status != "cancelled")
            .limit(1)
        )
        is not None
    )


def has_started(session: LiveSession, now: datetime | None = None) -> bool:
    return aware(session.starts_at) <= (now or utcnow())


def shift_session(session: LiveSession, starts_at: datetime) -> None:
    shift = starts_at - aware(session.starts_at)
    session.starts_at = starts_at
    session.ends_at = aware(session.ends_at) + shift
    for segment in session.segments:
        segment.starts_at = aware(segment.starts_at) + shift
        segment.ends_at = aware(segment.ends_at) + shift


def move(
    session: LiveSession,
    starts_at: datetime,
    confirm_past: bool = False,
    now: datetime | None = None,
) -> None:
    """Move one session (an occurrence keeps its place in the series). A session that has
    started stays where it is; the past needs confirming. Commits."""
    check_year(starts_at.year)
    starts_at = starts_at.astimezone(UTC)
    if starts_at == aware(session.starts_at):
        return
    if has_started(session, now):
        raise LiveConflict(_("This session has started: it cannot be moved."))
    check_past(starts_at, confirm_past, session, now)
    shift_session(session, starts_at)
    session.moved = True
    changed(session)
    notifications.on_session_moved(session)
    db.session.commit()


@dataclass
class SessionEdit:
    """What a trainer may change on one session, or on a series from one date on."""

    title_zh: str
    title_en: str
    location: str
    capacity: int
    lecturer_id: int | None = None
    guest_name: str = ""
    guest_title: str = ""


def _promote_waitlist(session: LiveSession, now: datetime) -> None:
    free = session.capacity - seats_taken(session)
    if free <= 0:
        return
    for waiting in db.session.scalars(
        select(Registration)
        .filter_by(session_id=session.id, status="waitlisted")
        .order_by(Registration.created_at, Registration.id)
        .limit(free)
    ):
        waiting.status, waiting.updated_at = "registered", now
        notifications.on_promoted(waiting)


def apply_edit(session: LiveSession, edit: SessionEdit, now: datetime) -> bool:
    lock_row(LiveSession, session.id)
    taken = seats_taken(session)
    if edit.capacity < taken:
        raise LiveConflict(
            _(
                "%(taken)d learners have a seat in %(title)s: keep at least %(taken)d seats.",
                taken=taken,
                title=session.title,
            )
        )
    before = {name: getattr(session, name) for name in edit.__dict__}
    for name, value in edit.__dict__.items():
        setattr(session, name, value)
    if edit.capacity > before["capacity"]:
        _promote_waitlist(session, now)
    if before != edit.__dict__:
        changed(session, now)
        return True
    return False


def edit_session(
    session: LiveSession,
    edit: SessionEdit,
    starts_at: datetime | None = None,
    confirm_past: bool = False,
    now: datetime | None = None,
) -> None:
    """Change one session's title, place, lecturer, seats and (optionally) its time. Fewer
    seats than learners holding one is refused; more seats take learners off the waitlist.
    Commits; on a refusal nothing is written (rolled back)."""
    now = now or utcnow()
    try:
        apply_edit(session, edit, now)
        if starts_at is not None and starts_at.astimezone(UTC) != aware(session.starts_at):
            move(session, starts_at, confirm_past, now)  # commits
    except LiveError:
        db.session.rollback()
        raise
    db.session.commit()


def cancel(session: LiveSession, reason: str) -> None:
    """Cancel with a reason (kept, shown on the session page and in calendar feeds). Commits."""
    reason = (reason or "").strip()[:500]
    if not reason:
        raise LiveError(_("Give a reason."))
    if session.status != "cancelled":
        session.status, session.cancel_reason = "cancelled", reason
        changed(session)
        notifications.on_session_cancelled(session)
    db.session.commit()


def reinstate(session: LiveSession) -> None:
    if session.status != "scheduled":
        session.status, session.cancel_reason = "scheduled", None
        changed(session)
    db.session.commit()


def changed(session: LiveSession, now: datetime | None = None) -> None:
    """A change calendars must see: iCalendar's SEQUENCE rises, LAST-MODIFIED moves."""
    session.sequence = LiveSession.sequence + 1
    session.updated_at = now or utcnow()


def upcoming(
    camp_ids: list[int], *, start: datetime | None = None, days: int = 120
) -> list[LiveSession]:
    """Sessions of visible camps (and camp-less academy sessions) in a window, by start."""
    start = start or (utcnow() - timedelta(hours=12))
    return list(
        db.session.scalars(
            select(LiveSession)
            .where(
                LiveSession.starts_at >= start,
                LiveSession.starts_at < start + timedelta(days=days),
                (LiveSession.camp_id.is_(None)) | LiveSession.camp_id.in_(camp_ids),
            )
            .order_by(LiveSession.starts_at, LiveSession.id)
            .options(selectinload(LiveSession.segments))
        )
    )


def visible_session(session_id: int, camp_ids: list[int]) -> LiveSession | None:
    session = db.session.get(LiveSession, session_id)
    if session is None or (session.camp_id is not None and session.camp_id not in camp_ids):
        return None
    return session


def can_run(user: User, session: LiveSession) -> bool:
    """Trainers who run a session: organizers, its lecturer, the trainers of its course."""
    if not user.is_authenticated or not user.is_trainer:
        return False
    if user.is_organizer or session.lecturer_id == user.id:
        return True
    if session.course_id is None:
        return False
    course = db.session.get(Course, session.course_id)
    return course is not None and can_edit(user, course)


# -- registration ---------------------------------------------------------------------


def registration_of(user: User, session: LiveSession) -> Registration | None:
    return db.session.scalar(select(Registration).filter_by(session_id=session.id, user_id=user.id))


def seats_taken(session: LiveSession) -> int:
    taken = db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.session_id == session.id, Registration.status == "registered"
        )
    )
    return taken or 0


def register(user: User, session: LiveSession, now: datetime | None = None) -> Registration:
    """Take a seat, or a place on the waitlist when the session is full. Commits.

    Concurrency-safe: the session row is locked while seats are counted, so parallel
    requests can never register more learners than the capacity.
    """
    now = now or utcnow()
    if session.status != "scheduled":
        raise LiveError(_("This session was cancelled."))
    if aware(session.ends_at) <= now:
        raise LiveError(_("This session is over."))
    lock_row(LiveSession, session.id)
    registration = registration_of(user, session)
    if registration is not None and registration.status in ("registered", "waitlisted"):
        db.session.commit()
        return registration
    status = "registered" if seats_taken(session) < session.capacity else "waitlisted"
    if registration is None:
        registration = Registration(
            session_id=session.id, user_id=user.id, status=status, created_at=now
        )
        db.session.add(registration)
    else:
        registration.status, registration.created_at = status, now
    registration.updated_at = now
    db.session.commit()
    return registration


def attended_for(user: User, session: LiveSession) -> bool:
    """Has ``user`` checked in (or been recorded) for ``session``, or has someone checked in
    in their place?"""
    return (
        db.session.scalar(
            select(Attendance.id)
            .where(
                Attendance.session_id == session.id,
                (Attendance.user_id == user.id) | (Attendance.substitute_for_id == user.id),
            )
            .limit(1)
        )
        is not None
    )


def can_cancel(user: User, session: LiveSession, now: datetime | None = None) -> bool:
    """A registration can be cancelled until the session starts and nobody has checked in
    for it (its holder or a substitute in their place)."""
    now = now or utcnow()
    return aware(session.starts_at) > now and not attended_for(user, session)


def cancel_registration(
    user: User, session: LiveSession, now: datetime | None = None
) -> Registration | None:
    """Give up a seat or a waitlist place; the first on the waitlist takes a freed seat.

    Refused (LiveError) once the session has started or someone has checked in for the
    registration, so the roster, substitutes and reports stay consistent.
    """
    now = now or utcnow()
    lock_row(LiveSession, session.id)
    registration = registration_of(user, session)
    if registration is None or registration.status == "cancelled":
        db.session.commit()
        return None
    if not can_cancel(user, session, now):
        db.session.rollback()
        raise LiveError(
            _("A registration cannot be cancelled once the session has started or after check-in.")
        )
    freed = registration.status == "registered"
    registration.status, registration.updated_at = "cancelled", now
    db.session.flush()
    promoted = None
    if freed and seats_taken(session) < session.capacity:
        promoted = db.session.scalar(
            select(Registration)
            .filter_by(session_id=session.id, status="waitlisted")
            .order_by(Registration.created_at, Registration.id)
            .limit(1)
        )
        if promoted is not None:
            promoted.status, promoted.updated_at = "registered", now
            notifications.on_promoted(promoted)
    db.session.commit()
    return promoted


def waitlist_position(registration: Registration) -> int:
    ahead = db.session.scalar(
        select(func.count(Registration.id)).where(
            Registration.session_id == registration.session_id,
            Registration.status == "waitlisted",
            (Registration.created_at < registration.created_at)
            | (
                (Registration.created_at == registration.created_at)
                & (Registration.id < registration.id)
            ),
        )
    )
    return 1 + (ahead or 0)


def camp_ids_visible() -> list[int]:
    from lms.services.camps import visible_camps

    return [camp.id for camp in visible_camps()]


def local(moment: datetime, timezone: str) -> datetime:
    return aware(moment).astimezone(zone(timezone))


def month_grid(year: int, month: int) -> list[list[date]]:
    """Weeks (Monday first) covering a month, for the calendar page."""
    return [list(week) for week in calendar.Calendar(0).monthdatescalendar(year, month)]
