"""Learners' attempts: start, save as they go, submit (once), time limits, review, regrades.

* **Start** takes the learner's enrollment row lock (:func:`lms.database.lock_row`), so two
  starts at once cannot both pass the attempt limit; the unique (quiz, learner, number)
  constraint backs it. The server draws the questions and each one's option order.
* **Save** merges validated answers into the open attempt under its row lock; nothing is
  written when any answer is invalid, the attempt is not the learner's, already submitted
  or past its deadline (plus :data:`GRACE` for the network).
* **Submit** locks the attempt; a second submit (a double click, a second tab) finds it
  submitted and returns the same result. An attempt past its deadline is graded with what
  was saved (``submitted_by = "server"``); :func:`submit_overdue` does that for attempts
  nobody comes back to (a scheduled task), and starting the next attempt does it too.
* **Regrade**: grading reads the questions ``FOR SHARE`` (PostgreSQL), so a trainer's key
  change waits for submits in flight and the regrade that follows it sees every attempt
  graded with the old key; each changed score is audited in ``attempt_regrades``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import select

from lms.database import insert_ignoring_conflicts, lock_row
from lms.extensions import db
from lms.models import (
    AttemptItem,
    AttemptRegrade,
    Enrollment,
    Lesson,
    Question,
    Quiz,
    QuizAttempt,
    User,
)
from lms.models._base import aware, current_language, utcnow
from lms.services import loading, schedule
from lms.services.camps import registry
from lms.services.errors import Conflict, DomainError, Invalid
from lms.services.lessons import mark_read, render_markdown
from lms.services.quiz import bank, grading, policy

GRACE = timedelta(seconds=3)  # a save or submit sent just before the deadline still counts
MAX_ANSWERS_BYTES = 64 * 1024


class AttemptError(DomainError):
    """Base of the attempt errors (each view maps them to a status)."""


class NoAttemptsLeft(AttemptError, Conflict):
    """Every allowed attempt is used."""


class AttemptClosed(AttemptError, Conflict):
    """The attempt is submitted or past its deadline: nothing more is saved."""


class EmptyQuiz(AttemptError, Conflict):
    """The quiz has no questions to draw yet."""


class InvalidAnswers(AttemptError, Invalid):
    """An unknown question, an answer that does not fit its question, or too much data."""


# -- reading ---------------------------------------------------------------------------------


def passing_score(quiz: Quiz) -> float:
    """The pass mark in force: a camp's hook may change the trainer's."""
    return policy.passing_score(quiz.lesson, quiz.passing_score)


def attempts_of(user_id: int, lesson_id: int) -> list[QuizAttempt]:
    """The learner's attempts at a quiz, as the database has them now."""
    return list(
        db.session.scalars(
            select(QuizAttempt)
            .filter_by(user_id=user_id, lesson_id=lesson_id)
            .order_by(QuizAttempt.number)
            .execution_options(populate_existing=True)
        )
    )


def overdue(attempt: QuizAttempt, now: datetime) -> bool:
    return (
        attempt.status == "open"
        and attempt.deadline_at is not None
        and now > aware(attempt.deadline_at) + GRACE
    )


@dataclass
class Overview:
    """A learner's standing in one quiz, for the lesson page."""

    quiz: Quiz
    pass_mark: float
    question_count: int
    attempts: list[QuizAttempt]
    open_attempt: QuizAttempt | None
    attempts_left: int | None
    passed: bool
    best: float | None
    mastery_correct: int = 0  # correct among the last n answered (mastery quizzes)

    @property
    def may_start(self) -> bool:
        return self.open_attempt is None and self.attempts_left != 0 and self.question_count > 0


