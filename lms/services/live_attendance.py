"""Attendance per segment: the open class, the salon and the discussion of an activity day
are attended separately.

A person's attendance row (``attendance``) carries the session-level status (present, late,
excused, absent, replaced) that seats, reports and the archive count; its
``segment_attendance`` rows say which segments they attended, from when to when. The rule
that ties the two: **present or late exactly when at least one segment was attended** —
late when they came late into the first segment they attended. Check-in and check-out apply
to the current segment (:func:`current_segment`); trainers correct the whole session or one
segment. Hours are credited per segment (``hours.attended_seconds``).
"""

from __future__ import annotations

from datetime import datetime

from lms.database import insert_ignoring_conflicts
from lms.extensions import db
from lms.models import Attendance, LiveSegment, LiveSession, SegmentAttendance
from lms.models._base import aware

# A segment's presence: (arrival, departure); None means its start, or its end.
Span = tuple[datetime | None, datetime | None]


def current_segment(session: LiveSession, now: datetime) -> LiveSegment | None:
    """The segment a check-in or a check-out at ``now`` applies to: the one running, else the
    next (before the start, or in a break); None once the last has ended."""
    for segment in session.segments:
        if now < aware(segment.ends_at):
            return segment
    return None


def segment_of(session: LiveSession, segment_id: int | None) -> LiveSegment | None:
    """The session's segment with this id (None when it is not one of the session's)."""
    return next((s for s in session.segments if s.id == segment_id), None)


def spans_of(attendance: Attendance) -> dict[int, Span]:
    return {
        row.segment_id: (
            aware(row.arrived_at) if row.arrived_at else None,
            aware(row.left_at) if row.left_at else None,
        )
        for row in attendance.segments
    }


def spans_between(session: LiveSession, since: datetime, until: datetime) -> dict[int, Span]:
    """One presence from ``since`` to ``until`` cut into the segments it overlaps (a gap
    between two segments belongs to none)."""
    spans = {}
    for segment in session.segments:
        start, end = aware(segment.starts_at), aware(segment.ends_at)
        if min(end, until) <= max(start, since):
            continue
        spans[segment.id] = (since if since > start else None, until if until < end else None)
    return spans


def status_of(session: LiveSession, spans: dict[int, Span]) -> str | None:
    """present or late for the segments attended (late: after the start of the first one);
    None when no segment was attended."""
    first = next((s for s in session.segments if s.id in spans), None)
    if first is None:
        return None
    return "late" if spans[first.id][0] is not None else "present"


def segment_state(spans: dict[int, Span], segment_id: int) -> str:
    """present, late (arrived after its start) or absent, for one segment."""
    if segment_id not in spans:
        return "absent"
    return "late" if spans[segment_id][0] is not None else "present"


def apply(
    session: LiveSession, attendance: Attendance, spans: dict[int, Span], method: str
) -> None:
    """Make ``attendance``'s segment rows what ``spans`` says (rows of other segments go), and
    keep its arrival (late) and departure (the last segment's) in step. No commit."""
    for stale in list(attendance.segments):
        if stale.segment_id not in spans:
            attendance.segments.remove(stale)
    rows = {row.segment_id: row for row in attendance.segments}
    for segment_id, (arrived, left) in spans.items():
        row = rows.get(segment_id)
        if row is None:
            row = SegmentAttendance(segment_id=segment_id, method=method)
            attendance.segments.append(row)
        row.arrived_at, row.left_at = arrived, left
    summarize(session, attendance, spans)


def summarize(session: LiveSession, attendance: Attendance, spans: dict[int, Span]) -> None:
    """The attendance row's arrival (into the first segment attended, when late) and
    departure (from the last one, when early), as the roster and the archive show them."""
    attended = [s for s in session.segments if s.id in spans]
    attendance.arrived_at = spans[attended[0].id][0] if attended else None
    attendance.left_at = spans[attended[-1].id][1] if attended else None


def add_segment(attendance: Attendance, segment: LiveSegment, arrived: datetime | None) -> bool:
    """Record ``segment`` as attended from ``arrived`` (None: its start) unless it is already;
    True when recorded. Concurrency-safe (one row per person and segment). No commit."""
    added = insert_ignoring_conflicts(
        SegmentAttendance,
        ["attendance_id", "segment_id"],
        attendance_id=attendance.id,
        segment_id=segment.id,
        arrived_at=arrived,
        method="code",
    )
    if added:
        db.session.expire(attendance, ["segments"])
    return added
