"""Timed work, run by ``lms cron`` from a system timer (never by a page view).

Register a task at import time of a module the app imports (any service a blueprint uses)::

    from datetime import timedelta
    from lms.services import schedule

    @schedule.register("resume video processing", every=timedelta(minutes=10))
    def resume_processing(now: datetime) -> None:
        ...

A task is called with the current UTC time, in an app context, and commits its own work.
:func:`run_due` runs every task whose interval has passed since its last run. Each run is
claimed in the ``scheduled_tasks`` table with one conditional ``UPDATE``, so two timers
firing at once run a task once; a task must still be idempotent (a run that crashed half
way is run again in full). A task that raises is logged, its error stored, and it is
retried at the next ``lms cron``; the other tasks run anyway.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import or_, select, update

from lms.database import insert_ignoring_conflicts, rowcount
from lms.extensions import db
from lms.models import ScheduledTask
from lms.models._base import utcnow

log = logging.getLogger(__name__)

Task = Callable[[datetime], object]
# A task as it is declared (its keywords and defaults kept for its other callers).
DeclaredTask = TypeVar("DeclaredTask", bound=Task)


@dataclass(frozen=True)
class Entry:
    name: str
    every: timedelta
    run: Task


_registry: dict[str, Entry] = {}


def register(name: str, every: timedelta) -> Callable[[DeclaredTask], DeclaredTask]:
    """Decorator: run the function every ``every`` (at the next ``lms cron`` after that).

    Registering the same name again replaces the task (a reloaded module stays one task).
    """
    if not name or len(name) > 100:
        raise ValueError("a task name has 1 to 100 characters")
    if every <= timedelta(0):
        raise ValueError("a task runs at a positive interval")

    def decorator(function: DeclaredTask) -> DeclaredTask:
        _registry[name] = Entry(name, every, function)
        return function

    return decorator


def tasks() -> list[Entry]:
    """The registered tasks, by name."""
    return [_registry[name] for name in sorted(_registry)]


def _claim(entry: Entry, now: datetime) -> tuple[bool, datetime | None]:
    """Mark the task as run at ``now`` if it is due: (claimed, the previous run)."""
    insert_ignoring_conflicts(ScheduledTask, ["name"], name=entry.name, last_error="")
    previous = db.session.scalar(select(ScheduledTask.last_run_at).filter_by(name=entry.name))
    claimed = db.session.execute(
        update(ScheduledTask)
        .where(
            ScheduledTask.name == entry.name,
            or_(
                ScheduledTask.last_run_at.is_(None),
                ScheduledTask.last_run_at <= now - entry.every,
            ),
        )
        .values(last_run_at=now)
    )
    db.session.commit()
    return rowcount(claimed) == 1, previous


def run_due(now: datetime | None = None) -> list[str]:
    """Run every task that is due at ``now`` (default: the current time); their names."""
    now = now or utcnow()
    ran = []
    for entry in tasks():
        claimed, previous = _claim(entry, now)
        if not claimed:
            continue
        try:
            entry.run(now)
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("scheduled task %r failed", entry.name)
            db.session.execute(
                db.update(ScheduledTask)
                .filter_by(name=entry.name)
                .values(last_run_at=previous, last_error=traceback.format_exc()[-4000:])
            )
            db.session.commit()
            continue
        db.session.execute(
            db.update(ScheduledTask).filter_by(name=entry.name).values(last_error="")
        )
        db.session.commit()
        ran.append(entry.name)
    return ran