def overview(user: User, lesson: Lesson) -> Overview | None:
    """What the quiz lesson page shows; None when the trainer has not set the quiz up."""
    quiz = bank.find_quiz(lesson)
    if quiz is None:
        return None
    attempts = attempts_of(user.id, lesson.id)
    submitted = [a for a in attempts if a.status == "submitted"]
    open_attempt = next((a for a in attempts if a.status == "open"), None)
    left = None if quiz.max_attempts is None else max(0, quiz.max_attempts - len(attempts))
    course = lesson.module.course
    count = len(bank.pool(quiz, course))
    if quiz.draw_count is not None:
        count = min(count, quiz.draw_count)
    found = Overview(
        quiz=quiz,
        pass_mark=passing_score(quiz),
        question_count=count,
        attempts=submitted,
        open_attempt=open_attempt,
        attempts_left=left,
        passed=any(a.passed for a in submitted),
        best=max((a.score for a in submitted if a.score is not None), default=None),
    )
    if quiz.by_mastery and quiz.mastery_n is not None:  # both set (bank.configure)
        recent = _answered(user.id, lesson.id)[-quiz.mastery_n :]
        found.mastery_correct = sum(1 for flag in recent if flag)
    return found


def find_attempt(attempt_id: int, user: User) -> QuizAttempt | None:
    """The learner's own attempt; another learner's answers like an unknown id."""
    attempt = db.session.get(QuizAttempt, attempt_id)
    return attempt if attempt is not None and attempt.user_id == user.id else None


# -- starting --------------------------------------------------------------------------------


def start(
    user: User, lesson: Lesson, enrollment: Enrollment, now: datetime | None = None
) -> QuizAttempt:
    """The learner's open attempt, or a new one if attempts are left. Commits."""
    quiz = bank.quiz_of(lesson)
    now = now or utcnow()
    close_overdue(user, lesson, now)
    lock_row(Enrollment, enrollment.id)  # this learner's starts in this course, one at a time
    attempts = attempts_of(user.id, lesson.id)
    open_attempt = next((a for a in attempts if a.status == "open"), None)
    if open_attempt is not None:
        db.session.commit()
        return open_attempt
    if quiz.max_attempts is not None and len(attempts) >= quiz.max_attempts:
        db.session.rollback()
        raise NoAttemptsLeft
    loading.load_path(lesson, "module", "course")  # the commits above expired it
    layout = bank.draw(quiz, lesson.module.course)
    if not layout:
        db.session.rollback()
        raise EmptyQuiz
    deadline = now + timedelta(minutes=quiz.time_limit_minutes) if quiz.time_limit_minutes else None
    inserted = insert_ignoring_conflicts(
        QuizAttempt,
        ["lesson_id", "user_id", "number"],
        lesson_id=lesson.id,
        user_id=user.id,
        number=len(attempts) + 1,
        status="open",
        started_at=now,
        deadline_at=deadline,
        layout=layout,
        answers={},
    )
    if not inserted:  # cannot happen under the lock; the constraint is the last word
        db.session.rollback()
        raise NoAttemptsLeft
    db.session.commit()
    return db.session.scalars(
        select(QuizAttempt).filter_by(
            lesson_id=lesson.id, user_id=user.id, number=len(attempts) + 1
        )
    ).one()


def close_overdue(user: User, lesson: Lesson, now: datetime) -> None:
    """Submit the learner's attempts past their deadline with what was saved. Commits."""
    for attempt in attempts_of(user.id, lesson.id):
        if overdue(attempt, now) and overdue(_locked(attempt), now):
            _grade_and_close(attempt, user, now, by="server")
            db.session.commit()
            _after_submit(attempt, user)


# -- saving and submitting -------------------------------------------------------------------


def _questions(attempt: QuizAttempt, *, for_share: bool = False) -> dict[int, Question]:
    ids = [entry["question"] for entry in attempt.layout]
    query = select(Question).where(Question.id.in_(ids))
    if for_share:
        query = query.with_for_update(read=True)
    return {q.id: q for q in db.session.scalars(query)}


