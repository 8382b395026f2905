"""Scheduled notifications (``lms cron``): live-session reminders a day and an hour before,
assignments due soon and overdue.

Each task looks at a window of time and notifies everyone concerned; the unique key of each
notification (the session's start or the assignment's due day is part of its occasion)
makes a run that repeats, overlaps or is retried send nothing twice. A session moved to
another time is a new occasion, so its reminders come again.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from lms.extensions import db
from lms.models import Assignment, Course, LiveSession
from lms.models._base import aware
from lms.services import hours, plans, schedule
from lms.services.notifications.delivery import base_url, send
from lms.services.notifications.events import holders, session_facts

DAY_BEFORE = timedelta(hours=24)
HOUR_BEFORE = timedelta(hours=1)
DUE_SOON_DAYS = 2  # "due soon": due today, tomorrow or the day after
OVERDUE_FOR_DAYS = 14  # overdue assignments older than this are not announced any more


def remind_sessions(now: datetime) -> int:
    """Registered learners of each scheduled session starting within a day get the day's
    reminder; within an hour, the hour's (a session less than an hour away gets only that
    one). How many notifications were sent."""
    sessions = db.session.scalars(
        db.select(LiveSession)
        .where(
            LiveSession.status == "scheduled",
            LiveSession.starts_at > now,
            LiveSession.starts_at <= now + DAY_BEFORE,
        )
        .order_by(LiveSession.starts_at, LiveSession.id)
    ).all()
    plan = [
        (
            session.id,
            "hour" if aware(session.starts_at) <= now + HOUR_BEFORE else "day",
            session_facts(session),
        )
        for session in sessions
    ]
    base, sent = base_url(), 0
    for session_id, before, data in plan:
        occasion = f"{before}@{data['starts_at']}"
        people = holders(session_id, ("registered",))
        sent += send(
            "live_reminder", people, session_id, occasion, {**data, "before": before}, base
        )
    return sent


def remind_assignments(now: datetime) -> int:
    """Learners with an assignment not done get "due soon" when it is due within
    :data:`DUE_SOON_DAYS` days and "overdue" once its day has passed. How many were sent."""
    today = hours.local_day(now)
    found = plans.statuses(
        Assignment.cancelled_at.is_(None),
        Assignment.due_on >= today - timedelta(days=OVERDUE_FOR_DAYS),
        Assignment.due_on <= today + timedelta(days=DUE_SOON_DAYS),
        on=today,
    )
    rows = db.session.execute(
        db.select(found.c.assignment_id, found.c.user_id, found.c.status).where(
            found.c.status != "done"
        )
    ).all()
    recipients: dict[tuple[int, str], set[int]] = defaultdict(set)
    for assignment_id, user_id, status in rows:
        kind = "assignment_overdue" if status == "late" else "assignment_due"
        recipients[(assignment_id, kind)].add(user_id)
    assignments = {
        assignment.id: assignment
        for assignment in db.session.scalars(
            db.select(Assignment).where(Assignment.id.in_({key[0] for key in recipients}))
        )
    }
    facts = {
        assignment_id: _assignment_facts(assignment)
        for assignment_id, assignment in assignments.items()
    }
    base, sent = base_url(), 0
    for (assignment_id, kind), people in sorted(recipients.items()):
        data = facts[assignment_id]
        occasion = f"{kind}@{data['due_on']}"
        sent += send(kind, people, assignment_id, occasion, data, base)
    return sent


def _assignment_facts(assignment: Assignment) -> dict[str, Any]:
    subject: Course | object = assignment.course or assignment.camp
    return {
        "assignment_id": assignment.id,
        "title_zh": getattr(subject, "title_zh", ""),
        "title_en": getattr(subject, "title_en", ""),
        "due_on": assignment.due_on.isoformat(),
    }


@schedule.register("notify live session reminders", every=timedelta(minutes=5))
def _sessions_from_cron(now: datetime) -> None:
    remind_sessions(now)


@schedule.register("notify assignments due", every=timedelta(hours=1))
def _assignments_from_cron(now: datetime) -> None:
    remind_assignments(now)
