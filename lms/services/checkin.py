"""Check-in with short-lived rotating codes, substitutes, and attendance corrections.

The code shown by the trainer is an HMAC of the session's secret and the current
30-second window: six digits, valid for the current and the previous window. Wrong
guesses are rate-limited by the view (429).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _

from lms.database import insert_ignoring_conflicts, lock_row
from lms.extensions import db
from lms.models import (
    Attendance,
    AttendanceCorrection,
    LiveSegment,
    LiveSession,
    Registration,
    User,
)
from lms.models._base import utcnow
from lms.services import hours, schedule
from lms.services.camps import registry
from lms.services.errors import Conflict, Invalid
from lms.services.live import aware, local, registration_of

WINDOW_SECONDS = 30
OPENS_BEFORE = timedelta(minutes=30)
LATE_AFTER = timedelta(minutes=10)
ATTENDED = ("present", "late")
# What a trainer may set; "replaced" follows from a substitute's check-in, never from a choice.
CORRECTABLE = ("present", "late", "excused", "absent")


class CheckinError(Invalid):
    """The check-in or correction is refused; the message says why (a 400)."""


class SeatConflict(CheckinError, Conflict):
    """The change would credit two people for one registered seat (a 409)."""


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
    organization, whose row becomes "replaced"), and learners a colleague replaced. A second
    check-in changes nothing. No hours yet: they are credited as the segments end
    (:func:`credit_ended_segments`). Commits."""
    now = now or utcnow()
    if not is_open(session, now):
        raise CheckinError(_("Check-in is not open for this session."))
    if not code_is_valid(session, code, now):
        raise CheckinError(_("Wrong or expired code."))
    existing = db.session.scalar(
        db.select(Attendance).filter_by(session_id=session.id, user_id=user.id)
    )
    if existing is not None and existing.status == "replaced":
        raise SeatConflict(_("A colleague already attends in your place."))
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
    if created and substitute_for is not None:  # the seat is theirs now, not the holder's
        insert_ignoring_conflicts(
            Attendance,
            ["session_id", "user_id"],
            session_id=session.id,
            user_id=substitute_for.id,
            status="replaced",
            method="substitute",
            updated_at=now,
        )
    attendance = db.session.scalars(
        db.select(Attendance).filter_by(session_id=session.id, user_id=user.id)
    ).one()
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


def _row(session: LiveSession, user_id: int) -> Attendance | None:
    return db.session.scalar(
        db.select(Attendance).filter_by(session_id=session.id, user_id=user_id)
    )


def credited_substitute(session: LiveSession, holder_id: int) -> Attendance | None:
    """The colleague credited for ``holder_id``'s seat (present or late in their place)."""
    return db.session.scalar(
        db.select(Attendance).where(
            Attendance.session_id == session.id,
            Attendance.substitute_for_id == holder_id,
            Attendance.status.in_(ATTENDED),
        )
    )


def _check_times(
    session: LiveSession, arrived_at: datetime | None, left_at: datetime | None
) -> None:
    start, end = aware(session.starts_at), aware(session.ends_at)
    if arrived_at is not None and not start <= arrived_at < end:
        raise CheckinError(_("The arrival time must lie within the session."))
    if left_at is not None and not start < left_at <= end:
        raise CheckinError(_("The departure time must lie within the session."))
    if arrived_at is not None and left_at is not None and left_at <= arrived_at:
        raise CheckinError(_("The departure must come after the arrival."))


def _set(
    attendance: Attendance,
    status: str,
    reason: str,
    by: User,
    now: datetime,
    arrived_at: datetime | None = None,
    left_at: datetime | None = None,
) -> AttendanceCorrection:
    """Change one row and log the change (who, whom, from → to, times, why, when)."""
    correction = AttendanceCorrection(
        attendance_id=attendance.id,
        old_status=attendance.status,
        new_status=status,
        reason=reason,
        arrived_at=arrived_at,
        left_at=left_at,
        by_id=by.id,
        at=now,
    )
    db.session.add(correction)
    attendance.status, attendance.updated_at = status, now
    attendance.arrived_at, attendance.left_at = arrived_at, left_at
    return correction


