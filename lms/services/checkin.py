"""Check-in with short-lived rotating codes, substitutes, and attendance corrections.

The code shown by the trainer is an HMAC of the session's secret and the current
30-second window: six digits, valid for the current and the previous window. Wrong
guesses are rate-limited by the view (429).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _

from lms.database import insert_ignoring_conflicts, lock_row
from lms.extensions import db
from lms.models import (
    ATTENDANCE_STATUSES,
    Attendance,
    AttendanceCorrection,
    LiveSession,
    Registration,
    User,
)
from lms.models._base import utcnow
from lms.services import hours, schedule
from lms.services.camps import registry
from lms.services.live import aware, registration_of

WINDOW_SECONDS = 30
OPENS_BEFORE = timedelta(minutes=30)
LATE_AFTER = timedelta(minutes=10)
ATTENDED = ("present", "late")


class CheckinError(ValueError):
    """The check-in is refused; the message says why."""


def _window(now: datetime) -> int:
    return int(now.timestamp()) // WINDOW_SECONDS


def code_for(session: LiveSession, now: datetime | None = None, window: int | None = None) -> str:
    """The six-digit code of ``session`` for the window containing ``now``."""
    window = _window(now or utcnow()) if window is None else window
    key = f"{current_app.config['SECRET_KEY']}:{session.checkin_secret}".encode()
    digest = hmac.new(key, f"{session.id}:{window}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:6], 'big') % 1_000_000:06d}"


def seconds_left(now: datetime | None = None) -> int:
    now = now or utcnow()
    return WINDOW_SECONDS - int(now.timestamp()) % WINDOW_SECONDS


def code_is_valid(session: LiveSession, code: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    current = _window(now)
    code = (code or "").strip()
    return any(
        hmac.compare_digest(code, code_for(session, window=window))
        for window in (current, current - 1)
    )


def is_open(session: LiveSession, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return session.status == "scheduled" and aware(
        session.starts_at
    ) - OPENS_BEFORE <= now <= aware(session.ends_at)


def opens_at(session: LiveSession) -> datetime:
    return aware(session.starts_at) - OPENS_BEFORE


def closes_at(session: LiveSession) -> datetime:
    return aware(session.ends_at)


def attendance_of(user: User, session: LiveSession) -> Attendance | None:
    """The user's own attendance row for ``session`` (None when anonymous or not recorded)."""
    if not user.is_authenticated:
        return None
    return db.session.scalar(
        db.select(Attendance).filter_by(session_id=session.id, user_id=user.id)
    )


def may_check_in_myself(user: User, session: LiveSession) -> bool:
    registration = registration_of(user, session)
    return registration is not None and registration.status == "registered"


def replaceable_colleagues(user: User, session: LiveSession) -> list[User]:
    """Colleagues ``user`` may check in for: same organization, registered, and nobody
    (themselves or a substitute) has checked in for them yet. One query."""
    if not user.is_authenticated or user.organization_id is None:
        return []
    taken = db.select(Attendance.id).where(
        Attendance.session_id == session.id,
        (Attendance.user_id == User.id) | (Attendance.substitute_for_id == User.id),
    )
    return list(
        db.session.scalars(
            db.select(User)
            .join(Registration, Registration.user_id == User.id)
            .where(
                Registration.session_id == session.id,
                Registration.status == "registered",
                User.organization_id == user.organization_id,
                User.id != user.id,
                ~taken.exists(),
            )
            .order_by(User.name, User.id)
        )
    )


@schedule.register("mark live no-shows absent", every=timedelta(minutes=15))
def mark_no_shows(now: datetime | None = None) -> int:
    """Registered learners of ended sessions who never checked in, and whom nobody replaced,
    become **absent** (``method="auto"``), like any attendance row a trainer may correct.

    A scheduled task (``lms cron``); idempotent: a second run finds nobody to mark.
    """
    now = now or utcnow()
    replaced = db.select(Attendance.id).where(
        Attendance.session_id == Registration.session_id,
        (Attendance.user_id == Registration.user_id)
        | (Attendance.substitute_for_id == Registration.user_id),
    )
    missing = db.session.execute(
        db.select(Registration.session_id, Registration.user_id)
        .join(LiveSession, LiveSession.id == Registration.session_id)
        .where(
            LiveSession.status == "scheduled",
            LiveSession.ends_at <= now,
            Registration.status == "registered",
            ~replaced.exists(),
        )
        .order_by(Registration.session_id, Registration.user_id)
    ).all()
    marked = sum(
        insert_ignoring_conflicts(
            Attendance,
            ["session_id", "user_id"],
            session_id=session_id,
            user_id=user_id,
            status="absent",
            method="auto",
            updated_at=now,
        )
        for session_id, user_id in missing
    )
    db.session.commit()
    return marked


@dataclass
class CheckinResult:
    attendance: Attendance
    created: bool


