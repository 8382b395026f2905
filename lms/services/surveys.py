"""Surveys (not graded): a course evaluation, and feedback after a live session.

Each course and each live session has the academy's standard survey: Likert ratings (1 to 5)
and one free-text question. Enrolled learners evaluate a course, attendees a session; each
answers once (unique per survey and learner). Results are only ever shown aggregated, and
only from :data:`MIN_SHOWN` answers on, so no answer can be traced to a learner; comments are
listed in alphabetical order, not in the order they came.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from lms.database import insert_ignoring_conflicts
from lms.extensions import db
from lms.models import Attendance, Course, LiveSession, Survey, SurveyResponse, User
from lms.models._base import current_language, utcnow
from lms.services.errors import Conflict, DomainError, Invalid

MIN_SHOWN = 5
SCALE = (1, 2, 3, 4, 5)
MAX_COMMENT = 2000
ATTENDED = ("present", "late")


def _q(qid: str, kind: str, zh: str, en: str) -> dict[str, str]:
    return {"id": qid, "kind": kind, "text_zh": zh, "text_en": en}


COMMENT = _q("comment", "text", "最大的收获，或改进建议", "What you took away, or what to improve")
COURSE_QUESTIONS = [
    _q("useful", "likert", "课程内容对我的工作有帮助", "The content helps me in my work"),
    _q("clear", "likert", "讲解清楚、易于理解", "The explanations were clear"),
    _q("pace", "likert", "难度和节奏合适", "The level and the pace were right"),
    _q("recommend", "likert", "我会向同事推荐这门课程", "I would recommend it to a colleague"),
    COMMENT,
]
SESSION_QUESTIONS = [
    _q("worthwhile", "likert", "这次活动值得参加", "The session was worth attending"),
    _q("speaker", "likert", "讲师或嘉宾有启发", "The lecturer or guest was inspiring"),
    _q(
        "organised", "likert", "时间、地点和环节安排合理", "Time, place and programme were well run"
    ),
    COMMENT,
]


class SurveyError(DomainError):
    """Base of the survey errors."""


class AlreadyAnswered(SurveyError, Conflict):
    """The learner answered this survey before."""


class InvalidAnswers(SurveyError, Invalid):
    """A rating missing or outside 1–5, or a comment too long."""


@dataclass(frozen=True)
class Subject:
    """What a survey is about: a course or a live session."""

    course: Course | None = None
    session: LiveSession | None = None

    @property
    def key(self) -> dict[str, int]:
        if self.course is not None:
            return {"course_id": self.course.id}
        if self.session is not None:
            return {"live_session_id": self.session.id}
        raise TypeError("a survey is about a course or a live session")

    @property
    def questions(self) -> list[dict[str, str]]:
        return COURSE_QUESTIONS if self.course is not None else SESSION_QUESTIONS


def text_of(question: dict[str, str]) -> str:
    primary, fallback = ("en", "zh") if current_language() == "en" else ("zh", "en")
    return question[f"text_{primary}"] or question[f"text_{fallback}"]


def find(subject: Subject) -> Survey | None:
    return db.session.scalar(select(Survey).filter_by(**subject.key))


def questions_of(subject: Subject) -> list[dict[str, str]]:
    """The survey's questions (stored once the first learner answers, else the standard)."""
    survey = find(subject)
    return survey.questions if survey is not None else subject.questions


def attended(user: User, session: LiveSession) -> bool:
    return (
        db.session.scalar(
            select(Attendance.id).where(
                Attendance.session_id == session.id,
                Attendance.user_id == user.id,
                Attendance.status.in_(ATTENDED),
            )
        )
        is not None
    )


def find_session(session_id: int) -> LiveSession | None:
    """The live session with this id, if there is one."""
    return db.session.get(LiveSession, session_id)


def attended_session(user: User, session_id: int) -> LiveSession | None:
    """The live session ``user`` attended (present or late), whose feedback they may give;
    None for any other, and for one that does not exist."""
    session = find_session(session_id)
    return session if session is not None and attended(user, session) else None


def has_answered(subject: Subject, user: User) -> bool:
    survey = find(subject)
    return survey is not None and (
        db.session.scalar(select(SurveyResponse.id).filter_by(survey_id=survey.id, user_id=user.id))
        is not None
    )


def validate(questions: list[dict[str, str]], raw: dict[str, Any]) -> dict[str, Any]:
    """Every rating 1–5 (as text from a form or a number); comments optional, ≤ 2000."""
    answers: dict[str, Any] = {}
    for question in questions:
        value = raw.get(question["id"])
        if question["kind"] == "likert":
            rating = str(value)
            if rating not in {str(n) for n in SCALE}:
                raise InvalidAnswers(question["id"])
            answers[question["id"]] = int(rating)
        else:
            text = (value or "").strip() if isinstance(value, str) else ""
            if len(text) > MAX_COMMENT or any(
                unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in text
            ):
                raise InvalidAnswers(question["id"])
            if text:
                answers[question["id"]] = text
    return answers


def answer(subject: Subject, user: User, raw: dict[str, Any]) -> None:
    """Record the learner's answers, once. Commits; nothing written on an error."""
    answers = validate(questions_of(subject), raw)
    insert_ignoring_conflicts(
        Survey, list(subject.key), **subject.key, questions=subject.questions,
        created_at=utcnow(),
    )  # fmt: skip
    survey = db.session.scalars(select(Survey).filter_by(**subject.key)).one()
    created = insert_ignoring_conflicts(
        SurveyResponse,
        ["survey_id", "user_id"],
        survey_id=survey.id,
        user_id=user.id,
        answers=answers,
        created_at=utcnow(),
    )
    if not created:
        db.session.rollback()
        raise AlreadyAnswered
    db.session.commit()


@dataclass
class Rating:
    question: str
    mean: float
    counts: list[int]  # answers giving 1, 2, 3, 4, 5

    @property
    def percent(self) -> int:
        """The mean on the 1–5 scale as a share of the bar (1 → 0 %, 5 → 100 %)."""
        return round(25 * (self.mean - 1))


@dataclass
class Results:
    count: int = 0
    ratings: list[Rating] = field(default_factory=list)
    comments: dict[str, list[str]] = field(default_factory=dict)

    @property
    def shown(self) -> bool:
        return self.count >= MIN_SHOWN


def results(subject: Subject) -> Results:
    """Aggregates only; nothing at all below :data:`MIN_SHOWN` answers."""
    survey = find(subject)
    if survey is None:
        return Results()
    rows = db.session.scalars(select(SurveyResponse.answers).filter_by(survey_id=survey.id)).all()
    found = Results(count=len(rows))
    if not found.shown:
        return found
    for question in survey.questions:
        values = [row[question["id"]] for row in rows if question["id"] in row]
        if question["kind"] == "likert":
            counts = [values.count(n) for n in SCALE]
            mean = sum(values) / len(values) if values else 0.0
            found.ratings.append(Rating(text_of(question), round(mean, 2), counts))
        else:
            found.comments[text_of(question)] = sorted(values)
    return found
