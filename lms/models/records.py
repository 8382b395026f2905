"""Training records: the append-only ledger of verified training time."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lms.extensions import db
from lms.models._base import utcnow

HOURS_SOURCES = ("video", "live", "correction")


class TrainingTime(db.Model):
    """One entry of verified training time; never updated or deleted.

    ``source_key`` makes writing idempotent: a retried write with the same key adds nothing.
    A correction is a new entry (possibly negative), never an edit.
    """

    __tablename__ = "training_time"
    __table_args__ = (
        CheckConstraint(f"source IN {HOURS_SOURCES!r}", name="source"),
        Index("ix_training_time_user_day", "user_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))
    seconds: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    camp_id: Mapped[int | None] = mapped_column(ForeignKey("camps.id", ondelete="SET NULL"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"))
    live_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