def check_in(
    user: User,
    session: LiveSession,
    code: str,
    substitute_for: User | None = None,
    now: datetime | None = None,
) -> CheckinResult:
    """Record the user's presence. Refuses wrong or expired codes, closed sessions, learners
    who are not registered (unless substituting for a registered colleague of the same
    organization). A second check-in changes nothing. Commits."""
    now = now or utcnow()
    if not is_open(session, now):
        raise CheckinError(_("Check-in is not open for this session."))
    if not code_is_valid(session, code, now):
        raise CheckinError(_("Wrong or expired code."))
    existing = db.session.scalar(
        db.select(Attendance).filter_by(session_id=session.id, user_id=user.id)
    )
    if existing is not None:
        return CheckinResult(existing, False)
    if substitute_for is not None:
        _check_substitute(user, session, substitute_for)
    else:
        registration = registration_of(user, session)
        if registration is None or registration.status != "registered":
            raise CheckinError(_("You are not registered for this session."))
    status = "present" if now <= aware(session.starts_at) + LATE_AFTER else "late"
    created = insert_ignoring_conflicts(
        Attendance,
        ["session_id", "user_id"],
        session_id=session.id,
        user_id=user.id,
        substitute_for_id=substitute_for.id if substitute_for else None,
        status=status,
        checked_in_at=now,
        method="code",
        updated_at=now,
    )
    attendance = db.session.scalars(
        db.select(Attendance).filter_by(session_id=session.id, user_id=user.id)
    ).one()
    if created:
        hours.record_attendance(session, attendance, f"live:{session.id}:{user.id}:checkin")
    db.session.commit()
    if created:
        registry().call_all("lms_attended", attendance=attendance)
    return CheckinResult(attendance, created)


def _check_substitute(user: User, session: LiveSession, absent: User) -> None:
    if absent.id == user.id:
        raise CheckinError(_("You cannot substitute for yourself."))
    if user.organization_id is None or user.organization_id != absent.organization_id:
        raise CheckinError(_("A substitute must come from the same organization."))
    registration = registration_of(absent, session)
    if registration is None or registration.status != "registered":
        raise CheckinError(_("The colleague you replace is not registered for this session."))
    # Colleagues racing to replace the same learner queue here, so only the first gets in.
    lock_row(Registration, registration.id)
    taken = db.session.scalar(
        db.select(Attendance.id).where(
            Attendance.session_id == session.id,
            (Attendance.user_id == absent.id) | (Attendance.substitute_for_id == absent.id),
        )
    )
    if taken is not None:
        raise CheckinError(_("Someone already attends for this colleague."))


def correct(
    trainer: User,
    session: LiveSession,
    learner: User,
    status: str,
    reason: str,
    now: datetime | None = None,
) -> AttendanceCorrection:
    """A trainer sets a learner's attendance; the change is kept with who and when. Commits.

    Only people on the session's roster (registered, waitlisted, or with an attendance row)
    can be corrected, and never by themselves: a correction cannot credit hours to anyone.
    """
    if status not in ATTENDANCE_STATUSES:
        raise CheckinError(_("Unknown attendance status."))
    if learner.id == trainer.id or not on_roster(session, learner):
        raise CheckinError(_("Only learners on this session's roster can be corrected."))
    now = now or utcnow()
    insert_ignoring_conflicts(
        Attendance,
        ["session_id", "user_id"],
        session_id=session.id,
        user_id=learner.id,
        status="absent",
        method="trainer",
        updated_at=now,
    )
    attendance = db.session.scalars(
        db.select(Attendance).filter_by(session_id=session.id, user_id=learner.id).with_for_update()
    ).one()
    correction = AttendanceCorrection(
        attendance_id=attendance.id,
        old_status=attendance.status,
        new_status=status,
        reason=reason.strip()[:500],
        by_id=trainer.id,
        at=now,
    )
    db.session.add(correction)
    attendance.status, attendance.updated_at = status, now
    if status in ("present", "late") and attendance.checked_in_at is None:
        attendance.checked_in_at = aware(session.starts_at) if status == "present" else now
    db.session.flush()
    hours.record_attendance(
        session, attendance, f"live:{session.id}:{learner.id}:correction:{correction.id}"
    )
    db.session.commit()
    if status in ATTENDED and correction.old_status not in ATTENDED:
        registry().call_all("lms_attended", attendance=attendance)
    return correction


def on_roster(session: LiveSession, user: User) -> bool:
    """Is ``user`` registered or waitlisted for ``session``, or recorded as attending it?"""
    registration = registration_of(user, session)
    if registration is not None and registration.status != "cancelled":
        return True
    return (
        db.session.scalar(
            db.select(Attendance.id).filter_by(session_id=session.id, user_id=user.id)
        )
        is not None
    )


def roster(session: LiveSession) -> list[dict]:
    """Registered and waitlisted learners, with attendance and who substituted for whom."""
    registrations = db.session.scalars(
        db.select(Registration)
        .where(Registration.session_id == session.id, Registration.status != "cancelled")
        .order_by(Registration.status, Registration.created_at)
        .options(db.joinedload(Registration.user))
    ).all()
    attendance = {
        row.user_id: row
        for row in db.session.scalars(
            db.select(Attendance)
            .where(Attendance.session_id == session.id)
            .options(db.joinedload(Attendance.user), db.joinedload(Attendance.substitute_for))
        )
    }
    substitutes = {
        row.substitute_for_id: row for row in attendance.values() if row.substitute_for_id
    }
    rows = [
        {
            "user": registration.user,
            "registration": registration,
            "attendance": attendance.pop(registration.user_id, None),
            "substitute": substitutes.get(registration.user_id),
        }
        for registration in registrations
    ]
    for row in attendance.values():  # substitutes and walk-ins the trainer recorded
        rows.append({"user": row.user, "registration": None, "attendance": row, "substitute": None})
    return rows


def corrections(session: LiveSession) -> list[AttendanceCorrection]:
    return list(
        db.session.scalars(
            db.select(AttendanceCorrection)
            .join(Attendance, AttendanceCorrection.attendance_id == Attendance.id)
            .where(Attendance.session_id == session.id)
            .order_by(AttendanceCorrection.at.desc())
            .options(db.joinedload(AttendanceCorrection.by))
        )
    )
