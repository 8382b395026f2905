"""What learners do: enrollments and per-lesson progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import Model
from lms.models._base import utcnow
from lms.models.accounts import User
from lms.models.catalog import Course, Lesson

ENROLLMENT_STATUSES = ("active", "completed", "withdrawn")


class Enrollment(Model):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        CheckConstraint(f"status IN {ENROLLMENT_STATUSES!r}", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="raise_on_sql")
    course: Mapped[Course] = relationship(lazy="raise_on_sql")


class LessonProgress(Model):
    __tablename__ = "lesson_progress"
    __table_args__ = (
        UniqueConstraint("user_id", "lesson_id"),
        CheckConstraint("position_seconds >= 0", name="position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    position_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # The merged intervals [[start, end], ...] of the video really watched (credited).
    watched: Mapped[list[Any] | None] = mapped_column(JSON)
    covered_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    lesson: Mapped[Lesson] = relationship(lazy="raise_on_sql")


class PlaybackSession(Model):
    """One viewing of one video, opened by the server; its reports are credited against it."""

    __tablename__ = "playback_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lessons.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_report_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seq: Mapped[int] = mapped_column(Integer, default=-1)
    # Video coverage credited in this session (seconds of the video).
    credited_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Training time: the wall-clock seconds the player said it played (acknowledged, a running
    # total), the seconds credited for them, and the whole seconds of those in the ledger.
    played_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    training_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    ledger_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WatchClock(Model):
    """Per learner: credit across all playback sessions never outruns the wall clock."""

    __tablename__ = "watch_clocks"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    credited_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Certificate(Model):
    """Issued when a course is complete; anyone can verify it by its code."""

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    learner_name: Mapped[str] = mapped_column(String(100))
    course_title_zh: Mapped[str] = mapped_column(String(200))
    course_title_en: Mapped[str] = mapped_column(String(200))
    camp_title_zh: Mapped[str] = mapped_column(String(200))
    camp_title_en: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[int] = mapped_column(Integer, default=0)

    user: Mapped[User] = relationship(lazy="raise_on_sql")
    course: Mapped[Course] = relationship(lazy="raise_on_sql")
