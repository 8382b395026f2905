"""The training-time ledger: append-only, idempotent entries of verified time.

Services that verify time call these functions; each entry has a ``source_key`` so a
retried write adds nothing. Corrections are new entries with the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import bindparam, extract, func, or_, select

from lms.database import insert_ignoring_conflicts
from lms.extensions import db
from lms.models import (
    Attendance,
    Camp,
    Course,
    Enrollment,
    LiveSegment,
    LiveSession,
    Organization,
    SegmentAttendance,
    TrainingTime,
    User,
)
from lms.models._base import academy_timezone, aware, utcnow
from lms.models.records import HOURS_SOURCES, SOURCE_KEY_LENGTH


def academy_zone() -> ZoneInfo:
    """The academy's time zone: its days, months and calendar pages are local to it."""
    return ZoneInfo(academy_timezone())


def target_hours(user: User) -> int:
    """The learner's monthly target: their organization's, else the academy's default."""
    if user.organization_id is not None:
        organization = db.session.get(Organization, user.organization_id)
        if organization is not None and organization.monthly_target_hours is not None:
            return organization.monthly_target_hours
    return int(current_app.config["MONTHLY_TARGET_HOURS"])


def percent_of_target(seconds: int, target_hours: int) -> int:
    """Training time against a monthly target in hours, 0..100: the one rounding every page
    uses (from seconds, never from hours already rounded to a tenth). A zero target is met."""
    if not target_hours:
        return 100
    return min(100, round(100 * max(0, seconds) / (3600 * target_hours)))


MAX_TARGET_HOURS = 744  # 31 days × 24 hours; the database checks the same bound


def camp_targets() -> dict[str, int | None]:
    """Every stored camp's own monthly target by slug (None: no target of its own)."""
    return dict(db.session.execute(db.select(Camp.slug, Camp.monthly_target_hours)).all())


def set_camp_target(camp: Camp, target: int | None) -> None:
    """Set (or with None clear) a camp's monthly target in hours. Commits."""
    if target is not None and not 0 <= target <= MAX_TARGET_HOURS:
        raise ValueError(f"target {target} outside 0..{MAX_TARGET_HOURS}")
    camp.monthly_target_hours = target
    db.session.commit()


def local_day(moment: datetime, timezone: str | None = None) -> date:
    """The calendar day of ``moment`` where it happened (the academy's zone by default)."""
    return aware(moment).astimezone(ZoneInfo(timezone) if timezone else academy_zone()).date()


def add(
    *,
    key: str,
    user_id: int,
    source: str,
    seconds: int,
    day: date,
    camp_id: int | None = None,
    course_id: int | None = None,
    live_session_id: int | None = None,
    note: str = "",
) -> bool:
    """Append one entry unless an entry with ``key`` exists; True when written. No commit.

    ``source`` is stored as given (one of ``HOURS_SOURCES``), never read from the key. A key
    longer than the column (``SOURCE_KEY_LENGTH``) is refused with ValueError: cut, two keys
    could become one and the second entry would be lost as a "retry".
    """
    if source not in HOURS_SOURCES:
        raise ValueError(f"unknown training-time source {source!r}")
    if not key or len(key) > SOURCE_KEY_LENGTH:
        raise ValueError(f"a ledger key has 1 to {SOURCE_KEY_LENGTH} characters: {key[:40]!r}…")
    if seconds == 0:
        return False
    return insert_ignoring_conflicts(
        TrainingTime,
        ["source_key"],
        source_key=key,
        user_id=user_id,
        source=source,
        seconds=seconds,
        day=day,
        camp_id=camp_id,
        course_id=course_id,
        live_session_id=live_session_id,
        note=note[:200],
        created_at=utcnow(),
    )


def segment_span(segment: LiveSegment, row: SegmentAttendance) -> tuple[datetime, datetime]:
    """When a person was in one segment: from their arrival in it (or its start) to their
    departure (check-out, or a trainer's time) or its end."""
    start, end = aware(segment.starts_at), aware(segment.ends_at)
    if row.arrived_at is not None:
        start = max(start, aware(row.arrived_at))
    if row.left_at is not None:
        end = min(end, aware(row.left_at))
    return start, end


def attended_seconds(
    session: LiveSession, attendance: Attendance | None, as_of: datetime | None = None
) -> int:
    """What an attendance is worth once its segments are over: for each segment attended
    (segments are attended separately) that has ended by ``as_of`` (default: now), the time
    from the arrival in it to the departure or its end; nothing for a gap between segments,
    and nothing when excused, absent or replaced. Nothing counts before its segment ends."""
    if attendance is None or attendance.status not in ("present", "late"):
        return 0
    as_of = as_of or utcnow()
    segments = {segment.id: segment for segment in session.segments}
    total = timedelta()
    for row in attendance.segments:
        segment = segments.get(row.segment_id)
        if segment is None or aware(segment.ends_at) > as_of:
            continue
        start, end = segment_span(segment, row)
        if end > start:
            total += end - start
    return int(total.total_seconds())


