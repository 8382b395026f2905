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
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload, selectinload

from lms.database import insert_ignoring_conflicts, lock_row, rowcount
from lms.extensions import db
from lms.models import (
    Attendance,
    LiveSegment,
    LiveSession,
    Registration,
    User,
)
from lms.models._base import aware, utcnow
from lms.services import hours, live_attendance, loading, schedule
from lms.services.camps import registry
from lms.services.errors import Conflict, Invalid
from lms.services.live import local, registration_of

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
    return db.session.scalar(select(Attendance).filter_by(session_id=session.id, user_id=user.id))


def may_check_in_myself(user: User, session: LiveSession) -> bool:
    """Registered, or already attending (a substitute checks in for the next segment too)."""
    registration = registration_of(user, session)
    if registration is not None and registration.status == "registered":
        return True
    attendance = attendance_of(user, session)
    return attendance is not None and attendance.status in ATTENDED


def replaceable_colleagues(user: User, session: LiveSession) -> list[User]:
    """Colleagues ``user`` may check in for: same organization, registered, and nobody
    (themselves or a substitute) has checked in for them yet. One query."""
    if not user.is_authenticated or user.organization_id is None:
        return []
    taken = select(Attendance.id).where(
        Attendance.session_id == session.id,
        (Attendance.user_id == User.id) | (Attendance.substitute_for_id == User.id),
    )
    return list(
        db.session.scalars(
            select(User)
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
    replaced = select(Attendance.id).where(
        Attendance.session_id == Registration.session_id,
        (Attendance.user_id == Registration.user_id)
        | (Attendance.substitute_for_id == Registration.user_id),
    )
    missing = db.session.execute(
        select(Registration.session_id, Registration.user_id)
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
    """Record the user's presence in the current segment (the one running, or the next one
    before the start and in a break): segments are attended separately, so a learner checks
    in for each. Late when more than 10 minutes after that segment's start. Refuses wrong or
    expired codes, closed sessions, learners who are not registered (unless substituting for
    a registered colleague of the same organization, whose row becomes "replaced"), and
    learners a colleague replaced. A second check-in in the same segment changes nothing
    (``created`` is False), nor does one over a trainer's absent or excused. No hours yet:
    they are credited as the segments end (:func:`credit_ended_segments`). Commits."""
    now = now or utcnow()
    segment = live_attendance.current_segment(session, now)
    if not is_open(session, now) or segment is None:
        raise CheckinError(_("Check-in is not open for this session."))
    if not code_is_valid(session, code, now):
        raise CheckinError(_("Wrong or expired code."))
    existing = row_of(session, user.id)
    if existing is not None and existing.status == "replaced":
        raise SeatConflict(_("A colleague already attends in your place."))
    if existing is not None and existing.status not in ATTENDED:
        return CheckinResult(existing, False)
    if existing is None and substitute_for is not None:
        _check_substitute(user, session, substitute_for)
    elif existing is None:
        registration = registration_of(user, session)
        if registration is None or registration.status != "registered":
            raise CheckinError(_("You are not registered for this session."))
    arrived = None if now <= aware(segment.starts_at) + LATE_AFTER else now
    created = insert_ignoring_conflicts(
        Attendance,
        ["session_id", "user_id"],
        session_id=session.id,
        user_id=user.id,
        substitute_for_id=substitute_for.id if substitute_for else None,
        status="present" if arrived is None else "late",
        checked_in_at=now,
        arrived_at=arrived,
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
        select(Attendance).filter_by(session_id=session.id, user_id=user.id)
    ).one()
    added = False
    if attendance.status in ATTENDED:
        added = live_attendance.add_segment(attendance, segment, arrived)
        if added and not created:
            spans = live_attendance.spans_of(attendance)
            attendance.status = live_attendance.status_of(session, spans) or attendance.status
            live_attendance.summarize(session, attendance, spans)
            attendance.updated_at = now
    db.session.commit()
    if created:
        loading.for_hook(attendance)
        registry().call_all("lms_attended", attendance=attendance)
    return CheckinResult(attendance, added)


def checked_in_now(user: User, session: LiveSession, now: datetime | None = None) -> bool:
    """Has ``user`` checked in for the current segment (or may not check in at all: a
    colleague replaced them, or a trainer recorded them absent or excused)?"""
    attendance = attendance_of(user, session)
    if attendance is None:
        return False
    if attendance.status not in ATTENDED:
        return True
    segment = live_attendance.current_segment(session, now or utcnow())
    return segment is None or segment.id in live_attendance.spans_of(attendance)


def can_check_out(
    attendance: Attendance | None, session: LiveSession, now: datetime | None = None
) -> bool:
    """Would a check-out change something: checked in, the session not over, and a segment
    attended that has not ended, with no departure yet?"""
    now = now or utcnow()
    if attendance is None or attendance.status not in ATTENDED or session.status != "scheduled":
        return False
    if now >= aware(session.ends_at):
        return False
    ends = {segment.id: aware(segment.ends_at) for segment in session.segments}
    return any(
        ends.get(row.segment_id, now) > now and row.left_at is None for row in attendance.segments
    )


@dataclass(frozen=True)
class SegmentLine:
    """One segment of a session as a person's record shows it: attended or not, from when
    to when (local HH:MM; empty: its start or its end)."""

    segment: LiveSegment
    state: str  # present, late or absent
    arrived: str
    left: str


def segment_lines(session: LiveSession, attendance: Attendance | None) -> list[SegmentLine]:
    spans = live_attendance.spans_of(attendance) if attendance is not None else {}

    def clock(moment: datetime | None) -> str:
        return local(moment, session.timezone).strftime("%H:%M") if moment else ""

    return [
        SegmentLine(
            segment,
            live_attendance.segment_state(spans, segment.id),
            clock(spans.get(segment.id, (None, None))[0]),
            clock(spans.get(segment.id, (None, None))[1]),
        )
        for segment in session.segments
    ]


def check_out(user: User, session: LiveSession, now: datetime | None = None) -> Attendance:
    """The learner leaves early: the current segment's time ends now, and segments that have
    not started (checked in for during a break) are given up; segments attended before stay.
    Idempotent (a second check-out changes nothing); refused before check-in, after the
    session ended, and before the segment checked in for has started. Commits."""
    now = now or utcnow()
    if session.status != "scheduled" or now >= aware(session.ends_at):
        raise CheckinError(_("This session is over."))
    lock_row(LiveSession, session.id)  # corrections and the crediting task queue here
    attendance = row_of(session, user.id)
    if attendance is None or attendance.status not in ATTENDED or not attendance.segments:
        db.session.rollback()
        raise CheckinError(_("You have not checked in."))
    before = live_attendance.spans_of(attendance)
    spans = {}
    for segment in session.segments:
        span = before.get(segment.id)
        if span is None or aware(segment.starts_at) >= now:
            continue  # not attended, or not started: given up
        arrived, left = span
        if aware(segment.ends_at) > now and (left is None or left > now):
            left = now  # the current segment ends for them now
        if arrived is not None and left is not None and left <= arrived:
            continue
        spans[segment.id] = (arrived, left)
    if not spans:
        db.session.rollback()
        raise CheckinError(
            _("The segment you checked in for has not started: check out once it has.")
        )
    if spans != before:
        live_attendance.apply(session, attendance, spans, "code")
        attendance.status = live_attendance.status_of(session, spans) or attendance.status
        attendance.updated_at = now
    db.session.commit()
    return attendance


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
        select(Attendance.id).where(
            Attendance.session_id == session.id,
            (Attendance.user_id == absent.id) | (Attendance.substitute_for_id == absent.id),
        )
    )
    if taken is not None:
        raise CheckinError(_("Someone already attends for this colleague."))


def row_of(session: LiveSession, user_id: int) -> Attendance | None:
    return db.session.scalar(select(Attendance).filter_by(session_id=session.id, user_id=user_id))


@schedule.register("credit live hours", every=timedelta(minutes=15))
def credit_ended_segments(now: datetime | None = None) -> int:
    """Credit the time attended in every segment that has ended and is not credited yet:
    each attendance row of its session is brought to what it is worth now (a difference
    entry keyed by the segment), and the segment is marked credited in the same
    transaction. A scheduled task (``lms cron``); idempotent. The seconds written."""
    now = now or utcnow()
    due = db.session.execute(
        select(LiveSegment.id, LiveSegment.session_id)
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
            update(LiveSegment)
            .where(LiveSegment.id == segment_id, LiveSegment.credited_at.is_(None))
            .values(credited_at=now)
        )
        if rowcount(claimed) != 1:
            db.session.rollback()
            continue
        session = db.session.get_one(LiveSession, session_id)  # its row is locked above
        for attendance in db.session.scalars(
            select(Attendance)
            .filter_by(session_id=session_id)
            .order_by(Attendance.id)
            .options(selectinload(Attendance.segments))
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
        db.session.scalar(select(Attendance.id).filter_by(session_id=session.id, user_id=user.id))
        is not None
    )


def roster(session: LiveSession) -> list[dict[str, Any]]:
    """Registered and waitlisted learners, with attendance and who substituted for whom."""
    registrations = db.session.scalars(
        select(Registration)
        .where(Registration.session_id == session.id, Registration.status != "cancelled")
        .order_by(Registration.status, Registration.created_at)
        .options(joinedload(Registration.user).joinedload(User.organization))
    ).all()
    attendance = {
        row.user_id: row
        for row in db.session.scalars(
            select(Attendance)
            .where(Attendance.session_id == session.id)
            .options(
                joinedload(Attendance.user).joinedload(User.organization),
                joinedload(Attendance.substitute_for),
                selectinload(Attendance.segments),
            )
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
    segments: str = ""  # the segments attended, with the times when not the whole of one
    # One per segment of the session, in order: "" not attended, "✓" the whole of it, else
    # "HH:MM–HH:MM" (the sign-in sheet's segment columns).
    marks: tuple[str, ...] = ()


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
                **_segments_attended(session, attendance),
            )
        )
    return lines


def _segments_attended(session: LiveSession, attendance: Attendance | None) -> dict[str, Any]:
    """The roster line's ``segments`` (the attended ones, named) and ``marks`` (one per
    segment of the session)."""
    if attendance is None or attendance.status not in ATTENDED:
        return {"segments": "", "marks": ("",) * len(session.segments)}
    parts, marks = [], []
    for line in segment_lines(session, attendance):
        if line.state == "absent":
            marks.append("")
        elif line.arrived or line.left:
            start = line.arrived or f"{local(line.segment.starts_at, session.timezone):%H:%M}"
            end = line.left or f"{local(line.segment.ends_at, session.timezone):%H:%M}"
            parts.append(f"{line.segment.title} {start}–{end}")
            marks.append(f"{start}–{end}")
        else:
            parts.append(line.segment.title)
            marks.append("✓")
    return {"segments": "; ".join(parts), "marks": tuple(marks)}