def validate_answers(attempt: QuizAttempt, raw: object) -> dict[str, Any]:
    """``{"<question id>": answer}`` checked against the attempt's questions; a partial set
    is fine (what changed since the last save). Raises :class:`InvalidAnswers`."""
    if not isinstance(raw, dict) or len(raw) > len(attempt.layout):
        raise InvalidAnswers("answers: an object of question ids")
    questions = _questions(attempt)
    in_layout = {str(entry["question"]) for entry in attempt.layout}
    clean: dict[str, Any] = {}
    for question_id, answer in raw.items():
        if not isinstance(question_id, str) or question_id not in in_layout:
            raise InvalidAnswers(f"unknown question {str(question_id)[:20]!r}")
        question = questions.get(int(question_id))
        if question is None:
            raise InvalidAnswers(f"unknown question {question_id!r}")
        try:
            clean[question_id] = grading.validate_answer(question.kind, question.key, answer)
        except grading.AnswerError as exc:
            raise InvalidAnswers(f"question {question_id}: {exc}") from exc
    return clean


def _locked(attempt: QuizAttempt) -> QuizAttempt:
    lock_row(QuizAttempt, attempt.id)
    db.session.refresh(attempt)
    return attempt


def save(attempt: QuizAttempt, raw: object, now: datetime | None = None) -> datetime:
    """Merge answers into the open attempt; the time saved. Nothing written on an error."""
    clean = validate_answers(attempt, raw)
    _locked(attempt)
    now = now or utcnow()
    if attempt.status != "open" or overdue(attempt, now):
        db.session.rollback()
        raise AttemptClosed
    attempt.answers = {**(attempt.answers or {}), **clean}
    attempt.saved_at = now
    db.session.commit()
    return now


def submit(
    attempt: QuizAttempt, user: User, raw: object = None, now: datetime | None = None
) -> QuizAttempt:
    """Grade and close the attempt; idempotent (a second submit returns the first result).

    ``raw`` are last answers sent with the submit; past the deadline they are not taken and
    the attempt is graded with what was saved.
    """
    clean = validate_answers(attempt, raw) if raw else {}
    _locked(attempt)
    if attempt.status == "submitted":
        db.session.rollback()
        return attempt
    now = now or utcnow()
    late = overdue(attempt, now)
    if clean and not late:
        attempt.answers = {**(attempt.answers or {}), **clean}
        attempt.saved_at = now
    _grade_and_close(attempt, user, now, by="server" if late else "learner")
    db.session.commit()
    _after_submit(attempt, user)
    return attempt


def _grade_and_close(attempt: QuizAttempt, user: User, now: datetime, by: str) -> None:
    """Grade the saved answers and close the attempt (in the caller's transaction)."""
    questions = _questions(attempt, for_share=True)
    answers = attempt.answers or {}
    rows = []
    for position, entry in enumerate(attempt.layout):
        question = questions.get(entry["question"])
        if question is None:
            continue  # deleted with its course's bank: nothing to grade
        fraction = grading.grade(question.kind, question.key, answers.get(str(question.id)))
        rows.append(
            AttemptItem(
                attempt_id=attempt.id,
                question_id=question.id,
                position=position,
                fraction=fraction,
                points=question.points,
                version=question.version,
            )
        )
    db.session.add_all(rows)
    earned, maximum, percent = grading.score((row.fraction, row.points) for row in rows)
    attempt.status = "submitted"
    attempt.submitted_at = (
        min(now, aware(attempt.deadline_at) + GRACE)
        if by == "server" and attempt.deadline_at
        else now
    )
    attempt.submitted_by = by
    attempt.earned, attempt.max_points, attempt.score = earned, maximum, percent
    db.session.flush()
    attempt.passed = _passes(attempt.quiz, user.id, percent)


def _answered(user_id: int, lesson_id: int) -> list[bool]:
    """The learner's answered questions of a quiz, oldest first: correct or not."""
    rows = db.session.execute(
        select(AttemptItem.fraction)
        .join(QuizAttempt, AttemptItem.attempt_id == QuizAttempt.id)
        .where(
            QuizAttempt.user_id == user_id,
            QuizAttempt.lesson_id == lesson_id,
            QuizAttempt.status == "submitted",
        )
        .order_by(QuizAttempt.number, AttemptItem.position)
    )
    return [grading.is_correct(fraction) for (fraction,) in rows]