def credited_for_session(user_id: int, session_id: int) -> int:
    return db.session.execute(
        select(func.coalesce(func.sum(TrainingTime.seconds), 0)).where(
            TrainingTime.user_id == user_id, TrainingTime.live_session_id == session_id
        )
    ).scalar_one()


def record_attendance(
    session: LiveSession,
    attendance: Attendance,
    key: str,
    source: str = "correction",
    now: datetime | None = None,
) -> int:
    """Bring the ledger for (learner, session) to what the attendance is worth now.

    Writes the difference as one entry under ``key`` (a segment's end, or a correction's
    id): a retried write adds nothing, and a later writer finds nothing left to add.
    Returns the seconds written. No commit.
    """
    worth = attended_seconds(session, attendance, now)
    difference = worth - credited_for_session(attendance.user_id, session.id)
    written = add(
        key=key,
        user_id=attendance.user_id,
        source=source,
        seconds=difference,
        day=local_day(session.starts_at, session.timezone),
        camp_id=session.camp_id,
        course_id=session.course_id,
        live_session_id=session.id,
        note=f"{attendance.status}",
    )
    return difference if written else 0


@dataclass(frozen=True)
class MonthHours:
    year: int
    month: int
    seconds: int

    @property
    def hours(self) -> float:
        return round(self.seconds / 3600, 1)


_YEAR, _MONTH = extract("year", TrainingTime.day), extract("month", TrainingTime.day)
# Built once (pre-built statements: building them costs more than running them).
_MONTHLY = (
    select(_YEAR, _MONTH, func.sum(TrainingTime.seconds))
    .where(TrainingTime.user_id == bindparam("user_id"), TrainingTime.day >= bindparam("first"))
    .group_by(_YEAR, _MONTH)
)


def monthly(user_id: int, months: int = 12, today: date | None = None) -> list[MonthHours]:
    """The learner's verified training time per month, oldest first, the current month last.

    Summed by the database (one grouped query); months without entries count zero.
    """
    today = today or local_day(utcnow())
    keys = []
    year, month = today.year, today.month
    for _ in range(months):
        keys.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    keys.reverse()
    first = date(keys[0][0], keys[0][1], 1)
    rows = db.session.execute(_MONTHLY, {"user_id": user_id, "first": first})
    totals = {(int(y), int(m)): int(total or 0) for y, m, total in rows}
    return [MonthHours(y, m, max(0, totals.get((y, m), 0))) for y, m in keys]


@dataclass(frozen=True)
class CampMonth:
    """A learner's hours this month in one camp that has its own target."""

    camp: Camp
    seconds: int
    target: int

    @property
    def hours(self) -> float:
        return round(max(0, self.seconds) / 3600, 1)

    @property
    def percent(self) -> int:
        return percent_of_target(self.seconds, self.target)


_CAMP_SUMS = (
    select(TrainingTime.camp_id, func.sum(TrainingTime.seconds).label("seconds"))
    .where(
        TrainingTime.user_id == bindparam("user_id"),
        TrainingTime.day >= bindparam("first"),
        TrainingTime.day < bindparam("following"),
        TrainingTime.camp_id.is_not(None),
    )
    .group_by(TrainingTime.camp_id)
    .subquery()
)
_MONTH_BY_CAMP = (
    select(Camp, func.coalesce(_CAMP_SUMS.c.seconds, 0))
    .outerjoin(_CAMP_SUMS, _CAMP_SUMS.c.camp_id == Camp.id)
    .where(
        Camp.monthly_target_hours.is_not(None),
        Camp.enabled.is_(True),
        or_(
            _CAMP_SUMS.c.seconds.is_not(None),
            select(Enrollment.id)
            .join(Course, Enrollment.course_id == Course.id)
            .where(Enrollment.user_id == bindparam("user_id"), Course.camp_id == Camp.id)
            .exists(),
        ),
    )
    .order_by(Camp.position, Camp.id)
)


def month_by_camp(user_id: int, today: date | None = None) -> list[CampMonth]:
    """This month's time per camp, for the enabled camps with a target that concern the
    learner (enrolled in one of their courses, or time in them this month).

    One statement: the month's ledger grouped by camp, joined to the camps.
    """
    today = today or local_day(utcnow())
    first = today.replace(day=1)
    following = first + relativedelta(months=1)
    rows = db.session.execute(
        _MONTH_BY_CAMP, {"user_id": user_id, "first": first, "following": following}
    )
    return [
        CampMonth(camp, int(seconds), int(camp.monthly_target_hours or 0)) for camp, seconds in rows
    ]
