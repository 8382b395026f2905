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
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any, TypeGuard, cast

from flask import current_app
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from lms.database import dialect_insert
from lms.extensions import db
from lms.models import (
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Module,
    PlaybackSession,
    User,
    WatchClock,
)
from lms.models._base import aware, utcnow
from lms.services import catalog, completion, hours
from lms.services import intervals as iv
from lms.services.camps import registry
from lms.services.completion import after_lesson_completed
from lms.services.errors import Invalid, NotFound
from lms.services.lessons import completion_threshold

MAX_INTERVALS = 500
SESSION_ID = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16)
# Players report positions a little past the probed duration (container rounding).
DURATION_TOLERANCE = 0.5
DEFAULT_MAX_RATE = 2.0
MAX_RATE_RANGE = (1.0, 4.0)  # what lms_max_playback_rate may set
# A playback session's played_seconds above this (a week) is not a number a player sends.
MAX_PLAYED_SECONDS = 7 * 24 * 3600


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


# The report's statements, built once (the hot path of a playing video: no statement is
# constructed per report). Executed on the session's connection, in its transaction.
_SESSIONS = cast(Table, PlaybackSession.__table__)
_PROGRESS = cast(Table, LessonProgress.__table__)
_CLOCKS = cast(Table, WatchClock.__table__)
_ENROLLMENTS = cast(Table, Enrollment.__table__)
_LESSONS = cast(Table, Lesson.__table__)
_MODULES = cast(Table, Module.__table__)
_COURSES = cast(Table, Course.__table__)

# A learner's playback session: its lesson, course and camp, when it started, and whether
# the learner is enrolled in the course (one statement, before any lock).
_FIND_SESSION = (
    select(
        _SESSIONS.c.lesson_id,
        _SESSIONS.c.started_at,
        _MODULES.c.course_id,
        _COURSES.c.camp_id,
        _ENROLLMENTS.c.id.is_not(None).label("enrolled"),
    )
    .select_from(
        _SESSIONS.join(_LESSONS, _LESSONS.c.id == _SESSIONS.c.lesson_id)
        .join(_MODULES, _MODULES.c.id == _LESSONS.c.module_id)
        .join(_COURSES, _COURSES.c.id == _MODULES.c.course_id)
        .outerjoin(
            _ENROLLMENTS,
            (_ENROLLMENTS.c.course_id == _MODULES.c.course_id)
            & (_ENROLLMENTS.c.user_id == _SESSIONS.c.user_id),
        )
    )
    .where(_SESSIONS.c.id == bindparam("session_id"), _SESSIONS.c.user_id == bindparam("user_id"))
)
# The session's totals and the learner's progress in its lesson (if any yet), read once the
# learner's clock is locked: that lock serializes every write of a video lesson's progress.
_SESSION_TOTALS = (
    select(
        _SESSIONS.c.last_report_at,
        _SESSIONS.c.last_seq,
        _SESSIONS.c.credited_seconds,
        _SESSIONS.c.played_seconds,
        _SESSIONS.c.training_seconds,
        _SESSIONS.c.ledger_seconds,
        _PROGRESS.c.position_seconds,
        _PROGRESS.c.watched,
        _PROGRESS.c.covered_seconds,
        _PROGRESS.c.completed_at,
    )
    .select_from(
        _SESSIONS.outerjoin(
            _PROGRESS,
            (_PROGRESS.c.user_id == _SESSIONS.c.user_id)
            & (_PROGRESS.c.lesson_id == _SESSIONS.c.lesson_id),
        )
    )
    .where(_SESSIONS.c.id == bindparam("session_id"))
)
_SAVE_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.id == bindparam("session_id"))
    .values(
        last_report_at=bindparam("new_last_report_at"),
        last_seq=bindparam("new_last_seq"),
        credited_seconds=bindparam("new_credited_seconds"),
        played_seconds=bindparam("new_played_seconds"),
        training_seconds=bindparam("new_training_seconds"),
        ledger_seconds=bindparam("new_ledger_seconds"),
    )
)
_SAVE_CLOCK = (
    update(_CLOCKS)
    .where(_CLOCKS.c.user_id == bindparam("b_user_id"))
    .values(credited_until=bindparam("new_credited_until", type_=_CLOCKS.c.credited_until.type))
)


def _lock_clock_statement(dialect: str) -> Any:
    """The learner's watch clock, created at the session's start if missing, and locked:
    ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` takes the row's lock on PostgreSQL (and the
    database's write lock on SQLite) whether the row existed or not."""
    insert = dialect_insert(dialect)(_CLOCKS).values(
        user_id=bindparam("b_user_id"), credited_until=bindparam("b_started_at")
    )
    return insert.on_conflict_do_update(
        index_elements=["user_id"], set_={"user_id": insert.excluded.user_id}
    ).returning(_CLOCKS.c.credited_until)


