"""The learner's dashboard: where to continue, what is coming, what is due, what was earned.

:func:`build` gathers it in a fixed number of statements, however many courses, lessons,
sessions and certificates the learner has (``tests/test_dashboard.py`` counts them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import bindparam, select
from sqlalchemy.orm import contains_eager

from lms.extensions import db
from lms.models import (
    Certificate,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    LiveSession,
    MediaAsset,
    Module,
    Registration,
    User,
)
from lms.models._base import utcnow
from lms.services import catalog, hours, plans
from lms.services.camps import visible_camps

UPCOMING_SESSIONS = 5
CERTIFICATES_SHOWN = 6
ASSIGNMENTS_SHOWN = 5
# A saved position this close to the start or the end is no place to resume at.
RESUME_MARGIN = 2.0


@dataclass(frozen=True)
class Resume:
    """The lesson to continue with, and where in its video."""

    lesson: Lesson
    course: Course
    position: float  # seconds into the video; 0 to start from the beginning
    completed: bool  # every lesson of the course is complete: this is the last one touched

    @property
    def duration(self) -> float | None:
        media = self.lesson.media
        return float(media.duration_seconds) if media and media.duration_seconds else None

    @property
    def percent(self) -> int:
        """How far into the video the saved position is, 0..100."""
        duration = self.duration
        return min(100, round(100 * self.position / duration)) if duration else 0


@dataclass(frozen=True)
class ChartBar:
    label: str
    sublabel: str  # the year, under the first month and under each January
    value: float
    title: str
    cls: str


@dataclass
class Dashboard:
    cards: list[catalog.CourseCard]
    months: list[hours.MonthHours]
    target: int
    camp_months: list[hours.CampMonth]
    assignments: list[plans.MyAssignment]
    resume: Resume | None
    sessions: list[tuple[LiveSession, Registration]]
    certificates: list[Certificate]
    ticks: list[float] = field(default_factory=list)

    @property
    def this_month(self) -> hours.MonthHours:
        return self.months[-1]

    @property
    def month_percent(self) -> int:
        """This month's hours against the target: the archive's and the reports' number."""
        return hours.percent_of_target(self.this_month.seconds, self.target)

    @property
    def chart_key(self) -> tuple[object, ...]:
        """All the hours chart is drawn from (with the language): learners whose numbers are
        the same share one rendering of it (:func:`lms.cache.layout_fragment`)."""
        met = 3600 * self.target if self.target else None  # a month's seconds meeting it
        months = tuple(
            (m.year, m.month, m.hours, met is not None and m.seconds >= met) for m in self.months
        )
        return (self.target, tuple(self.ticks), months)

    @property
    def bars(self) -> list[ChartBar]:
        bars = []
        for index, month in enumerate(self.months):
            bars.append(
                ChartBar(
                    label=str(month.month),
                    sublabel=str(month.year) if index == 0 or month.month == 1 else "",
                    value=month.hours,
                    title=f"{month.year}-{month.month:02d}: " + _("%(hours)s h", hours=month.hours),
                    cls="met" if self.target and month.seconds >= 3600 * self.target else "",
                )
            )
        return bars


def axis_ticks(top: float, most: int = 5) -> list[float]:
    """Round values for an axis from 0 to at least ``top``: steps of 1, 2 or 5 times a power of
    ten, at most ``most`` steps (``axis_ticks(12)`` is 0, 5, 10, 15)."""
    if not math.isfinite(top) or top <= 0:
        return [0, 1]
    rough = top / most
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= rough)
    count = math.ceil(top / step - 1e-9)
    return [round(step * i, 6) for i in range(count + 1)]


def build(user: User, now: datetime | None = None) -> Dashboard:
    """Everything the dashboard shows for ``user``."""
    now = now or utcnow()
    camps = visible_camps()
    camp_ids = [camp.id for camp in camps]
    months = hours.monthly(user.id, today=hours.local_day(now))
    target = hours.target_hours(user)
    board = Dashboard(
        cards=catalog.my_courses(user, camps=camps),
        months=months,
        target=target,
        camp_months=hours.month_by_camp(user.id, today=hours.local_day(now)),
        assignments=plans.first_for_learner(user, ASSIGNMENTS_SHOWN),
        resume=resume(user, camp_ids),
        sessions=upcoming_sessions(user, camp_ids, now),
        certificates=certificates(user),
    )
    board.ticks = axis_ticks(max([target, *(m.hours for m in months)]))
    return board


