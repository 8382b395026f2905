"""A course's question bank and the settings of its quiz lessons.

Every question is checked here whichever way it arrives (the editor, a GIFT import, a
curriculum): :func:`check_question` turns a plain dict into the stored shape or raises
:class:`QuestionError` naming what is wrong. Changing a question's key raises its
``version`` and regrades the submitted attempts that used it (:mod:`.attempts`).
"""

from __future__ import annotations

import math
import random
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from lms.extensions import db
from lms.models import Course, Lesson, Question, Quiz
from lms.models._base import utcnow
from lms.services import loading
from lms.services.errors import DomainError, Invalid, NotFound
from lms.services.quiz.grading import choice_fractions

MAX_OPTIONS = 20
MAX_TAGS = 10
TAG = re.compile(r"^[\w\-. ]{1,40}$")
OPTION_ID = r"^[a-z0-9]{1,20}$"


class QuestionError(Invalid):
    """The question is not valid; the message says why."""


class NotAQuiz(NotFound, LookupError):
    """The lesson is not a quiz lesson (a 404 where a quiz was asked for); ``lesson_id`` says
    which. Also a :class:`LookupError`, its base before the error vocabulary."""

    def __init__(self, lesson_id: int) -> None:
        super().__init__(f"lesson {lesson_id} is not a quiz")
        self.lesson_id = lesson_id


class LocalText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zh: str = Field(default="", max_length=5000)
    en: str = Field(default="", max_length=5000)


class _Fraction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fraction: float = Field(default=1.0, ge=-1, le=1, allow_inf_nan=False)
    feedback: LocalText = LocalText()


class OptionSpec(_Fraction):
    id: str = Field(pattern=OPTION_ID)
    text: LocalText


class ShortSpec(_Fraction):
    text: str = Field(min_length=1, max_length=200)


class NumericSpec(_Fraction):
    value: float = Field(allow_inf_nan=False, ge=-1e12, le=1e12)
    tolerance: float = Field(default=0.0, ge=0, le=1e12, allow_inf_nan=False)


class ItemSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=OPTION_ID)
    text: LocalText


class QuestionSpec(BaseModel):
    """A question as a plain dict: what the editor, GIFT and curricula produce."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    text: LocalText
    explanation: LocalText = LocalText()
    points: float = Field(default=1.0, gt=0, le=100, allow_inf_nan=False)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    options: list[OptionSpec] = Field(default_factory=list, max_length=MAX_OPTIONS)
    answers: list[dict[str, Any]] = Field(default_factory=list, max_length=50)
    answer: bool | None = None
    feedback_true: LocalText = LocalText()
    feedback_false: LocalText = LocalText()
    items: list[ItemSpec] = Field(default_factory=list, max_length=MAX_OPTIONS)

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        cleaned = sorted({tag.strip() for tag in tags if tag.strip()})
        for tag in cleaned:
            if not TAG.fullmatch(tag):
                raise ValueError(f"invalid tag {tag!r}")
        return cleaned


def _error(exc: ValidationError) -> QuestionError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return QuestionError(f"{where}: {first['msg']}" if where else first["msg"])


def check_question(data: dict[str, Any]) -> dict[str, Any]:
    """The question's stored columns (``kind``, texts, ``key``, ``tags``, ``points``)."""
    kind = data.get("kind")
    try:
        spec = QuestionSpec.model_validate(data)
        if kind == "short":
            answers = [ShortSpec.model_validate(a).model_dump() for a in spec.answers]
        elif kind == "numeric":
            answers = [NumericSpec.model_validate(a).model_dump() for a in spec.answers]
        else:
            answers = []
    except ValidationError as exc:
        raise _error(exc) from exc
    if not (spec.text.zh.strip() or spec.text.en.strip()):
        raise QuestionError("text: the question needs a text")
    key = _key(kind, spec, answers)
    return {
        "kind": kind,
        "text_zh": spec.text.zh,
        "text_en": spec.text.en,
        "explanation_zh": spec.explanation.zh,
        "explanation_en": spec.explanation.en,
        "points": spec.points,
        "tags": spec.tags,
        "key": key,
    }