def _passes(quiz: Quiz, user_id: int, percent: float) -> bool:
    m, n = quiz.mastery_m, quiz.mastery_n
    if m is not None and n is not None:  # by mastery (bank.configure sets both or neither)
        answered = _answered(user_id, quiz.lesson_id)
        return grading.mastery_reached(answered, m, n)
    return grading.passes(percent, passing_score(quiz))


def _after_submit(attempt: QuizAttempt, user: User) -> None:
    """Events after the commit: the plugins hear of it; a pass completes the lesson."""
    loading.for_hook(attempt)
    registry().call_all("lms_quiz_submitted", attempt=attempt)
    # Completed when it was submitted (a recorded history: in the past).
    if attempt.passed and attempt.submitted_at is not None:  # a passed attempt was submitted
        mark_read(user, attempt.quiz.lesson, aware(attempt.submitted_at))


@schedule.register("submit overdue quiz attempts", every=timedelta(minutes=1))
def submit_overdue(now: datetime) -> int:
    """Attempts past their deadline that nobody came back to, graded with what was saved."""
    ids = db.session.scalars(
        select(QuizAttempt.id).where(
            QuizAttempt.status == "open", QuizAttempt.deadline_at < now - GRACE
        )
    ).all()
    for attempt_id in ids:
        attempt = db.session.get_one(QuizAttempt, attempt_id)
        _locked(attempt)
        if not overdue(attempt, now):
            db.session.rollback()
            continue
        user = db.session.get_one(User, attempt.user_id)
        _grade_and_close(attempt, user, now, by="server")
        db.session.commit()
        _after_submit(attempt, user)
    return len(ids)


# -- regrading -------------------------------------------------------------------------------


def regrade(question: Question, by: User | None) -> int:
    """Regrade every submitted attempt graded with an older version of ``question``'s key;
    each attempt whose score changed is audited. The number of attempts regraded."""
    ids = db.session.scalars(
        select(AttemptItem.attempt_id).where(
            AttemptItem.question_id == question.id, AttemptItem.version < question.version
        )
    ).all()
    for attempt_id in ids:
        attempt = _locked(db.session.get_one(QuizAttempt, attempt_id))
        current = db.session.get_one(Question, question.id)
        item = db.session.get(AttemptItem, (attempt.id, question.id))
        if item is None or item.version >= current.version:
            db.session.rollback()
            continue
        item.fraction = grading.grade(
            current.kind, current.key, (attempt.answers or {}).get(str(current.id))
        )
        item.points = current.points
        item.version = current.version
        db.session.flush()
        items = db.session.scalars(select(AttemptItem).filter_by(attempt_id=attempt.id)).all()
        old_score, old_passed = attempt.score or 0.0, bool(attempt.passed)
        earned, maximum, percent = grading.score((i.fraction, i.points) for i in items)
        attempt.earned, attempt.max_points, attempt.score = earned, maximum, percent
        attempt.passed = _passes(attempt.quiz, attempt.user_id, percent)
        if percent != old_score or attempt.passed != old_passed:
            db.session.add(
                AttemptRegrade(
                    attempt_id=attempt.id,
                    question_id=current.id,
                    old_score=old_score,
                    new_score=percent,
                    old_passed=old_passed,
                    new_passed=attempt.passed,
                    by_id=by.id if by else None,
                )
            )
        db.session.commit()
        if attempt.passed and not old_passed:
            mark_read(db.session.get_one(User, attempt.user_id), attempt.quiz.lesson)
    return len(ids)


def revise_question(question: Question, data: dict[str, Any], by: User | None) -> int:
    """Save a question's new values (:func:`bank.update_question`) and commit; when its key
    changed, regrade the submitted attempts that used it (:func:`regrade`). The number of
    attempts regraded; :class:`bank.QuestionError` with nothing written."""
    key_changed = bank.update_question(question, data)
    db.session.commit()
    return regrade(question, by) if key_changed else 0


