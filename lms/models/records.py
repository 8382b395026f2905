"""Training records: the append-only ledger of verified training time, and training plans."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, ORMExecuteState, Session, mapped_column, relationship

from lms.extensions import Model
from lms.models._base import utcnow
from lms.models.accounts import Organization, StaffGroup, User
from lms.models.catalog import Camp, Course

HOURS_SOURCES = ("video", "live", "correction")
SOURCE_KEY_LENGTH = 120


class LedgerIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete a training-time entry through the ORM."""


class TrainingTime(Model):
    """One entry of verified training time; never updated or deleted.

    ``source_key`` makes writing idempotent: a retried write with the same key adds nothing.
    A correction is a new entry (possibly negative), never an edit. The ORM refuses to update
    or delete an entry (:class:`LedgerIsAppendOnly`, see the events below).
    """

    __tablename__ = "training_time"
    __table_args__ = (
        CheckConstraint(f"source IN {HOURS_SOURCES!r}", name="source"),
        Index("ix_training_time_user_day", "user_id", "day"),
        # Covers the monthly reports: a month's rows, summed per learner, without the table.
        Index("ix_training_time_day_user", "day", "user_id", "seconds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_key: Mapped[str] = mapped_column(String(SOURCE_KEY_LENGTH), unique=True)
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


def _refuse(action: str, entry: TrainingTime | None = None) -> None:
    which = f" {entry.id} ({entry.source_key})" if entry is not None else "s"
    raise LedgerIsAppendOnly(
        f"training_time is append-only: refusing to {action} entry{which}; "
        "record a correction as a new entry instead (lms.services.hours.add)"
    )


@event.listens_for(TrainingTime, "before_update")
def _refuse_update(_mapper: Mapper[Any], _connection: Connection, entry: TrainingTime) -> None:
    # Called for every "dirty" entry of a flush; refuse only real changes to its columns.
    session = Session.object_session(entry)
    if session is None or session.is_modified(entry, include_collections=False):
        _refuse("update", entry)


@event.listens_for(TrainingTime, "before_delete")
def _refuse_delete(_mapper: Mapper[Any], _connection: Connection, entry: TrainingTime) -> None:
    _refuse("delete", entry)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_changes(state: ORMExecuteState) -> None:
    """Bulk statements — ``session.execute(update(TrainingTime)…)`` or ``delete(…)``, on the
    class or its table, ``Query.update()`` / ``Query.delete()`` — skip the flush events
    above: refuse them here. (SQL text, statements run on a connection outside the session
    and the database's own ``ON DELETE`` actions are not the ORM's business.)"""
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)  # annotated when made from the class
    if table is not None and table.is_derived_from(TrainingTime.__table__):
        _refuse("update" if state.is_update else "delete")


class Assignment(Model):
    """One item of a training plan: a course or a whole camp, due on a day, assigned to one
    learner or to a staff group (its members now and later).

    ``organization_id`` is the organization whose plan it belongs to (``None``: the
    academy's own, set by an organizer). Cancelling keeps the row for the record.
    """

    __tablename__ = "assignments"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="assignee"),
        CheckConstraint("(course_id IS NULL) <> (camp_id IS NULL)", name="subject"),
        Index("ix_assignments_organization_due", "organization_id", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_groups.id", ondelete="CASCADE"), index=True
    )
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    camp_id: Mapped[int | None] = mapped_column(ForeignKey("camps.id", ondelete="CASCADE"))
    due_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): plan pages and reports read
    # assignments by columns; a reminder reads one assignment's course or camp lazily.
    organization: Mapped[Organization | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    group: Mapped[StaffGroup | None] = relationship()
    course: Mapped[Course | None] = relationship()
    camp: Mapped[Camp | None] = relationship()