# Built once, with the learner and the rest as parameters: building a statement costs more
# than running it.
#
# The learner's latest progress in a live lesson: the lesson's id, the saved position and
# whether it is complete. Columns only: the lesson comes from catalog.published_lesson, which
# the process keeps with its module, course, camp and media.
_LAST_PROGRESS = (
    catalog.on_live_path(
        select(
            LessonProgress.lesson_id, LessonProgress.position_seconds, LessonProgress.completed_at
        ).join(Lesson, LessonProgress.lesson_id == Lesson.id),
        load=False,
    )
    .join(
        Enrollment,
        (Enrollment.course_id == Course.id) & (Enrollment.user_id == bindparam("user_id")),
    )
    .where(
        LessonProgress.user_id == bindparam("user_id"),
        Course.status == "published",
        Course.camp_id.in_(bindparam("camp_ids", expanding=True)),
    )
    .order_by(LessonProgress.updated_at.desc(), LessonProgress.id.desc())
    .limit(1)
)
_FIRST_OPEN_LESSON = (
    select(Lesson, LessonProgress)
    .join(Lesson.module)
    .outerjoin(
        LessonProgress,
        (LessonProgress.lesson_id == Lesson.id) & (LessonProgress.user_id == bindparam("user_id")),
    )
    .outerjoin(Lesson.media)
    .where(
        Module.course_id == bindparam("course_id"),
        Module.archived_at.is_(None),
        Lesson.archived_at.is_(None),
        LessonProgress.completed_at.is_(None),
    )
    .options(contains_eager(Lesson.media))
    .order_by(Module.position, Module.id, Lesson.position, Lesson.id)
    .limit(1)
)
_UPCOMING_SESSIONS = (
    select(Registration, LiveSession)
    .join(LiveSession, Registration.session_id == LiveSession.id)
    .where(
        Registration.user_id == bindparam("user_id"),
        Registration.status.in_(("registered", "waitlisted")),
        LiveSession.ends_at > bindparam("now"),
        LiveSession.camp_id.is_(None)
        | LiveSession.camp_id.in_(bindparam("camp_ids", expanding=True)),
    )
    .order_by(LiveSession.starts_at, LiveSession.id)
    .limit(UPCOMING_SESSIONS)
)
_CERTIFICATES = (
    select(Certificate)
    .where(Certificate.user_id == bindparam("user_id"))
    .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
    .limit(CERTIFICATES_SHOWN)
)


def _last_lesson(user: User, camp_ids: list[int]) -> tuple[Lesson, float | None, bool] | None:
    """The lesson the learner last made progress in, in a course they may still study: the
    lesson, the saved position, whether it is complete."""
    row = db.session.execute(_LAST_PROGRESS, {"user_id": user.id, "camp_ids": camp_ids}).first()
    if row is None:
        return None
    lesson = catalog.published_lesson(row.lesson_id)
    return None if lesson is None else (lesson, row.position_seconds, row.completed_at is not None)


def _first_open_lesson(user: User, course: Course) -> tuple[Lesson, LessonProgress | None] | None:
    """The first lesson of ``course``, in syllabus order, the learner has not completed."""
    params = {"user_id": user.id, "course_id": course.id}
    row = db.session.execute(_FIRST_OPEN_LESSON, params).first()
    return None if row is None else (row[0], row[1])


def resume(user: User, camp_ids: list[int]) -> Resume | None:
    """Where to continue: the lesson last worked on at its saved position; when that lesson is
    complete, the course's first lesson not complete yet (from its start, or where it was left).
    Two statements at most (the lesson itself is one the process keeps)."""
    if not camp_ids:
        return None
    found = _last_lesson(user, camp_ids)
    if found is None:
        return None
    lesson, saved, completed = found
    course = lesson.module.course
    if not completed:
        return Resume(lesson, course, _position(lesson, saved), completed=False)
    following = _first_open_lesson(user, course)
    if following is None:
        return Resume(lesson, course, 0.0, completed=True)
    open_lesson, open_row = following
    saved = open_row.position_seconds if open_row is not None else None
    return Resume(open_lesson, course, _position(open_lesson, saved), completed=False)


def _position(lesson: Lesson, saved: float | None) -> float:
    """The saved video position worth resuming at (0: from the start)."""
    media: MediaAsset | None = lesson.media
    if saved is None or lesson.kind != "video" or media is None or not media.duration_seconds:
        return 0.0
    position = float(saved)
    if position < RESUME_MARGIN or position > media.duration_seconds - RESUME_MARGIN:
        return 0.0
    return position


def upcoming_sessions(
    user: User, camp_ids: list[int], now: datetime
) -> list[tuple[LiveSession, Registration]]:
    """The live sessions the learner holds a seat or a waitlist place for that have not ended,
    soonest first (cancelled ones too, so the learner learns of it here)."""
    params = {"user_id": user.id, "now": now, "camp_ids": camp_ids}
    return [
        (session, registration)
        for registration, session in db.session.execute(_UPCOMING_SESSIONS, params)
    ]


def certificates(user: User) -> list[Certificate]:
    """The learner's certificates, newest first (their titles are a snapshot: no joins)."""
    return list(db.session.scalars(_CERTIFICATES, {"user_id": user.id}))
