"""Quizzes a camp ships in its ``curriculum.yaml``, and their sync into the course's bank.

A lesson of kind ``quiz`` carries a ``quiz:`` block: its settings and its questions, each
with a slug (unique in the course), both languages and its answers::

    quiz:
      passing_score: 70
      max_attempts: 3
      questions:
        - slug: cash-first
          kind: single
          text: {zh: "…", en: "…"}
          options:
            - {text: {zh: 现金, en: Cash}, right: true, feedback: {zh: "…", en: "…"}}
            - {text: {zh: 估值, en: Valuation}}

The sync follows the curriculum's rules (:mod:`lms.services.curriculum`): keyed by slugs,
a trainer's change in the app is kept (the question's or the quiz's ``synced`` values tell),
what left the file is archived, never deleted; a changed key regrades submitted attempts.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lms.extensions import db
from lms.models import Lesson, Question
from lms.models._base import utcnow
from lms.services.quiz import bank

SLUG = r"^[a-z0-9][a-z0-9-]{0,98}$"


class BothText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str = Field(min_length=1, max_length=5000)
    en: str = Field(min_length=1, max_length=5000)


class ChoiceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: BothText
    right: bool = False
    feedback: bank.LocalText = bank.LocalText()


class QuestionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(pattern=SLUG)
    kind: Literal["single", "multiple", "truefalse", "short", "numeric", "ordering"]
    text: BothText
    explanation: bank.LocalText = bank.LocalText()
    points: float = Field(default=1.0, gt=0, le=100)
    tags: list[str] = Field(default_factory=list, max_length=bank.MAX_TAGS)
    options: list[ChoiceSpec] = Field(default_factory=list, max_length=bank.MAX_OPTIONS)
    answer: bool | None = None  # true/false
    answers: list[str] = Field(default_factory=list, max_length=20)  # short answer
    value: float | None = Field(default=None, allow_inf_nan=False)  # numeric
    tolerance: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    items: list[BothText] = Field(default_factory=list, max_length=bank.MAX_OPTIONS)

    @model_validator(mode="after")
    def _valid(self) -> QuestionSpec:
        bank.check_question(self.as_question())  # QuestionError is a ValueError: a field error
        return self

    def as_question(self) -> dict[str, Any]:
        """The bank's question dict; option and item ids follow their position, so a resync
        keeps learners' saved answers pointing at the same choice."""
        data: dict[str, Any] = {
            "kind": self.kind,
            "text": self.text.model_dump(),
            "explanation": self.explanation.model_dump(),
            "points": self.points,
            "tags": self.tags,
        }
        if self.kind in ("single", "multiple"):
            options = bank.choice_key(
                [(o.text.zh, o.text.en) for o in self.options],
                [o.right for o in self.options],
                multiple=self.kind == "multiple",
            )
            for index, (option, spec) in enumerate(zip(options, self.options, strict=True)):
                option["id"] = f"o{index + 1}"
                option["feedback"] = spec.feedback.model_dump()
            data["options"] = options
        elif self.kind == "truefalse":
            data["answer"] = self.answer
        elif self.kind == "short":
            data["answers"] = [{"text": text, "fraction": 1.0} for text in self.answers]
        elif self.kind == "numeric":
            if self.value is None or not math.isfinite(self.value):
                raise ValueError("a numeric question needs its value")
            data["answers"] = [{"value": self.value, "tolerance": self.tolerance, "fraction": 1.0}]
        else:
            data["items"] = [
                {"id": f"i{index + 1}", "text": item.model_dump()}
                for index, item in enumerate(self.items)
            ]
        return data


class QuizSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    passing_score: float = Field(default=60.0, ge=0, le=100)
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    time_limit_minutes: int | None = Field(default=None, ge=1, le=600)
    review: Literal["after_attempt", "after_pass", "never"] = "after_attempt"
    draw: int | None = Field(default=None, ge=1, le=200)
    mastery_m: int | None = Field(default=None, ge=1, le=100)
    mastery_n: int | None = Field(default=None, ge=1, le=100)
    shuffle: bool = True
    questions: list[QuestionSpec] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> QuizSpec:
        if (self.mastery_m is None) != (self.mastery_n is None) or (
            self.mastery_m is not None
            and self.mastery_n is not None
            and self.mastery_m > self.mastery_n
        ):
            raise ValueError("mastery: set both mastery_m <= mastery_n, or neither")
        return self

    def settings(self, question_ids: tuple[int, ...]) -> dict[str, Any]:
        return {
            "passing_score": self.passing_score,
            "max_attempts": self.max_attempts,
            "time_limit_minutes": self.time_limit_minutes,
            "review": self.review,
            "question_ids": list(question_ids),
            "draw_count": self.draw,
            "mastery_m": self.mastery_m,
            "mastery_n": self.mastery_n,
            "shuffle": self.shuffle,
        }


def question_slugs(lessons: list[Any]) -> list[str]:
    """Every quiz question slug of a course's lessons (they share the course's bank)."""
    return [q.slug for lesson in lessons if lesson.quiz for q in lesson.quiz.questions]


def _columns(spec: QuestionSpec) -> dict[str, Any]:
    return bank.check_question(spec.as_question())


def sync_quiz(lesson: Lesson, spec: QuizSpec | None, report: Any, label: str) -> None:
    """Bring a quiz lesson's questions and settings in line with the curriculum (no commit).

    ``report`` is the curriculum's :class:`SyncReport`: created, updated and kept local edits
    are counted there like the courses', modules' and lessons'.
    """
    if spec is None or lesson.kind != "quiz":
        return
    db.session.flush()  # the lesson (and a new course) have their ids
    course = lesson.module.course
    existing = {
        q.slug: q
        for q in db.session.scalars(
            db.select(Question).where(Question.course_id == course.id, Question.slug.is_not(None))
        )
    }
    ids = []
    for question_spec in spec.questions:
        values = _columns(question_spec)
        question = existing.get(question_spec.slug)
        if question is None:
            question = bank.add_question(course, question_spec.as_question(), question_spec.slug)
            question.synced = values
            db.session.flush()
            report.created += 1
        else:
            _merge_question(question, values, report, f"{label}/{question_spec.slug}")
        ids.append(question.id)
    _merge_quiz(lesson, spec.settings(tuple(ids)), report, label)


def _merge_question(question: Question, values: dict[str, Any], report: Any, label: str) -> None:
    current = {name: getattr(question, name) for name in values}
    previous = question.synced or {}
    if question.archived_at is not None and previous:
        question.archived_at = None  # back in the curriculum
    if current == values:
        question.synced = values
        return
    if previous and current != previous:
        report.kept_local_edits.append(label)
        return
    key_changed = current["key"] != values["key"] or current["points"] != values["points"]
    for name, value in values.items():
        setattr(question, name, value)
    if key_changed:
        question.version += 1  # the task "regrade quiz attempts" regrades what used the old key
    question.updated_at = utcnow()
    question.synced = values
    report.updated += 1


def _merge_quiz(lesson: Lesson, values: dict[str, Any], report: Any, label: str) -> None:
    quiz = bank.quiz_of(lesson)
    current = {name: getattr(quiz, name) for name in values}
    previous = quiz.synced
    if current == values:
        quiz.synced = values
        return
    if previous is not None and current != previous:
        report.kept_local_edits.append(f"{label}.quiz")
        return
    for name, value in values.items():
        setattr(quiz, name, value)
    quiz.synced = values
    if previous is not None:
        report.updated += 1
