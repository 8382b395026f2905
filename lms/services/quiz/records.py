"""Quiz results in a learner's training record: per quiz, the attempts, best score and date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func

from lms.extensions import db
from lms.models import Course, Lesson, Module, QuizAttempt
from lms.models._base import aware, current_language


@dataclass(frozen=True)
class QuizRecord:
    course_zh: str
    course_en: str
    quiz_zh: str
    quiz_en: str
    attempts: int
    best: float
    passed: bool
    last_at: datetime

    @property
    def course(self) -> str:
        return (self.course_en or self.course_zh) if current_language() == "en" else self.course_zh

    @property
    def quiz(self) -> str:
        return (self.quiz_en or self.quiz_zh) if current_language() == "en" else self.quiz_zh


def for_learner(user_id: int) -> list[QuizRecord]:
    """Every quiz the learner submitted an attempt of, latest first (one query)."""
    passed = func.max(db.case((QuizAttempt.passed.is_(True), 1), else_=0))
    rows = db.session.execute(
        db.select(
            Course.title_zh,
            Course.title_en,
            Lesson.title_zh,
            Lesson.title_en,
            func.count(QuizAttempt.id),
            func.max(QuizAttempt.score),
            passed,
            func.max(QuizAttempt.submitted_at),
        )
        .join(Lesson, QuizAttempt.lesson_id == Lesson.id)
        .join(Module, Lesson.module_id == Module.id)
        .join(Course, Module.course_id == Course.id)
        .where(QuizAttempt.user_id == user_id, QuizAttempt.status == "submitted")
        .group_by(Lesson.id, Course.title_zh, Course.title_en, Lesson.title_zh, Lesson.title_en)
    ).all()
    records = [
        QuizRecord(
            course_zh, course_en, quiz_zh, quiz_en, int(count), float(best or 0), bool(ok),
            aware(last),
        )
        for course_zh, course_en, quiz_zh, quiz_en, count, best, ok, last in rows
    ]  # fmt: skip
    return sorted(records, key=lambda r: r.last_at, reverse=True)


@dataclass(frozen=True)
class QuizSummary:
    """A person's quizzes at a glance: how many they took and passed, and the mean best score."""

    taken: int
    passed: int
    mean_best: float


def summaries(user_ids: Select[int]) -> dict[int, QuizSummary]:
    """Per user among ``user_ids`` (a query of ids) who submitted any quiz: their summary.

    One query: each person's best score and pass per quiz, then summed per person.
    """
    per_quiz = (
        db.select(
            QuizAttempt.user_id.label("user_id"),
            func.max(QuizAttempt.score).label("best"),
            func.max(db.case((QuizAttempt.passed.is_(True), 1), else_=0)).label("passed"),
        )
        .where(QuizAttempt.user_id.in_(user_ids), QuizAttempt.status == "submitted")
        .group_by(QuizAttempt.user_id, QuizAttempt.lesson_id)
        .subquery()
    )
    rows = db.session.execute(
        db.select(
            per_quiz.c.user_id,
            func.count(),
            func.sum(per_quiz.c.passed),
            func.avg(per_quiz.c.best),
        ).group_by(per_quiz.c.user_id)
    )
    return {
        user_id: QuizSummary(int(taken), int(passed or 0), round(float(mean or 0), 1))
        for user_id, taken, passed, mean in rows
    }
