"""Verified watch time.

The browser opens a *playback session* (the server notes when), then reports every few
seconds the intervals of the video it played in that session and the wall-clock seconds it
spent playing. The server is the only judge of what counts:

* each report is credited for at most ``min(wall-clock time since the session's previous
  report, or since it opened; the window) + slack`` — idle or paused time earns nothing;
* *training time* (the hours ledger) is at most that, at most the growth of the player's
  ``played_seconds``, and never counted twice for two sessions of one learner at once: a
  per-learner cursor (``watch_clocks``) may run at most one slack ahead of the wall clock;
* *coverage* (completion) grows by at most the lesson's maximum rate times that time.

Replayed or out-of-order reports change nothing. Completion is decided here, never by the
client. See docs/video.md, "Verified watch time".
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeGuard, TypeVar

from flask import current_app
from sqlalchemy import select

from lms.database import insert_ignoring_conflicts, upsert_returning
from lms.extensions import Model, db
from lms.models import (
    Lesson,
    LessonProgress,
    PlaybackSession,
    User,
    WatchClock,
)
from lms.models._base import aware, utcnow
from lms.services import completion, hours
from lms.services import intervals as iv
from lms.services.camps import registry
from lms.services.completion import after_lesson_completed
from lms.services.errors import Invalid
from lms.services.lessons import completion_threshold

MAX_INTERVALS = 500
SESSION_ID = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16)
# Players report positions a little past the probed duration (container rounding).
DURATION_TOLERANCE = 0.5
DEFAULT_MAX_RATE = 2.0
MAX_RATE_RANGE = (1.0, 4.0)  # what lms_max_playback_rate may set
# A playback session's played_seconds above this (a week) is not a number a player sends.
MAX_PLAYED_SECONDS = 7 * 24 * 3600


RowModel = TypeVar("RowModel", bound=Model)


class ProgressError(Invalid):
    """The report is invalid; nothing was written."""


@dataclass(frozen=True)
class Credit:
    """What one report earned, and its playback session's totals after it."""

    training_seconds: float = 0.0  # wall-clock seconds credited for this report
    session_training_seconds: float = 0.0
    recorded_seconds: int = 0  # whole seconds of the session in the ledger

    def as_dict(self) -> dict[str, float]:
        return {
            "training_seconds": round(self.training_seconds, 3),
            "session_training_seconds": round(self.session_training_seconds, 3),
            "recorded_seconds": self.recorded_seconds,
        }


@dataclass(frozen=True)
class ProgressState:
    position: float
    covered_seconds: float
    duration: float
    threshold: float
    completed: bool
    credited: float = 0.0
    course_completed: bool = False
    credit: Credit | None = None  # set on the answer to a report
    # Set on the answer to the report that completed the lesson: the course's progress now
    # (the sidebar updates without a reload), and the certificate when it finished the course.
    course_percent: int | None = None
    certificate_code: str | None = None

    @property
    def fraction(self) -> float:
        return min(1.0, self.covered_seconds / self.duration) if self.duration else 0.0

    def as_dict(self) -> dict[str, float | int | bool | str]:
        answer: dict[str, float | int | bool | str] = {
            "position": round(self.position, 3),
            "covered_seconds": round(self.covered_seconds, 3),
            "covered_fraction": round(self.fraction, 4),
            "duration": round(self.duration, 3),
            "threshold": self.threshold,
            "completed": self.completed,
            "credited": round(self.credited, 3),
            "course_completed": self.course_completed,
        }
        if self.credit is not None:
            answer.update(self.credit.as_dict())
        if self.course_percent is not None:
            answer["course_percent"] = self.course_percent
        if self.certificate_code is not None:
            answer["certificate_code"] = self.certificate_code
        return answer


@dataclass(frozen=True)
class WatchRules:
    """The crediting rule's numbers for one lesson (seconds; rate in video s per wall s)."""

    max_rate: float
    window: float
    slack: float


def max_playback_rate(lesson: Lesson) -> float:
    """The fastest playback that counts in full: a camp's hook, else the core default (2×)."""
    value = registry().call_first("lms_max_playback_rate", lesson=lesson)
    low, high = MAX_RATE_RANGE
    if _is_number(value) and low <= value <= high:
        return float(value)
    return DEFAULT_MAX_RATE


def report_every() -> int:
    """Seconds between a playing player's reports."""
    return int(current_app.config["WATCH_REPORT_EVERY"])


def watch_rules(lesson: Lesson) -> WatchRules:
    config = current_app.config
    return WatchRules(
        max_rate=max_playback_rate(lesson),
        window=float(config["WATCH_WINDOW"]),
        slack=float(config["WATCH_SLACK"]),
    )


def lesson_duration(lesson: Lesson) -> float:
    media = lesson.media
    if media is None or media.status != "ready" or not media.duration_seconds:
        raise ProgressError("this lesson has no playable video")
    return float(media.duration_seconds)


def _locked(model: type[RowModel], insert_values: dict[str, Any], **key: int) -> RowModel:
    """The row of ``model`` with ``key``, locked for this transaction; created if missing.

    Reads first (the common case), and only races for an insert when the row is missing.
    """
    query = select(model).filter_by(**key).with_for_update()
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
    row = db.session.scalar(select(LessonProgress).filter_by(user_id=user.id, lesson_id=lesson.id))
    return ProgressState(
        position=row.position_seconds if row else 0.0,
        covered_seconds=row.covered_seconds if row else 0.0,
        duration=duration,
        threshold=completion_threshold(lesson),
        completed=bool(row and row.completed_at),
    )


