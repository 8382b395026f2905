"""Verified watch time.

The browser opens a *playback session* (the server notes when), then reports the
intervals it really played. The server validates them, merges them into the learner's
coverage of the lesson, and credits only seconds not credited before — never more than
the wall-clock time elapsed in that session, nor more than the wall-clock time since the
learner's last credit in any session (two tabs at once earn no double credit). Replayed or
out-of-order reports change nothing. Completion is decided here, never by the client.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from lms.database import insert_ignoring_conflicts, upsert_returning
from lms.extensions import db
from lms.models import (
    Lesson,
    LessonProgress,
    PlaybackSession,
    User,
    WatchClock,
)
from lms.models._base import aware, utcnow
from lms.services import hours
from lms.services import intervals as iv
from lms.services.completion import after_lesson_completed
from lms.services.lessons import completion_threshold

MAX_INTERVALS = 500
SESSION_ID = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16)
# Players report positions a little past the probed duration (container rounding).
DURATION_TOLERANCE = 0.5


class ProgressError(ValueError):
    """The report is invalid; nothing was written."""


@dataclass(frozen=True)
class ProgressState:
    position: float
    covered_seconds: float
    duration: float
    threshold: float
    completed: bool
    credited: float = 0.0
    course_completed: bool = False

    @property
    def fraction(self) -> float:
        return min(1.0, self.covered_seconds / self.duration) if self.duration else 0.0

    def as_dict(self) -> dict:
        return {
            "position": round(self.position, 3),
            "covered_seconds": round(self.covered_seconds, 3),
            "covered_fraction": round(self.fraction, 4),
            "duration": round(self.duration, 3),
            "threshold": self.threshold,
            "completed": self.completed,
            "credited": round(self.credited, 3),
            "course_completed": self.course_completed,
        }


def lesson_duration(lesson: Lesson) -> float:
    media = lesson.media
    if media is None or media.status != "ready" or not media.duration_seconds:
        raise ProgressError("this lesson has no playable video")
    return float(media.duration_seconds)


def _locked(model: type, insert_values: dict, **key: int) -> object:
    """The row of ``model`` with ``key``, locked for this transaction; created if missing.

    Reads first (the common case), and only races for an insert when the row is missing.
    """
    query = db.select(model).filter_by(**key).with_for_update()
    row = db.session.scalars(query).first()
    if row is None:
        insert_ignoring_conflicts(model, list(key), **key, **insert_values)
        row = db.session.scalars(query).one()
    return row


def _progress_row(user: User, lesson: Lesson) -> LessonProgress:
    return _locked(
        LessonProgress,
        {"position_seconds": 0.0, "covered_seconds": 0.0, "updated_at": utcnow()},
        user_id=user.id,
        lesson_id=lesson.id,
    )


def state(user: User, lesson: Lesson) -> ProgressState:
    """The learner's current progress in a video lesson."""
    duration = lesson_duration(lesson)
    row = db.session.scalar(
        db.select(LessonProgress).filter_by(user_id=user.id, lesson_id=lesson.id)
    )
    return ProgressState(
        position=row.position_seconds if row else 0.0,
        covered_seconds=row.covered_seconds if row else 0.0,
        duration=duration,
        threshold=completion_threshold(lesson),
        completed=bool(row and row.completed_at),
    )


def open_session(user: User, lesson: Lesson) -> tuple[PlaybackSession, ProgressState]:
    """Start a playback session; the wall clock for its credit starts now."""
    current = state(user, lesson)
    session = PlaybackSession(id=secrets.token_hex(16), user_id=user.id, lesson_id=lesson.id)
    db.session.add(session)
    db.session.commit()
    return session, current


def find_session(session_id: str, user: User) -> PlaybackSession | None:
    # Only what open_session hands out: other strings (a NUL byte, which PostgreSQL refuses in
    # a query) never reach the database.
    if not (isinstance(session_id, str) and SESSION_ID.fullmatch(session_id)):
        return None
    session = db.session.get(PlaybackSession, session_id)
    return session if session is not None and session.user_id == user.id else None