def _key(kind: Any, spec: QuestionSpec, answers: list[dict[str, Any]]) -> dict[str, Any]:
    if kind in ("single", "multiple"):
        options = [option.model_dump() for option in spec.options]
        if len(options) < 2:
            raise QuestionError("options: a choice question needs at least two options")
        if len({o["id"] for o in options}) != len(options):
            raise QuestionError("options: option ids must differ")
        fractions = [o["fraction"] for o in options]
        if kind == "single":
            if min(fractions) < 0 or not math.isclose(max(fractions), 1.0):
                raise QuestionError("options: one option must be fully right (100 %)")
        elif not math.isclose(sum(f for f in fractions if f > 0), 1.0, abs_tol=1e-4):
            raise QuestionError("options: the right options' shares must add up to 100 %")
        return {"options": options}
    if kind == "truefalse":
        if spec.answer is None:
            raise QuestionError("answer: true or false")
        return {
            "answer": spec.answer,
            "feedback_true": spec.feedback_true.model_dump(),
            "feedback_false": spec.feedback_false.model_dump(),
        }
    if kind in ("short", "numeric"):
        if not answers:
            raise QuestionError("answers: at least one accepted answer")
        if any(a["fraction"] <= 0 for a in answers) or not math.isclose(
            max(a["fraction"] for a in answers), 1.0
        ):
            raise QuestionError("answers: one answer must be fully right (100 %)")
        return {"answers": answers}
    if kind == "ordering":
        items = [item.model_dump() for item in spec.items]
        if len(items) < 2:
            raise QuestionError("items: an ordering question needs at least two items")
        if len({i["id"] for i in items}) != len(items):
            raise QuestionError("items: item ids must differ")
        return {"items": items}
    raise QuestionError(f"kind: unknown question kind {kind!r}")


def new_id() -> str:
    return secrets.token_hex(4)


def choice_key(
    texts: list[tuple[str, str]], correct: list[bool], multiple: bool
) -> list[dict[str, Any]]:
    """Options with fresh ids and default fractions, from (zh, en) texts and correct flags."""
    fractions = choice_fractions(correct, multiple)
    return [
        {"id": new_id(), "text": {"zh": zh, "en": en}, "fraction": fraction}
        for (zh, en), fraction in zip(texts, fractions, strict=True)
    ]


def as_spec(question: Question) -> dict[str, Any]:
    """A stored question as the plain dict :func:`check_question` reads (for editing, GIFT)."""
    data: dict[str, Any] = {
        "kind": question.kind,
        "text": {"zh": question.text_zh, "en": question.text_en},
        "explanation": {"zh": question.explanation_zh, "en": question.explanation_en},
        "points": question.points,
        "tags": list(question.tags or []),
    }
    data.update(question.key)
    return data


# -- the bank ------------------------------------------------------------------------------


def questions_of(course: Course, tag: str | None = None) -> list[Question]:
    """The course's live questions, newest last; only those tagged ``tag`` when given."""
    found = db.session.scalars(
        select(Question)
        .where(Question.course_id == course.id, Question.archived_at.is_(None))
        .order_by(Question.id)
    ).all()
    return [q for q in found if tag is None or tag in (q.tags or [])]


def tags_of(course: Course) -> list[str]:
    return sorted({tag for q in questions_of(course) for tag in q.tags or []})


def question_of(course: Course, question_id: int) -> Question | None:
    question = db.session.get(Question, question_id)
    if question is None or question.course_id != course.id or question.archived_at is not None:
        return None
    return question


def live_question(question_id: int) -> Question | None:
    """The bank's question with this id; None once it left the bank, and for one that does
    not exist."""
    question = db.session.get(Question, question_id)
    return question if question is not None and question.archived_at is None else None


def add_question(course: Course, data: dict[str, Any], slug: str | None = None) -> Question:
    """A new question of ``course``'s bank (not committed)."""
    question = Question(course_id=course.id, slug=slug, **check_question(data))
    db.session.add(question)
    return question


def add_questions(course: Course, specs: Iterable[dict[str, Any]]) -> list[Question]:
    """Add questions to ``course``'s bank, all of them or none (a refused one raises with
    nothing written). Commits."""
    try:
        added = [add_question(course, spec) for spec in specs]
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    return added


def update_question(question: Question, data: dict[str, Any]) -> bool:
    """Apply new values (not committed); True when the key changed (a regrade is due)."""
    values = check_question(data)
    if values["kind"] != question.kind:
        raise QuestionError("kind: a question keeps its kind; add a new question instead")
    key_changed: bool = values["key"] != question.key or values["points"] != question.points
    for name, value in values.items():
        setattr(question, name, value)
    if key_changed:
        question.version += 1
    question.updated_at = utcnow()
    return key_changed


def archive_question(question: Question) -> None:
    """Out of the bank (and of the quizzes that list it); past attempts keep their results."""
    question.archived_at = utcnow()


def withdraw_question(question: Question) -> None:
    """Take the question out of the bank (:func:`archive_question`) and commit."""
    archive_question(question)
    db.session.commit()


