"""Assessments: a course's question bank, quiz lessons, learners' attempts and surveys.

A question's key (its options, accepted answers, tolerance or order) is JSON in ``key``;
its shape per kind is checked by :mod:`lms.services.quiz.bank` and read by the pure grading
functions of :mod:`lms.services.quiz.grading`. An attempt keeps the order the server drew
(``layout``) and the answers saved so far (``answers``); once submitted, each question's
result is a row of ``attempt_items``, which the reports and the item analysis aggregate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import Model
from lms.models._base import Timestamped, current_language, utcnow
from lms.models.accounts import User
from lms.models.catalog import Course, Lesson

QUESTION_KINDS = ("single", "multiple", "truefalse", "short", "numeric", "ordering")
REVIEW_POLICIES = ("after_attempt", "after_pass", "never")
ATTEMPT_STATUSES = ("open", "submitted")
SUBMITTERS = ("learner", "server")


def _localized(row: object, field: str) -> str:
    primary, fallback = ("en", "zh") if current_language() == "en" else ("zh", "en")
    text: str = getattr(row, f"{field}_{primary}") or getattr(row, f"{field}_{fallback}")
    return text


class Question(Timestamped, Model):
    """One question of a course's bank. ``version`` grows with every change of its key."""

    __tablename__ = "questions"
    __table_args__ = (
        CheckConstraint(f"kind IN {QUESTION_KINDS!r}", name="kind"),
        CheckConstraint("points > 0 AND points <= 100", name="points"),
        UniqueConstraint("course_id", "slug"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    # Set for questions a curriculum ships (its key for the next sync); None for the app's.
    slug: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    text_zh: Mapped[str] = mapped_column(Text, default="")
    text_en: Mapped[str] = mapped_column(Text, default="")
    explanation_zh: Mapped[str] = mapped_column(Text, default="")
    explanation_en: Mapped[str] = mapped_column(Text, default="")
    key: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    points: Mapped[float] = mapped_column(Float, default=1.0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    synced: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the quiz pages and services
    # read one attempt, quiz and lesson at a time; not moved to explicit loads yet.
    course: Mapped[Course] = relationship()

    @property
    def text(self) -> str:
        return _localized(self, "text")

    @property
    def explanation(self) -> str:
        return _localized(self, "explanation")


class Quiz(Model):
    """The settings of a quiz lesson: which questions, the pass mark, attempts, time, review.

    Questions are the fixed list ``question_ids`` or, when ``draw_count`` is set, that many
    drawn at random per attempt from the bank's questions tagged with any of ``draw_tags``
    (all questions when empty). With ``mastery_m``/``mastery_n`` set the quiz is passed when
    ``m`` of the learner's last ``n`` answered questions are correct, instead of by a score.
    """

    __tablename__ = "quizzes"
    __table_args__ = (
        CheckConstraint("passing_score >= 0 AND passing_score <= 100", name="passing_score"),
        CheckConstraint("max_attempts IS NULL OR max_attempts >= 1", name="max_attempts"),
        CheckConstraint(
            "time_limit_minutes IS NULL OR time_limit_minutes BETWEEN 1 AND 600", name="time_limit"
        ),
        CheckConstraint(f"review IN {REVIEW_POLICIES!r}", name="review"),
        CheckConstraint("draw_count IS NULL OR draw_count BETWEEN 1 AND 200", name="draw_count"),
        CheckConstraint(
            "(mastery_m IS NULL AND mastery_n IS NULL) OR "
            "(mastery_m >= 1 AND mastery_n <= 100 AND mastery_m <= mastery_n)",
            name="mastery",
        ),
    )

    lesson_id: Mapped[int] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), primary_key=True
    )
    passing_score: Mapped[float] = mapped_column(Float, default=60.0)
    max_attempts: Mapped[int | None] = mapped_column(Integer)
    time_limit_minutes: Mapped[int | None] = mapped_column(Integer)
    review: Mapped[str] = mapped_column(String(20), default="after_attempt")
    question_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    draw_count: Mapped[int | None] = mapped_column(Integer)
    draw_tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    mastery_m: Mapped[int | None] = mapped_column(Integer)
    mastery_n: Mapped[int | None] = mapped_column(Integer)
    shuffle: Mapped[bool] = mapped_column(Boolean, default=True)
    synced: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the quiz pages and services
    # read one attempt, quiz and lesson at a time; not moved to explicit loads yet.
    lesson: Mapped[Lesson] = relationship()

    @property
    def by_mastery(self) -> bool:
        return self.mastery_m is not None


class QuizAttempt(Model):
    """One learner's attempt at a quiz: the server's draw, the answers saved, the result."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        UniqueConstraint("lesson_id", "user_id", "number"),
        CheckConstraint(f"status IN {ATTEMPT_STATUSES!r}", name="status"),
        CheckConstraint(
            f"submitted_by IS NULL OR submitted_by IN {SUBMITTERS!r}", name="submitted_by"
        ),
        CheckConstraint("score IS NULL OR (score >= 0 AND score <= 100)", name="score"),
        Index("ix_quiz_attempts_user_lesson", "user_id", "lesson_id"),
        Index("ix_quiz_attempts_open_deadline", "status", "deadline_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("quizzes.lesson_id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="open")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # [{"question": id, "options": [option ids in the order shown]}, ...]
    layout: Mapped[list[Any]] = mapped_column(JSON)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_by: Mapped[str | None] = mapped_column(String(10))
    earned: Mapped[float | None] = mapped_column(Float)
    max_points: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)  # percent
    passed: Mapped[bool | None] = mapped_column(Boolean)

    # Still lazy (not raise_on_sql, docs/architecture.md#loading): the quiz pages and services
    # read one attempt, quiz and lesson at a time; not moved to explicit loads yet.
    quiz: Mapped[Quiz] = relationship()
    user: Mapped[User] = relationship()
    items: Mapped[list[AttemptItem]] = relationship(order_by="AttemptItem.position")


class AttemptItem(Model):
    """A submitted attempt's result for one question (what the reports aggregate)."""

    __tablename__ = "attempt_items"
    __table_args__ = (
        CheckConstraint("fraction >= 0 AND fraction <= 1", name="fraction"),
        Index("ix_attempt_items_question", "question_id", "attempt_id"),
    )

    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("quiz_attempts.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)
    fraction: Mapped[float] = mapped_column(Float)
    points: Mapped[float] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer)


class AttemptRegrade(Model):
    """The audit of a regrade: a trainer corrected a key and a submitted attempt's score moved."""

    __tablename__ = "attempt_regrades"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("quiz_attempts.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    old_score: Mapped[float] = mapped_column(Float)
    new_score: Mapped[float] = mapped_column(Float)
    old_passed: Mapped[bool] = mapped_column(Boolean)
    new_passed: Mapped[bool] = mapped_column(Boolean)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


SURVEY_QUESTION_KINDS = ("likert", "text")


class Survey(Timestamped, Model):
    """A course evaluation or a live session's feedback form: Likert and free-text questions.

    ``questions`` is ``[{"id", "kind": "likert"|"text", "text_zh", "text_en"}, ...]``.
    """

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("(course_id IS NULL) <> (live_session_id IS NULL)", name="subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), unique=True
    )
    live_session_id: Mapped[int | None] = mapped_column(
        ForeignKey("live_sessions.id", ondelete="CASCADE"), unique=True
    )
    questions: Mapped[list[Any]] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SurveyResponse(Model):
    """One learner's answers to a survey (once each); reports show only aggregates."""

    __tablename__ = "survey_responses"
    __table_args__ = (UniqueConstraint("survey_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
