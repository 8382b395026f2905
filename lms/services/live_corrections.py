"""Trainers' attendance corrections: the whole session or one segment, marking everyone
present (the session, or the room counted at one segment), and the correction log.

Every correction needs a reason and is logged (who, whom, from → to, times, segment, when);
a seat is credited to one person at most; the ledger moves by difference entries.
Check-in, check-out and the crediting task live in :mod:`lms.services.checkin`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import select

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
from lms.models._base import aware, utcnow
from lms.services import checkin, hours, live_attendance, loading
from lms.services.camps import registry


def credited_substitute(session: LiveSession, holder_id: int) -> Attendance | None:
    """The colleague credited for ``holder_id``'s seat (present or late in their place)."""
    return db.session.scalar(
        select(Attendance).where(
            Attendance.session_id == session.id,
            Attendance.substitute_for_id == holder_id,
            Attendance.status.in_(checkin.ATTENDED),
        )
    )


def _check_times(
    within: LiveSession | LiveSegment, arrived_at: datetime | None, left_at: datetime | None
) -> None:
    """Arrival and departure within the session, or within the segment corrected."""
    start, end = aware(within.starts_at), aware(within.ends_at)
    if arrived_at is not None and not start <= arrived_at < end:
        if isinstance(within, LiveSegment):
            raise checkin.CheckinError(_("The arrival time must lie within the segment."))
        raise checkin.CheckinError(_("The arrival time must lie within the session."))
    if left_at is not None and not start < left_at <= end:
        if isinstance(within, LiveSegment):
            raise checkin.CheckinError(_("The departure time must lie within the segment."))
        raise checkin.CheckinError(_("The departure time must lie within the session."))
    if arrived_at is not None and left_at is not None and left_at <= arrived_at:
        raise checkin.CheckinError(_("The departure must come after the arrival."))


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
    segment: LiveSegment | None = None,
) -> AttendanceCorrection:
    """A trainer sets a learner's attendance, for the whole session or for one ``segment``
    (segments are attended separately); the change is logged. Commits.

    Every correction needs a reason; "late" needs an arrival time (given, or the check-in);
    ``left_at`` records an early departure. Only people on the session's roster can be
    corrected, and never by themselves. A seat is credited to one person at most: crediting
    a learner whom a credited colleague replaced, or a substitute whose colleague is
    credited, raises :class:`checkin.SeatConflict`. A substitute who is no longer credited gives
    the seat back (the holder becomes absent), and takes it again when credited again.
    For the whole session, present or late covers every segment from the start or the
    arrival to the end or the departure; for one segment, present or late records it (with
    the arrival and departure within it) and absent or excused removes it, and the session's
    status follows (present or late while a segment is attended). The ledger moves by the
    difference, for the segments that have ended.
    """
    if status not in checkin.CORRECTABLE:
        raise checkin.CheckinError(_("Unknown attendance status."))
    reason = (reason or "").strip()[:500]
    if not reason:
        raise checkin.CheckinError(_("Give a reason for the correction."))
    if learner.id == trainer.id or not checkin.on_roster(session, learner):
        raise checkin.CheckinError(_("Only learners on this session's roster can be corrected."))
    now = now or utcnow()
    # Stored in UTC (SQLite keeps a datetime's wall-clock time, not its offset).
    arrived_at = arrived_at.astimezone(UTC) if arrived_at else None
    left_at = left_at.astimezone(UTC) if left_at else None
    if status not in checkin.ATTENDED:
        arrived_at = left_at = None
    elif status == "present":
        arrived_at = None
    if segment is not None and segment.session_id != session.id:
        raise checkin.CheckinError(_("Choose a segment of this session."))
    _check_times(segment or session, arrived_at, left_at)
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
        select(Attendance).filter_by(session_id=session.id, user_id=learner.id).with_for_update()
    ).one()
    before = live_attendance.spans_of(attendance)
    if status == "late" and arrived_at is None:
        if segment is not None:
            arrived_at = (before.get(segment.id) or (None, None))[0]
        else:
            arrived_at = attendance.arrived_at or attendance.checked_in_at
        if arrived_at is None:
            raise checkin.CheckinError(_("Give the arrival time of a late learner."))
        arrived_at = aware(arrived_at)
        _check_times(segment or session, arrived_at, left_at)
    spans = _spans_after(session, before, status, arrived_at, left_at, segment)
    if not spans:  # nothing attended: absent (or excused) for the whole session
        new_status = status if status not in checkin.ATTENDED else "absent"
    elif segment is None:
        new_status = status
    else:  # the session's status follows its segments
        new_status = live_attendance.status_of(session, spans) or status
    holder = (
        checkin.row_of(session, attendance.substitute_for_id)
        if attendance.substitute_for_id
        else None
    )
    if new_status in checkin.ATTENDED:
        substitute = credited_substitute(session, learner.id)
        if substitute is not None and substitute.id != attendance.id:
            raise checkin.SeatConflict(
                _(
                    "%(name)s attended in this learner's place: correct that record first.",
                    name=substitute.user.name,
                )
            )
        if holder is not None and holder.status in checkin.ATTENDED:
            raise checkin.SeatConflict(
                _(
                    "%(name)s is credited for this seat: correct that record first.",
                    name=holder.user.name,
                )
            )
    was = attendance.status
    if segment is None:
        correction = _set(attendance, new_status, reason, trainer, now, arrived_at, left_at)
    else:
        old = live_attendance.segment_state(before, segment.id)
        correction = _set(attendance, new_status, reason, trainer, now)
        correction.old_status, correction.new_status = old, status
        correction.arrived_at, correction.left_at = arrived_at, left_at
        correction.segment_id = segment.id
    live_attendance.apply(session, attendance, spans, "trainer")
    if segment is None and spans:  # the times the trainer gave, as given
        attendance.arrived_at, attendance.left_at = arrived_at, left_at
    if holder is not None:  # the seat goes back to its holder, or is taken again
        if new_status in checkin.ATTENDED and holder.status == "absent":
            _set(holder, "replaced", reason, trainer, now)
        elif new_status not in checkin.ATTENDED and holder.status == "replaced":
            _set(holder, "absent", reason, trainer, now)
    db.session.flush()
    hours.record_attendance(
        session, attendance, f"live:{session.id}:{learner.id}:correction:{correction.id}", now=now
    )
    db.session.commit()
    if new_status in checkin.ATTENDED and was not in checkin.ATTENDED:
        loading.for_hook(attendance)
        registry().call_all("lms_attended", attendance=attendance)
    return correction


