"""The training-time ledger: append-only, idempotent entries of verified time.

Services that verify time call these functions; each entry has a ``source_key`` so a
retried write adds nothing. Corrections are new entries with the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import extract, func

from lms.database import insert_ignoring_conflicts
from lms.extensions import db
from lms.models import Attendance, Camp, LiveSession, Organization, TrainingTime, User
from lms.models._base import aware, utcnow

ACADEMY_TIMEZONE = ZoneInfo("Asia/Shanghai")


def target_hours(user: User) -> int:
    """The learner's monthly target: their organization's, else the academy's default."""
    if user.organization_id is not None:
        organization = db.session.get(Organization, user.organization_id)
        if organization is not None and organization.monthly_target_hours is not None:
            return organization.monthly_target_hours
    return int(current_app.config["MONTHLY_TARGET_HOURS"])


def camp_target_hours(camp: Camp) -> int | None:
    """A camp's own monthly target, when the organizers set one."""
    return camp.monthly_target_hours


def local_day(moment: datetime, timezone: str | None = None) -> date:
    """The calendar day of ``moment`` where it happened (the academy's zone by default)."""
    return aware(moment).astimezone(ZoneInfo(timezone) if timezone else ACADEMY_TIMEZONE).date()


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
    """Append one entry unless an entry with ``key`` exists; True when written. No commit."""
    if seconds == 0:
        return False
    return insert_ignoring_conflicts(
        TrainingTime,
        ["source_key"],
        source_key=key[:120],
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


def attended_seconds(session: LiveSession, attendance: Attendance | None) -> int:
    """What an attendance is worth: present → every segment; late → the segments' time
    from the check-in on; excused or absent → nothing."""
    if attendance is None or attendance.status not in ("present", "late"):
        return 0
    since = aware(session.starts_at)
    if attendance.status == "late" and attendance.checked_in_at is not None:
        since = aware(attendance.checked_in_at)
    total = timedelta()
    for segment in session.segments:
        start, end = max(aware(segment.starts_at), since), aware(segment.ends_at)
        if end > start:
            total += end - start
    return int(total.total_seconds())


def credited_for_session(user_id: int, session_id: int) -> int:
    return db.session.scalar(
        db.select(func.coalesce(func.sum(TrainingTime.seconds), 0)).where(
            TrainingTime.user_id == user_id, TrainingTime.live_session_id == session_id
        )
    )


def record_attendance(session: LiveSession, attendance: Attendance, key: str) -> int:
    """Bring the ledger for (learner, session) to what the attendance is worth now.

    Writes the difference as one entry under ``key`` (the check-in, or a correction's id).
    Returns the seconds written. No commit.
    """
    worth = attended_seconds(session, attendance)
    difference = worth - credited_for_session(attendance.user_id, session.id)
    add(
        key=key,
        user_id=attendance.user_id,
        source="live" if key.endswith(":checkin") else "correction",
        seconds=difference,
        day=local_day(session.starts_at, session.timezone),
        camp_id=session.camp_id,
        course_id=session.course_id,
        live_session_id=session.id,
        note=f"{attendance.status}",
    )
    return difference


@dataclass(frozen=True)
class MonthHours:
    year: int
    month: int
    seconds: int

    @property
    def hours(self) -> float:
        return round(self.seconds / 3600, 1)


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
    year_of, month_of = extract("year", TrainingTime.day), extract("month", TrainingTime.day)
    rows = db.session.execute(
        db.select(year_of, month_of, func.sum(TrainingTime.seconds))
        .where(TrainingTime.user_id == user_id, TrainingTime.day >= first)
        .group_by(year_of, month_of)
    )
    totals = {(int(y), int(m)): int(total or 0) for y, m, total in rows}
    return [MonthHours(y, m, max(0, totals.get((y, m), 0))) for y, m in keys]
