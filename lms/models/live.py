"""Live teaching: the monthly activity day and other sessions, registration, attendance.

The community's cases and topics are in :mod:`lms.models.community`, calendar feeds in
:mod:`lms.models.feeds`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import Model, db
from lms.models._base import Bilingual, Timestamped, academy_timezone, utcnow
from lms.models.accounts import User
from lms.models.catalog import Camp, Course, Lesson

SEGMENT_KINDS = ("open_class", "salon", "discussion", "lecture")
DELIVERIES = ("lecture", "screening")
SESSION_STATUSES = ("scheduled", "cancelled")
REGISTRATION_STATUSES = ("registered", "waitlisted", "cancelled")
# An attendance row per person: present or late (credited), excused or absent (not), and
# "replaced" for a registered learner whose seat a colleague took (the colleague is credited).
ATTENDANCE_STATUSES = ("present", "late", "excused", "absent", "replaced")


class LiveSeries(Bilingual, Timestamped, Model):
    """A recurring live event: an iCalendar RRULE from a local start in a time zone."""

    __tablename__ = "live_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    camp_id: Mapped[int | None] = mapped_column(ForeignKey("camps.id", ondelete="SET NULL"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"))
    rrule: Mapped[str] = mapped_column(String(500))
    starts_local: Mapped[datetime] = mapped_column(DateTime)  # naive, in ``timezone``
    timezone: Mapped[str] = mapped_column(String(64), default=academy_timezone)
    location: Mapped[str] = mapped_column(String(200))
    capacity: Mapped[int] = mapped_column(Integer, default=60)
    # The segments of each occurrence: [{"kind", "title_zh", "title_en", "offset", "minutes"}]
    segments: Mapped[list[Any]] = mapped_column(db.JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the live pages, check-in and
    # attendance services read these one session at a time; not moved to explicit loads yet.
    camp: Mapped[Camp | None] = relationship()
    course: Mapped[Course | None] = relationship()


class LiveSession(Bilingual, Timestamped, Model):
    """One live session; an occurrence of a series keeps its original start as recurrence id."""

    __tablename__ = "live_sessions"
    __table_args__ = (
        UniqueConstraint("series_id", "recurrence_id"),
        CheckConstraint(f"status IN {SESSION_STATUSES!r}", name="status"),
        CheckConstraint(f"delivery IN {DELIVERIES!r}", name="delivery"),
        CheckConstraint("ends_at > starts_at", name="times"),
        CheckConstraint("capacity >= 0", name="capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_series.id", ondelete="CASCADE"), index=True
    )
    recurrence_id: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    camp_id: Mapped[int | None] = mapped_column(ForeignKey("camps.id", ondelete="SET NULL"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64), default=academy_timezone)
    location: Mapped[str] = mapped_column(String(200))
    lecturer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    guest_name: Mapped[str] = mapped_column(String(100), default="")
    guest_title: Mapped[str] = mapped_column(String(200), default="")
    delivery: Mapped[str] = mapped_column(String(20), default="lecture")
    screening_lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="SET NULL")
    )
    capacity: Mapped[int] = mapped_column(Integer, default=60)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    moved: Mapped[bool] = mapped_column(Boolean, default=False)
    checkin_secret: Mapped[str] = mapped_column(String(64))
    # iCalendar: SEQUENCE rises and LAST-MODIFIED moves with every change calendars must see.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the live pages, check-in and
    # attendance services read these one session at a time; not moved to explicit loads yet.
    series: Mapped[LiveSeries | None] = relationship()
    camp: Mapped[Camp | None] = relationship()
    course: Mapped[Course | None] = relationship()
    lecturer: Mapped[User | None] = relationship()
    screening_lesson: Mapped[Lesson | None] = relationship()
    segments: Mapped[list[LiveSegment]] = relationship(
        order_by="LiveSegment.starts_at", cascade="all, delete-orphan"
    )


class LiveSegment(Bilingual, Model):
    """A part of a session: open class, maker salon, members' discussion, or a lecture."""

    __tablename__ = "live_segments"
    __table_args__ = (
        CheckConstraint(f"kind IN {SEGMENT_KINDS!r}", name="kind"),
        CheckConstraint("ends_at > starts_at", name="times"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When the scheduled task credited the time attended in this segment (None: not yet).
    credited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Registration(Model):
    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        CheckConstraint(f"status IN {REGISTRATION_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the live pages, check-in and
    # attendance services read these one session at a time; not moved to explicit loads yet.
    user: Mapped[User] = relationship()
    session: Mapped[LiveSession] = relationship()


class Attendance(Model):
    """Who was there. ``substitute_for_id`` names the registered learner someone replaced."""

    __tablename__ = "attendance"
    __table_args__ = (
        UniqueConstraint("session_id", "user_id"),
        CheckConstraint(f"status IN {ATTENDANCE_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    substitute_for_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(20))
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A trainer's arrival time for "late" (else the check-in counts), and when they left early.
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    method: Mapped[str] = mapped_column(String(20), default="code")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the live pages, check-in and
    # attendance services read these one session at a time; not moved to explicit loads yet.
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    substitute_for: Mapped[User | None] = relationship(foreign_keys=[substitute_for_id])
    session: Mapped[LiveSession] = relationship()
    # The segments attended (present or late has at least one; the others have none).
    segments: Mapped[list[SegmentAttendance]] = relationship(
        cascade="all, delete-orphan", order_by="SegmentAttendance.segment_id"
    )


class SegmentAttendance(Model):
    """One segment a person attended: from ``arrived_at`` (None: its start) to ``left_at``
    (None: its end). Hours are credited per segment, so segments are attended separately."""

    __tablename__ = "segment_attendance"
    __table_args__ = (
        UniqueConstraint("attendance_id", "segment_id"),
        CheckConstraint(
            "arrived_at IS NULL OR left_at IS NULL OR left_at > arrived_at", name="times"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(
        ForeignKey("attendance.id", ondelete="CASCADE"), index=True
    )
    segment_id: Mapped[int] = mapped_column(
        ForeignKey("live_segments.id", ondelete="CASCADE"), index=True
    )
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    method: Mapped[str] = mapped_column(String(20), default="code")

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the live pages, check-in and
    # attendance services read these one session at a time; not moved to explicit loads yet.
    segment: Mapped[LiveSegment] = relationship()


class AttendanceCorrection(Model):
    """Every change a trainer makes to attendance: who, whom (the row's learner), from → to,
    the arrival and departure times set, why and when."""

    __tablename__ = "attendance_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(
        ForeignKey("attendance.id", ondelete="CASCADE"), index=True
    )
    old_status: Mapped[str | None] = mapped_column(String(20))
    new_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500), default="")
    arrived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    left_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The segment corrected (None: the whole session).
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_segments.id", ondelete="SET NULL")
    )
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the live pages, check-in and
    # attendance services read these one session at a time; not moved to explicit loads yet.
    by: Mapped[User | None] = relationship()
    attendance: Mapped[Attendance] = relationship()
    segment: Mapped[LiveSegment | None] = relationship()