def _spans_after(
    session: LiveSession,
    before: dict[int, live_attendance.Span],
    status: str,
    arrived_at: datetime | None,
    left_at: datetime | None,
    segment: LiveSegment | None,
) -> dict[int, live_attendance.Span]:
    """The segments attended after a correction."""
    if segment is None:
        if status not in checkin.ATTENDED:
            return {}
        since = arrived_at if status == "late" and arrived_at else aware(session.starts_at)
        return live_attendance.spans_between(session, since, left_at or aware(session.ends_at))
    spans = {key: value for key, value in before.items() if key != segment.id}
    if status in checkin.ATTENDED:
        spans[segment.id] = (arrived_at if status == "late" else None, left_at)
    return spans


def mark_all_present(
    trainer: User,
    session: LiveSession,
    reason: str,
    now: datetime | None = None,
    segment: LiveSegment | None = None,
) -> int:
    """Every registered learner nobody has recorded yet (no check-in, no substitute, no
    correction) becomes present — for the whole session, or for one ``segment`` (then also
    everyone present or late who was not recorded in it gets it) — each change logged with
    the trainer's reason. From the moment check-in opens; the number marked. Commits."""
    now = now or utcnow()
    reason = (reason or "").strip()[:500]
    if not reason:
        raise checkin.CheckinError(_("Give a reason for the correction."))
    if session.status != "scheduled" or now < checkin.opens_at(session):
        raise checkin.CheckinError(_("Check-in is not open for this session."))
    if segment is not None and segment.session_id != session.id:
        raise checkin.CheckinError(_("Choose a segment of this session."))
    spans: dict[int, live_attendance.Span] = (
        {segment.id: (None, None)}
        if segment is not None
        else live_attendance.spans_between(
            session, aware(session.starts_at), aware(session.ends_at)
        )
    )
    lock_row(LiveSession, session.id)
    recorded = select(Attendance.id).where(
        Attendance.session_id == session.id,
        (Attendance.user_id == Registration.user_id)
        | (Attendance.substitute_for_id == Registration.user_id),
    )
    waiting = db.session.scalars(
        select(Registration.user_id)
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
        live_attendance.apply(session, attendance, dict(spans), "trainer")
        db.session.add(
            AttendanceCorrection(
                attendance_id=attendance.id, old_status=None, new_status="present",
                reason=reason, by_id=trainer.id, at=now,
                segment_id=segment.id if segment is not None else None,
            )
        )  # fmt: skip
        hours.record_attendance(
            session, attendance, f"live:{session.id}:{user_id}:all-present:{attendance.id}", now=now
        )
        marked.append(attendance)
    added = _add_segment_for_all(trainer, session, segment, reason, now) if segment else 0
    db.session.commit()
    loading.for_hook(*marked)
    for attendance in marked:
        registry().call_all("lms_attended", attendance=attendance)
    return len(marked) + added


def _add_segment_for_all(
    trainer: User, session: LiveSession, segment: LiveSegment, reason: str, now: datetime
) -> int:
    """Everyone present or late who was not recorded in ``segment`` attended it (logged)."""
    added = 0
    for attendance in db.session.scalars(
        select(Attendance)
        .where(
            Attendance.session_id == session.id,
            Attendance.status.in_(checkin.ATTENDED),
            Attendance.user_id != trainer.id,
        )
        .order_by(Attendance.user_id)
        .options(db.selectinload(Attendance.segments))
    ):
        spans = live_attendance.spans_of(attendance)
        if segment.id in spans:
            continue
        spans[segment.id] = (None, None)
        correction = AttendanceCorrection(
            attendance_id=attendance.id, old_status="absent", new_status="present",
            reason=reason, by_id=trainer.id, at=now, segment_id=segment.id,
        )  # fmt: skip
        db.session.add(correction)
        live_attendance.apply(session, attendance, spans, "trainer")
        attendance.status = live_attendance.status_of(session, spans) or attendance.status
        attendance.updated_at = now
        db.session.flush()
        hours.record_attendance(
            session,
            attendance,
            f"live:{session.id}:{attendance.user_id}:correction:{correction.id}",
            now=now,
        )
        added += 1
    return added


def corrections(session: LiveSession) -> list[AttendanceCorrection]:
    """The session's correction log, newest first, with who made each and whose it is."""
    return list(
        db.session.scalars(
            select(AttendanceCorrection)
            .join(Attendance, AttendanceCorrection.attendance_id == Attendance.id)
            .where(Attendance.session_id == session.id)
            .order_by(AttendanceCorrection.at.desc(), AttendanceCorrection.id.desc())
            .options(
                db.joinedload(AttendanceCorrection.by),
                db.joinedload(AttendanceCorrection.attendance).joinedload(Attendance.user),
            )
        )
    )