def validate_intervals(raw: object, duration: float) -> list[iv.Interval]:
    """Check a report's intervals: finite numbers, start < end, inside the video."""
    if not isinstance(raw, list) or len(raw) > MAX_INTERVALS:
        raise ProgressError(f"intervals must be a list of at most {MAX_INTERVALS} pairs")
    limit = duration + DURATION_TOLERANCE
    result = []
    for pair in raw:
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise ProgressError("each interval is a [start, end] pair")
        start, end = pair
        if not all(_is_number(x) for x in (start, end)):
            raise ProgressError("interval bounds must be finite numbers")
        if start < 0 or end > limit or start >= end:
            raise ProgressError("each interval must satisfy 0 <= start < end <= duration")
        result.append((float(start), min(float(end), duration)))
    return result


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_position(position: object, duration: float) -> float:
    if not _is_number(position) or not 0 <= position <= duration + DURATION_TOLERANCE:
        raise ProgressError("position must be a number between 0 and the duration")
    return min(float(position), duration)


def report(
    session: PlaybackSession,
    user: User,
    lesson: Lesson,
    *,
    seq: int,
    position: object,
    played: object,
    now: datetime | None = None,
) -> ProgressState:
    """Credit a report of ``session``. Validates everything before writing anything."""
    duration = lesson_duration(lesson)
    reported = validate_intervals(played, duration)
    resume_at = validate_position(position, duration)

    clock = _watch_clock(user, aware(session.started_at))  # serializes this learner's reports
    db.session.refresh(session)  # what a report that held the lock before us wrote
    # The time is read once the lock is ours: a report that waited for it must not stamp the
    # session with an earlier time than the reports credited before it.
    now = now or utcnow()
    row = _progress_row(user, lesson)
    coverage = iv.merge(tuple(pair) for pair in (row.watched or []))
    new = iv.subtract(reported, coverage)
    started = aware(session.started_at)
    session_budget = (now - started).total_seconds() - session.credited_seconds
    user_budget = (now - max(aware(clock.credited_until), started)).total_seconds()
    budget = max(0.0, min(session_budget, user_budget))
    credited_parts = iv.take(new, budget)
    credited = iv.measure(credited_parts)

    if credited > 0:
        coverage = iv.merge([*coverage, *credited_parts])
        row.watched = [[start, end] for start, end in coverage]  # exact: replays stay no-ops
        row.covered_seconds = min(duration, iv.measure(coverage))
        before = int(session.credited_seconds // 60)
        session.credited_seconds += credited
        clock.credited_until = max(aware(clock.credited_until), started) + timedelta(
            seconds=credited
        )
        _ledger_minutes(session, lesson, before, now)
    if seq > session.last_seq:
        session.last_seq = seq
        row.position_seconds = resume_at
    session.last_report_at = now
    row.updated_at = now

    threshold = completion_threshold(lesson)
    newly_completed = row.completed_at is None and row.covered_seconds >= threshold * duration
    if newly_completed:
        row.completed_at = now
    result = ProgressState(  # read before the commit expires the rows
        position=row.position_seconds,
        covered_seconds=row.covered_seconds,
        duration=duration,
        threshold=threshold,
        completed=row.completed_at is not None,
        credited=credited,
    )
    db.session.commit()

    if newly_completed and after_lesson_completed(user, lesson, row):
        return replace(result, course_completed=True)
    return result


def _watch_clock(user: User, started: datetime) -> WatchClock:
    """The learner's clock, locked: every report of this learner waits for the previous one.

    One upsert takes the lock whether the clock existed or not; on SQLite a write is what
    takes the database's write lock, so the reads that follow see the latest state.
    """
    return upsert_returning(WatchClock, ["user_id"], user_id=user.id, credited_until=started)


def _ledger_minutes(session: PlaybackSession, lesson: Lesson, before: int, now: datetime) -> None:
    """Whole verified minutes of a playback session go to the training-time ledger.

    The key holds the session's running total, so a retried report writes nothing twice and
    a session adds at most one entry per minute watched.
    """
    after = int(session.credited_seconds // 60)
    if after > before:
        course = lesson.module.course
        hours.add(
            key=f"video:{session.id}:{after}",
            user_id=session.user_id,
            source="video",
            seconds=60 * (after - before),
            day=hours.local_day(now),
            camp_id=course.camp_id,
            course_id=course.id,
        )