def correct(
    trainer: User,
    session: LiveSession,
    learner: User,
    status: str,
    reason: str,
    arrived_at: datetime | None = None,
    left_at: datetime | None = None,
    now: datetime | None = None,
) -> AttendanceCorrection:
    """A trainer sets a learner's attendance; the change is logged. Commits.

    Every correction needs a reason; "late" needs an arrival time (given, or the check-in);
    ``left_at`` records an early departure. Only people on the session's roster can be
    corrected, and never by themselves. A seat is credited to one person at most: crediting
    a learner whom a credited colleague replaced, or a substitute whose colleague is
    credited, raises :class:`SeatConflict`. A substitute who is no longer credited gives
    the seat back (the holder becomes absent), and takes it again when credited again.
    The ledger moves by the difference, for the segments that have ended.
    """
    if status not in CORRECTABLE:
        raise CheckinError(_("Unknown attendance status."))
    reason = (reason or "").strip()[:500]
    if not reason:
        raise CheckinError(_("Give a reason for the correction."))
    if learner.id == trainer.id or not on_roster(session, learner):
        raise CheckinError(_("Only learners on this session's roster can be corrected."))
    now = now or utcnow()
    # Stored in UTC (SQLite keeps a datetime's wall-clock time, not its offset).
    arrived_at = arrived_at.astimezone(UTC) if arrived_at else None
    left_at = left_at.astimezone(UTC) if left_at else None
    if status not in ATTENDED:
        arrived_at = left_at = None
    elif status == "present":
        arrived_at = None
    _check_times(session, arrived_at, left_at)
    lock_row(LiveSession, session.id)  # corrections and the crediting task queue here
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
    if status == "late" and arrived_at is None:
        arrived_at = attendance.arrived_at or attendance.checked_in_at
        if arrived_at is None:
            raise CheckinError(_("Give the arrival time of a late learner."))
        _check_times(session, aware(arrived_at), left_at)
    holder = _row(session, attendance.substitute_for_id) if attendance.substitute_for_id else None
    if status in ATTENDED:
        substitute = credited_substitute(session, learner.id)
        if substitute is not None and substitute.id != attendance.id:
            raise SeatConflict(
                _(
                    "%(name)s attended in this learner's place: correct that record first.",
                    name=substitute.user.name,
                )
            )
        if holder is not None and holder.status in ATTENDED:
            raise SeatConflict(
                _(
                    "%(name)s is credited for this seat: correct that record first.",
                    name=holder.user.name,
                )
            )
    was = attendance.status
    correction = _set(attendance, status, reason, trainer, now, arrived_at, left_at)
    if holder is not None:  # the seat goes back to its holder, or is taken again
        if status in ATTENDED and holder.status == "absent":
            _set(holder, "replaced", reason, trainer, now)
        elif status not in ATTENDED and holder.status == "replaced":
            _set(holder, "absent", reason, trainer, now)
    db.session.flush()
    hours.record_attendance(
        session, attendance, f"live:{session.id}:{learner.id}:correction:{correction.id}", now=now
    )
    db.session.commit()
    if status in ATTENDED and was not in ATTENDED:
        registry().call_all("lms_attended", attendance=attendance)
    return correction


def mark_all_present(
    trainer: User, session: LiveSession, reason: str, now: datetime | None = None
) -> int:
    """Every registered learner nobody has recorded yet (no check-in, no substitute, no
    correction) becomes present, each change logged with the trainer's reason. From the
    moment check-in opens; the number marked. Commits."""
    now = now or utcnow()
    reason = (reason or "").strip()[:500]
    if not reason:
        raise CheckinError(_("Give a reason for the correction."))
    if session.status != "scheduled" or now < opens_at(session):
        raise CheckinError(_("Check-in is not open for this session."))
    lock_row(LiveSession, session.id)
    recorded = db.select(Attendance.id).where(
        Attendance.session_id == session.id,
        (Attendance.user_id == Registration.user_id)
        | (Attendance.substitute_for_id == Registration.user_id),
    )
    waiting = db.session.scalars(
        db.select(Registration.user_id)
        .where(
            Registration.session_id == session.id,
            Registration.status == "registered",
            Registration.user_id != trainer.id,
            ~recorded.exists(),
        )
        .order_by(Registration.user_id)
    ).all()
    marked = []
    for user_id in waiting:
        attendance = Attendance(
            session_id=session.id, user_id=user_id, status="present", method="trainer",
            updated_at=now,
        )  # fmt: skip
        db.session.add(attendance)
        db.session.flush()
        db.session.add(
            AttendanceCorrection(
                attendance_id=attendance.id, old_status=None, new_status="present",
                reason=reason, by_id=trainer.id, at=now,
            )
        )  # fmt: skip
        hours.record_attendance(
            session, attendance, f"live:{session.id}:{user_id}:all-present:{attendance.id}", now=now
        )
        marked.append(attendance)
    db.session.commit()
    for attendance in marked:
        registry().call_all("lms_attended", attendance=attendance)
    return len(marked)