def _save_progress_statement(dialect: str) -> Any:
    """The learner's progress in the lesson, written (created if missing); its completion, once
    set, stays. Returns the row's id."""
    insert = dialect_insert(dialect)(_PROGRESS)
    insert = insert.values(
        user_id=bindparam("b_user_id"),
        lesson_id=bindparam("b_lesson_id"),
        position_seconds=bindparam("new_position_seconds"),
        watched=bindparam("new_watched", type_=_PROGRESS.c.watched.type),
        covered_seconds=bindparam("new_covered_seconds"),
        completed_at=bindparam("new_completed_at", type_=_PROGRESS.c.completed_at.type),
        updated_at=bindparam("b_now", type_=_PROGRESS.c.updated_at.type),
    )
    excluded = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=["user_id", "lesson_id"],
        set_={
            "position_seconds": excluded.position_seconds,
            "watched": excluded.watched,
            "covered_seconds": excluded.covered_seconds,
            "completed_at": func.coalesce(_PROGRESS.c.completed_at, excluded.completed_at),
            "updated_at": excluded.updated_at,
        },
    ).returning(_PROGRESS.c.id)


_DIALECTS = ("sqlite", "postgresql")
_LOCK_CLOCK = {dialect: _lock_clock_statement(dialect) for dialect in _DIALECTS}
_SAVE_PROGRESS = {dialect: _save_progress_statement(dialect) for dialect in _DIALECTS}


@dataclass(frozen=True)
class Playback:
    """A learner's playback session, as a report finds it: which lesson (and its course and
    camp) it plays, when it opened, and whether the learner is enrolled in the course."""

    session_id: str
    user_id: int
    lesson_id: int
    course_id: int
    camp_id: int
    started_at: datetime
    enrolled: bool


@dataclass
class _Totals:
    """The playback session's running totals, read under the learner's lock."""

    last_report_at: datetime | None
    last_seq: int
    credited_seconds: float
    played_seconds: float
    training_seconds: float
    ledger_seconds: int


@dataclass
class _Progress:
    """The learner's progress in the lesson (zero before the first report)."""

    position_seconds: float
    watched: list[Any] | None
    covered_seconds: float
    completed_at: datetime | None


def _written(row: _Totals | _Progress) -> dict[str, Any]:
    """A row's new values as the ``new_<field>`` parameters of the statement that writes it
    (a shallow read of its fields: ``asdict`` would deep-copy the coverage list)."""
    return {f"new_{column.name}": getattr(row, column.name) for column in fields(row)}


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


def find_session(session_id: str, user: User) -> Playback | None:
    """``user``'s playback session ``session_id`` with its lesson, or None (also for an id
    that is not one :func:`open_session` hands out)."""
    # Other strings (a NUL byte, which PostgreSQL refuses in a query) never reach the database.
    if not (isinstance(session_id, str) and SESSION_ID.fullmatch(session_id)):
        return None
    found = (
        db.session.connection()
        .execute(_FIND_SESSION, {"session_id": session_id, "user_id": user.id})
        .first()
    )
    if found is None:
        return None
    lesson_id, started_at, course_id, camp_id, enrolled = found
    return Playback(
        session_id, user.id, lesson_id, course_id, camp_id, aware(started_at), bool(enrolled)
    )


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
    playback: Playback,
    user: User,
    lesson: Lesson,
    *,
    seq: int,
    position: object,
    played: object,
    played_seconds: object = None,
    now: datetime | None = None,
) -> ProgressState:
    """Credit a report of the playback session ``playback`` (:func:`find_session`) of
    ``lesson``. Validates everything before writing anything.

    ``played`` is the session's played intervals of the video and ``played_seconds`` the
    wall-clock seconds the session spent playing (None from players that do not send it).
    A report whose ``seq`` is not above the last one acknowledged (a retry, or one overtaken
    by a later report, which carries the same session totals) earns nothing.

    ``lesson`` is only read (its media, and the camp's rules through the hooks): it may be an
    object the process keeps, shared by requests. Pre-built statements, five in the common
    case: the clock's lock, the session's totals with the learner's progress, and the writes
    of the clock, the session and the progress.
    """
    if lesson.id != playback.lesson_id:
        raise ValueError(f"lesson {lesson.id} is not the lesson of the playback session")
    duration = lesson_duration(lesson)
    reported = validate_intervals(played, duration)
    resume_at = validate_position(position, duration)
    claimed = validate_played_seconds(played_seconds)
    rules = watch_rules(lesson)
    threshold = completion_threshold(lesson)

    connection = db.session.connection()
    dialect = connection.dialect.name
    learner = {"b_user_id": playback.user_id}
    session = {"session_id": playback.session_id}
    # The learner's clock, locked: every report of this learner waits for the previous one.
    # On SQLite this first write takes the database's write lock, so what follows is current.
    credited_until = aware(
        connection.execute(
            _LOCK_CLOCK[dialect], {**learner, "b_started_at": playback.started_at}
        ).scalar_one()
    )
    # What a report that held the lock before us wrote.
    found = connection.execute(_SESSION_TOTALS, session).one()
    totals = _Totals(*found[:6])
    position_seconds, watched, covered_seconds, completed_at = found[6:]
    row = _Progress(position_seconds or 0.0, watched, covered_seconds or 0.0, completed_at)
    # The time is read once the lock is ours: a report that waited for it must not stamp the
    # session with an earlier time than the reports credited before it.
    now = now or utcnow()
    credited = trained = 0.0
    fresh = seq > totals.last_seq
    if fresh:
        credited, trained, clock_moved_to = _credit(
            playback, totals, credited_until, row, reported, claimed, rules, now, duration
        )
        if clock_moved_to is not None:
            connection.execute(_SAVE_CLOCK, {**learner, "new_credited_until": clock_moved_to})
        _record(playback, totals, seq, now)
        totals.last_seq, totals.last_report_at = seq, now
        row.position_seconds = resume_at
        connection.execute(_SAVE_SESSION, {**session, **_written(totals)})

    newly_completed = row.completed_at is None and row.covered_seconds >= threshold * duration
    if newly_completed:
        row.completed_at = now
    written = {**learner, "b_lesson_id": playback.lesson_id, "b_now": now, **_written(row)}
    progress_id = connection.execute(_SAVE_PROGRESS[dialect], written).scalar_one()
    result = ProgressState(
        position=row.position_seconds,
        covered_seconds=row.covered_seconds,
        duration=duration,
        threshold=threshold,
        completed=row.completed_at is not None,
        credited=credited,
        credit=Credit(trained, totals.training_seconds, totals.ledger_seconds),
    )
    db.session.commit()

    if not newly_completed:
        return result
    finish = _completed(user, playback.lesson_id, progress_id, now)
    return replace(
        result,
        course_completed=finish.course_completed,
        course_percent=finish.course_percent,
        certificate_code=finish.certificate_code,
    )