# -- quizzes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuizSettings:
    passing_score: float = 60.0
    max_attempts: int | None = None
    time_limit_minutes: int | None = None
    review: str = "after_attempt"
    question_ids: tuple[int, ...] = ()
    draw_count: int | None = None
    draw_tags: tuple[str, ...] = ()
    mastery_m: int | None = None
    mastery_n: int | None = None
    shuffle: bool = True


def quiz_of(lesson: Lesson) -> Quiz:
    """The lesson's quiz settings; created with the defaults the first time (not committed)."""
    if lesson.kind != "quiz":
        raise NotAQuiz(lesson.id)
    quiz = db.session.get(Quiz, lesson.id)
    if quiz is None:
        quiz = Quiz(lesson_id=lesson.id, question_ids=[], draw_tags=[])
        db.session.add(quiz)
        db.session.flush()
    return quiz


def find_quiz(lesson: Lesson) -> Quiz | None:
    """The lesson's quiz settings if it has any (reads only)."""
    return db.session.get(Quiz, lesson.id) if lesson.kind == "quiz" else None


def configure(lesson: Lesson, settings: QuizSettings) -> Quiz:
    """Save a quiz's settings (not committed). Fixed questions must be in the course's bank."""
    loading.load_path(lesson, "module", "course")
    course = lesson.module.course
    live = {q.id for q in questions_of(course)}
    unknown = [qid for qid in settings.question_ids if qid not in live]
    if unknown:
        raise QuestionError(f"questions: not in this course's bank: {unknown}")
    if (settings.mastery_m is None) != (settings.mastery_n is None):
        raise QuestionError("mastery: set both m and n, or neither")
    m, n = settings.mastery_m, settings.mastery_n
    if m is not None and n is not None and not 1 <= m <= n <= 100:
        raise QuestionError("mastery: 1 <= m <= n <= 100")
    quiz = quiz_of(lesson)
    quiz.passing_score = settings.passing_score
    quiz.max_attempts = settings.max_attempts
    quiz.time_limit_minutes = settings.time_limit_minutes
    quiz.review = settings.review
    quiz.question_ids = list(dict.fromkeys(settings.question_ids))
    quiz.draw_count = settings.draw_count
    quiz.draw_tags = sorted(set(settings.draw_tags))
    quiz.mastery_m = settings.mastery_m
    quiz.mastery_n = settings.mastery_n
    quiz.shuffle = settings.shuffle
    return quiz


def save_settings(lesson: Lesson, settings: QuizSettings) -> Quiz:
    """Save a quiz lesson's settings (:func:`configure`) and commit; a refusal raises
    :class:`QuestionError` with nothing written."""
    quiz = configure(lesson, settings)
    db.session.commit()
    return quiz


def pool(quiz: Quiz, course: Course) -> list[Question]:
    """The questions an attempt may draw from: the listed ones (all of them, or ``draw_count``
    of them), else, for a random draw, the bank's questions with any of ``draw_tags``."""
    if quiz.question_ids:
        by_id = {q.id: q for q in questions_of(course)}
        return [by_id[qid] for qid in quiz.question_ids if qid in by_id]
    if quiz.draw_count is None:
        return []
    tags = set(quiz.draw_tags or [])
    return [q for q in questions_of(course) if not tags or tags & set(q.tags or [])]


def draw(quiz: Quiz, course: Course, rng: random.Random | None = None) -> list[dict[str, Any]]:
    """A new attempt's layout: its questions and each one's option (or item) order.

    Fixed questions keep their order unless the quiz shuffles; drawn questions come in a
    random order. Choices and ordering items are shuffled per attempt when the quiz says so
    (ordering items always are: their order is the answer).
    """
    rng = rng or random.SystemRandom()
    questions = pool(quiz, course)
    if quiz.draw_count is not None:
        questions = rng.sample(questions, min(quiz.draw_count, len(questions)))
    elif quiz.shuffle:
        questions = rng.sample(questions, len(questions))
    layout = []
    for question in questions:
        order = [o["id"] for o in question.key.get("options", question.key.get("items", []))]
        if question.kind == "ordering" or (quiz.shuffle and question.kind != "truefalse"):
            rng.shuffle(order)
            if question.kind == "ordering" and len(order) > 1:
                while order == [item["id"] for item in question.key["items"]]:
                    rng.shuffle(order)  # never shown already solved
        layout.append({"question": question.id, "options": order})
    return layout


def quiz_lessons(course: Course) -> list[Lesson]:
    """The course's live quiz lessons in course order."""
    from lms.services.authoring import live_lessons, live_modules

    return [
        lesson
        for module in live_modules(course)
        for lesson in live_lessons(module)
        if lesson.kind == "quiz"
    ]