@schedule.register("credit live hours", every=timedelta(minutes=15))
def credit_ended_segments(now: datetime | None = None) -> int:
    """Credit the time attended in every segment that has ended and is not credited yet:
    each attendance row of its session is brought to what it is worth now (a difference
    entry keyed by the segment), and the segment is marked credited in the same
    transaction. A scheduled task (``lms cron``); idempotent. The seconds written."""
    now = now or utcnow()
    due = db.session.execute(
        db.select(LiveSegment.id, LiveSegment.session_id)
        .join(LiveSession, LiveSession.id == LiveSegment.session_id)
        .where(
            LiveSegment.ends_at <= now,
            LiveSegment.credited_at.is_(None),
            LiveSession.status == "scheduled",
        )
        .order_by(LiveSegment.ends_at, LiveSegment.id)
    ).all()
    written = 0
    for segment_id, session_id in due:
        lock_row(LiveSession, session_id)
        claimed = db.session.execute(
            db.update(LiveSegment)
            .where(LiveSegment.id == segment_id, LiveSegment.credited_at.is_(None))
            .values(credited_at=now)
        )
        if claimed.rowcount != 1:
            db.session.rollback()
            continue
        session = db.session.get(LiveSession, session_id)
        for attendance in db.session.scalars(
            db.select(Attendance).filter_by(session_id=session_id).order_by(Attendance.id)
        ):
            written += hours.record_attendance(
                session,
                attendance,
                f"live:{session_id}:{attendance.user_id}:segment:{segment_id}",
                source="live",
                now=now,
            )
        db.session.commit()
    return written


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


@dataclass(frozen=True)
class RosterLine:
    """One person of the roster as the CSV export and the sign-in sheet print it (local
    times as HH:MM; statuses as codes)."""

    name: str
    email: str
    organization: str
    registration: str
    attendance: str
    arrived: str
    left: str
    in_place_of: str
    replaced_by: str


def roster_lines(session: LiveSession) -> list[RosterLine]:
    def clock(moment: datetime | None) -> str:
        return local(moment, session.timezone).strftime("%H:%M") if moment else ""

    lines = []
    for row in roster(session):
        attendance, substitute = row["attendance"], row["substitute"]
        user = row["user"]
        arrival = None
        if attendance is not None and attendance.status in ATTENDED:
            arrival = attendance.arrived_at or attendance.checked_in_at
        lines.append(
            RosterLine(
                name=user.name,
                email=user.email,
                organization=user.organization.name if user.organization else "",
                registration=row["registration"].status if row["registration"] else "",
                attendance=attendance.status if attendance else "",
                arrived=clock(arrival),
                left=clock(attendance.left_at if attendance else None),
                in_place_of=(
                    attendance.substitute_for.name
                    if attendance is not None and attendance.substitute_for
                    else ""
                ),
                replaced_by=substitute.user.name if substitute is not None else "",
            )
        )
    return lines


def corrections(session: LiveSession) -> list[AttendanceCorrection]:
    """The session's correction log, newest first, with who made each and whose it is."""
    return list(
        db.session.scalars(
            db.select(AttendanceCorrection)
            .join(Attendance, AttendanceCorrection.attendance_id == Attendance.id)
            .where(Attendance.session_id == session.id)
            .order_by(AttendanceCorrection.at.desc(), AttendanceCorrection.id.desc())
            .options(
                db.joinedload(AttendanceCorrection.by),
                db.joinedload(AttendanceCorrection.attendance).joinedload(Attendance.user),
            )
        )
    )