def _completed(user: User, lesson_id: int, progress_id: int, now: datetime) -> completion.Finish:
    """After the report that completed the lesson: the lesson event, and the course's
    completion — with the lesson and the progress row loaded in this request's session (the
    hooks receive ORM objects, and the lesson of the report may be one the process keeps)."""
    access = catalog.lesson_access(lesson_id, user)
    row = db.session.get(LessonProgress, progress_id)
    if access is None or row is None:  # archived or hidden since the report began
        raise NotFound("this lesson is no longer available")
    lesson = access.lesson
    set_committed_value(row, "lesson", lesson)
    course = lesson.module.course
    return completion.finish_state(user, course, after_lesson_completed(user, lesson, row, now))


def _credit(
    playback: Playback,
    totals: _Totals,
    credited_until: datetime,
    row: _Progress,
    reported: list[iv.Interval],
    claimed: float | None,
    rules: WatchRules,
    now: datetime,
    duration: float,
) -> tuple[float, float, datetime | None]:
    """Credit one fresh report: (new coverage in video seconds, training seconds, where the
    learner's clock moves to or None). Updates ``totals`` and ``row``.

    The report may use the wall-clock time since the session's previous report (or its
    opening), at most the window — but only time the learner's cursor has not given to
    another report yet; the cursor may run one slack ahead of ``now``, never more, so slack
    does not add up over reports or sessions.
    """
    anchor = aware(totals.last_report_at) if totals.last_report_at else playback.started_at
    open_for = min(max(0.0, (now - anchor).total_seconds()), rules.window)
    cursor = max(credited_until, now - timedelta(seconds=open_for))
    budget = max(0.0, rules.slack + (now - cursor).total_seconds())
    gained = budget if claimed is None else max(0.0, claimed - totals.played_seconds)
    trained = min(budget, gained)
    coverage = iv.merge(tuple(pair) for pair in (row.watched or []))
    allowed = rules.max_rate * min(budget, trained + rules.slack)
    parts = iv.take(iv.subtract(reported, coverage), allowed)
    credited = iv.measure(parts)
    used = max(trained, credited / rules.max_rate)
    moved_to = cursor + timedelta(seconds=used) if used > 0 else None
    if credited > 0:
        coverage = iv.merge([*coverage, *parts])
        row.watched = [[start, end] for start, end in coverage]  # exact: replays stay no-ops
        row.covered_seconds = min(duration, iv.measure(coverage))
        totals.credited_seconds += credited
    if claimed is not None:
        totals.played_seconds = max(totals.played_seconds, claimed)
    totals.training_seconds += trained
    return credited, trained, moved_to


def _record(playback: Playback, totals: _Totals, seq: int, now: datetime) -> None:
    """The session's new whole seconds of training time go to the ledger.

    One entry per report that completes a second, keyed by the session and the report's
    ``seq`` (each seq is credited once): the ledger holds ``floor(training_seconds)`` of
    every session, so a session loses less than a second and nothing is rounded to minutes.
    """
    whole = math.floor(totals.training_seconds) - totals.ledger_seconds
    if whole <= 0:
        return
    hours.add(
        key=f"video:{playback.session_id}:{seq}",
        user_id=playback.user_id,
        source="video",
        seconds=whole,
        day=hours.local_day(now),
        camp_id=playback.camp_id,
        course_id=playback.course_id,
    )
    totals.ledger_seconds += whole