def open_session(
    user: User, lesson: Lesson, now: datetime | None = None
) -> tuple[PlaybackSession, ProgressState]:
    """Start a playback session; the wall clock for its first report starts now."""
    current = state(user, lesson)
    session = PlaybackSession(
        id=secrets.token_hex(16), user_id=user.id, lesson_id=lesson.id, started_at=now or utcnow()
    )
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


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_position(position: object, duration: float) -> float:
    if not _is_number(position) or not 0 <= position <= duration + DURATION_TOLERANCE:
        raise ProgressError("position must be a number between 0 and the duration")
    return min(float(position), duration)


def validate_played_seconds(played_seconds: object) -> float | None:
    """The player's running total of wall-clock seconds spent playing; None if not sent."""
    if played_seconds is None:
        return None
    if not _is_number(played_seconds) or not 0 <= played_seconds <= MAX_PLAYED_SECONDS:
        raise ProgressError(f"played_seconds must be a number from 0 to {MAX_PLAYED_SECONDS}")
    return float(played_seconds)


def report(
    session: PlaybackSession,
    user: User,
    lesson: Lesson,
    *,
    seq: int,
    position: object,
    played: object,
    played_seconds: object = None,
    now: datetime | None = None,
) -> ProgressState:
    """Credit a report of ``session``. Validates everything before writing anything.

    ``played`` is the session's played intervals of the video and ``played_seconds`` the
    wall-clock seconds the session spent playing (None from players that do not send it).
    A report whose ``seq`` is not above the last one acknowledged (a retry, or one overtaken
    by a later report, which carries the same session totals) earns nothing.
    """
    duration = lesson_duration(lesson)
    reported = validate_intervals(played, duration)
    resume_at = validate_position(position, duration)
    claimed = validate_played_seconds(played_seconds)
    rules = watch_rules(lesson)

    clock = _watch_clock(user, aware(session.started_at))  # serializes this learner's reports
    db.session.refresh(session)  # what a report that held the lock before us wrote
    # The time is read once the lock is ours: a report that waited for it must not stamp the
    # session with an earlier time than the reports credited before it.
    now = now or utcnow()
    row = _progress_row(user, lesson)
    credited = trained = 0.0
    if seq > session.last_seq:
        credited, trained = _credit(session, clock, row, reported, claimed, rules, now, duration)
        _record(session, lesson, seq, now)
        session.last_seq = seq
        session.last_report_at = now
        row.position_seconds = resume_at
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
        credit=Credit(trained, session.training_seconds, session.ledger_seconds),
    )
    db.session.commit()

    if not newly_completed:
        return result
    finish = completion.finish_state(
        user, lesson.module.course, after_lesson_completed(user, lesson, row, now)
    )
    return replace(
        result,
        course_completed=finish.course_completed,
        course_percent=finish.course_percent,
        certificate_code=finish.certificate_code,
    )


def _credit(
    session: PlaybackSession,
    clock: WatchClock,
    row: LessonProgress,
    reported: list[iv.Interval],
    claimed: float | None,
    rules: WatchRules,
    now: datetime,
    duration: float,
) -> tuple[float, float]:
    """Credit one fresh report: (new coverage in video seconds, training seconds).

    The report may use the wall-clock time since the session's previous report (or its
    opening), at most the window — but only time the learner's cursor has not given to
    another report yet; the cursor may run one slack ahead of ``now``, never more, so slack
    does not add up over reports or sessions.
    """
    anchor = aware(session.last_report_at or session.started_at)
    open_for = min(max(0.0, (now - anchor).total_seconds()), rules.window)
    cursor = max(aware(clock.credited_until), now - timedelta(seconds=open_for))
    budget = max(0.0, rules.slack + (now - cursor).total_seconds())
    gained = budget if claimed is None else max(0.0, claimed - session.played_seconds)
    trained = min(budget, gained)
    coverage = iv.merge(tuple(pair) for pair in (row.watched or []))
    allowed = rules.max_rate * min(budget, trained + rules.slack)
    parts = iv.take(iv.subtract(reported, coverage), allowed)
    credited = iv.measure(parts)
    used = max(trained, credited / rules.max_rate)
    if used > 0:
        clock.credited_until = cursor + timedelta(seconds=used)
    if credited > 0:
        coverage = iv.merge([*coverage, *parts])
        row.watched = [[start, end] for start, end in coverage]  # exact: replays stay no-ops
        row.covered_seconds = min(duration, iv.measure(coverage))
        session.credited_seconds += credited
    if claimed is not None:
        session.played_seconds = max(session.played_seconds, claimed)
    session.training_seconds += trained
    return credited, trained


def _watch_clock(user: User, started: datetime) -> WatchClock:
    """The learner's clock, locked: every report of this learner waits for the previous one.

    One upsert takes the lock whether the clock existed or not; on SQLite a write is what
    takes the database's write lock, so the reads that follow see the latest state.
    """
    clock: WatchClock = upsert_returning(
        WatchClock, ["user_id"], user_id=user.id, credited_until=started
    )
    return clock


def _record(session: PlaybackSession, lesson: Lesson, seq: int, now: datetime) -> None:
    """The session's new whole seconds of training time go to the ledger.

    One entry per report that completes a second, keyed by the session and the report's
    ``seq`` (each seq is credited once): the ledger holds ``floor(training_seconds)`` of
    every session, so a session loses less than a second and nothing is rounded to minutes.
    """
    whole = math.floor(session.training_seconds) - session.ledger_seconds
    if whole <= 0:
        return
    course = lesson.module.course
    hours.add(
        key=f"video:{session.id}:{seq}",
        user_id=session.user_id,
        source="video",
        seconds=whole,
        day=hours.local_day(now),
        camp_id=course.camp_id,
        course_id=course.id,
    )
    session.ledger_seconds += whole