@schedule.register("regrade quiz attempts", every=timedelta(minutes=10))
def regrade_stale(now: datetime) -> int:
    """Regrade attempts graded with an older key than their question's (a curriculum sync
    changed it, or a regrade was interrupted): the number of questions concerned."""
    stale = db.session.scalars(
        select(Question.id)
        .join(AttemptItem, AttemptItem.question_id == Question.id)
        .where(AttemptItem.version < Question.version)
        .distinct()
    ).all()
    for question_id in stale:
        regrade(db.session.get_one(Question, question_id), None)
    return len(stale)


# -- what the pages show ---------------------------------------------------------------------


def _local(text: dict[str, str] | None) -> str:
    if not text:
        return ""
    primary, fallback = ("en", "zh") if current_language() == "en" else ("zh", "en")
    return text.get(primary) or text.get(fallback) or ""


@dataclass
class Choice:
    id: str
    text: str
    chosen: bool = False
    correct: bool | None = None  # only in a review


@dataclass
class Item:
    """One question as the attempt page shows it. Before submission it holds nothing of the
    key: no fractions, accepted answers, feedback or explanation."""

    number: int
    question_id: int
    kind: str
    text: Markup
    points: float
    choices: list[Choice]
    saved: Any
    fraction: float | None = None
    feedback: list[str] = field(default_factory=list)
    explanation: Markup | None = None
    accepted: list[str] = field(default_factory=list)


def items(attempt: QuizAttempt, *, review: bool = False) -> list[Item]:
    """The attempt's questions in its order, with the learner's saved answers; with the key,
    results, feedback and explanations only for a review of a submitted attempt."""
    review = review and attempt.status == "submitted"
    questions = _questions(attempt)
    results = {i.question_id: i.fraction for i in attempt.items} if review else {}
    answers = attempt.answers or {}
    shown = []
    for number, entry in enumerate(attempt.layout, start=1):
        question = questions.get(entry["question"])
        if question is None:
            continue
        key = question.key
        saved = answers.get(str(question.id))
        by_id = {o["id"]: o for o in key.get("options", key.get("items", []))}
        choices = []
        order = saved if question.kind == "ordering" and saved else entry["options"]
        for choice_id in order:
            option = by_id.get(choice_id)
            if option is None:
                continue
            chosen = choice_id == saved or (isinstance(saved, list) and choice_id in saved)
            correct = (
                option.get("fraction", 0) > 0 if review and question.kind != "ordering" else None
            )
            choices.append(Choice(choice_id, _local(option["text"]), chosen, correct))
        item = Item(
            number=number,
            question_id=question.id,
            kind=question.kind,
            text=render_markdown(question.text),
            points=question.points,
            choices=choices,
            saved=saved,
        )
        if review:
            item.fraction = results.get(question.id, 0.0)
            item.feedback = [_local(f) for f in grading.feedback(question.kind, key, saved)]
            item.explanation = (
                render_markdown(question.explanation) if question.explanation else None
            )
            item.accepted = _accepted(question)
        shown.append(item)
    return shown


def _accepted(question: Question) -> list[str]:
    key = question.key
    if question.kind == "truefalse":
        return ["true" if key["answer"] else "false"]
    if question.kind == "short":
        return [a["text"] for a in key["answers"] if a["fraction"] >= 1]
    if question.kind == "numeric":
        return [
            f"{a['value']:g}" + (f" ± {a['tolerance']:g}" if a.get("tolerance") else "")
            for a in key["answers"]
            if a["fraction"] >= 1
        ]
    if question.kind == "ordering":
        return [_local(item["text"]) for item in key["items"]]
    return []


def may_review(attempt: QuizAttempt, passed_before: Sequence[QuizAttempt] = ()) -> bool:
    """Does the quiz let the learner see answers and feedback for this attempt?"""
    if attempt.status != "submitted":
        return False
    policy_name = attempt.quiz.review
    if policy_name == "after_attempt":
        return True
    if policy_name == "after_pass":
        return bool(attempt.passed) or any(a.passed for a in passed_before)
    return False


def seconds_left(attempt: QuizAttempt, now: datetime | None = None) -> int | None:
    if attempt.deadline_at is None:
        return None
    left = (aware(attempt.deadline_at) - (now or utcnow())).total_seconds()
    return max(0, int(left))
