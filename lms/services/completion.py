"""Course completion and certificates."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from lms.database import insert_ignoring_conflicts, rowcount
from lms.extensions import db
from lms.models import Certificate, Course, Enrollment, Lesson, LessonProgress, Module, User
from lms.models._base import utcnow
from lms.models.assessment import QuizAttempt
from lms.services import catalog, loading, notifications
from lms.services.camps import registry

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


@dataclass(frozen=True)
class Finish:
    """What completing a lesson changed for the learner's screen: the course's progress, and
    whether this completion finished the course (then its certificate's code)."""

    course_percent: int
    course_completed: bool = False
    certificate_code: str | None = None


def finish_state(user: User, course: Course, finished: bool) -> Finish:
    """The :class:`Finish` after a lesson of ``course`` was completed (``finished``: that
    completion finished the course, as :func:`after_lesson_completed` answered)."""
    certificate = certificate_for(user, course) if finished else None
    return Finish(
        course_percent=catalog.course_progress(user, course),
        course_completed=finished,
        certificate_code=certificate.code if certificate is not None else None,
    )


def after_lesson_completed(
    user: User, lesson: Lesson, progress: LessonProgress, now: datetime | None = None
) -> bool:
    """Fire the lesson event, then see whether the course is now complete (``now``: when
    the lesson was completed, which a recorded history sets in the past)."""
    loading.set_loaded(progress, "lesson", lesson)
    loading.for_hook(progress)
    registry().call_all("lms_lesson_completed", progress=progress)
    loading.load_path(lesson, "module", "course")
    return check_course(user, lesson.module.course, now)


def required_lessons_done(user: User, course: Course) -> bool:
    """Are all live required lessons of ``course`` completed by ``user``?"""
    completed = select(LessonProgress.lesson_id).where(
        LessonProgress.user_id == user.id, LessonProgress.completed_at.is_not(None)
    )
    missing = db.session.scalar(
        select(func.count(Lesson.id))
        .join(Module, Lesson.module_id == Module.id)
        .where(
            Module.course_id == course.id,
            Module.archived_at.is_(None),
            Lesson.archived_at.is_(None),
            Lesson.required.is_(True),
            Lesson.id.not_in(completed),
        )
    )
    return missing == 0


def check_course(user: User, course: Course, now: datetime | None = None) -> bool:
    """Complete the enrollment and issue the certificate when the course is done, dated
    ``now`` (the present by default).

    Returns True only the first time. A camp may decide through ``lms_course_completion``.
    """
    enrollment = db.session.scalar(
        select(Enrollment).filter_by(user_id=user.id, course_id=course.id)
    )
    if enrollment is None or enrollment.completed_at is not None:
        return False
    _hand_over(enrollment, user, course)
    verdict = registry().call_first("lms_course_completion", enrollment=enrollment)
    done = verdict if isinstance(verdict, bool) else required_lessons_done(user, course)
    if not done:
        return False
    now = now or utcnow()
    updated = rowcount(
        db.session.execute(
            update(Enrollment)
            .where(Enrollment.id == enrollment.id, Enrollment.completed_at.is_(None))
            .values(status="completed", completed_at=now)
        )
    )
    minutes = db.session.scalar(
        select(func.coalesce(func.sum(Lesson.minutes), 0))
        .join(Module, Lesson.module_id == Module.id)
        .where(Module.course_id == course.id, Lesson.archived_at.is_(None))
    )
    insert_ignoring_conflicts(
        Certificate,
        ["user_id", "course_id"],
        code=new_code(),
        user_id=user.id,
        course_id=course.id,
        issued_at=now,
        learner_name=user.name,
        course_title_zh=course.title_zh,
        course_title_en=course.title_en,
        camp_title_zh=loading.load(course, "camp").title_zh,
        camp_title_en=course.camp.title_en,
        minutes=minutes,
    )
    notifications.on_certificate(user.id, course.id)
    db.session.commit()
    if updated != 1:
        return False
    db.session.refresh(enrollment)
    _hand_over(enrollment, user, course)
    registry().call_all("lms_course_completed", enrollment=enrollment)
    return True


def _hand_over(enrollment: Enrollment, user: User, course: Course) -> None:
    """The enrollment as hooks receive it: its user, and its course with the camp."""
    loading.set_loaded(enrollment, "user", user)
    loading.set_loaded(enrollment, "course", course)
    loading.for_hook(enrollment)


def certificate_for(user: User, course: Course) -> Certificate | None:
    return db.session.scalar(select(Certificate).filter_by(user_id=user.id, course_id=course.id))


def finished_by(attempt: QuizAttempt, course: Course) -> Certificate | None:
    """The certificate of ``course`` when its learner finished it with ``attempt`` (passed,
    and the course completed at its submission or later): the result page congratulates."""
    if not attempt.passed or attempt.submitted_at is None:
        return None
    return db.session.scalar(
        select(Certificate)
        .join(
            Enrollment,
            (Enrollment.user_id == Certificate.user_id)
            & (Enrollment.course_id == Certificate.course_id),
        )
        .where(
            Certificate.user_id == attempt.user_id,
            Certificate.course_id == course.id,
            Enrollment.completed_at >= attempt.submitted_at,
        )
    )


def find_certificate(code: str) -> Certificate | None:
    code = code.strip().upper()
    if len(code) != 14:
        return None
    return db.session.scalar(select(Certificate).filter_by(code=code))
