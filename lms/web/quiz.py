"""Learners take quizzes: start an attempt, save answers as they go (JSON), submit, review."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.models import Enrollment, Lesson, QuizAttempt
from lms.models._base import utcnow
from lms.services import catalog, completion
from lms.services.quiz import attempts
from lms.web.forms import ActionForm

bp = Blueprint("quiz", __name__, url_prefix="/quiz")


def _quiz_lesson(lesson_id: int) -> tuple[Lesson, Enrollment]:
    """A quiz lesson of a course the learner is enrolled in (else the same 404 as no lesson)."""
    access = catalog.lesson_access(lesson_id, current_user)
    if access is None or not access.enrolled or access.lesson.kind != "quiz":
        abort(404)
    enrollment = catalog.enrollment_of(current_user, access.course)
    return access.lesson, enrollment


def _attempt(attempt_id: int) -> QuizAttempt:
    """The learner's own attempt, in a course they can still open; others answer 404."""
    return _attempt_and_lesson(attempt_id)[0]


def _attempt_and_lesson(attempt_id: int) -> tuple[QuizAttempt, Lesson]:
    """:func:`_attempt` and its lesson, with the lesson's module, course and camp."""
    attempt = attempts.find_attempt(attempt_id, current_user)
    access = catalog.lesson_access(attempt.lesson_id, current_user) if attempt else None
    if attempt is None or access is None:
        abort(404)
    return attempt, access.lesson


def lesson_url(lesson: Lesson) -> str:
    course = lesson.module.course
    return url_for(
        "learn.lesson", camp_slug=course.camp.slug, course_slug=course.slug, lesson_slug=lesson.slug
    )


@bp.post("/lessons/<int:lesson_id>/attempts")
@login_required
def start(lesson_id: int) -> Response:
    lesson, enrollment = _quiz_lesson(lesson_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        attempt = attempts.start(current_user, lesson, enrollment)
    except attempts.NoAttemptsLeft:
        abort(409, _("You have used every attempt this quiz allows."))
    except attempts.EmptyQuiz:
        abort(409, _("This quiz has no questions yet."))
    return redirect(url_for(".attempt", attempt_id=attempt.id))


@bp.get("/attempts/<int:attempt_id>")
@login_required
def attempt(attempt_id: int) -> str:
    found, lesson = _attempt_and_lesson(attempt_id)
    if found.status == "submitted":
        earlier = [
            a for a in attempts.attempts_of(current_user.id, lesson.id) if a.number < found.number
        ]
        review = attempts.may_review(found, earlier)
        return render_template(
            "quiz/result.html",
            attempt=found,
            lesson=lesson,
            course=lesson.module.course,
            items=attempts.items(found, review=review),
            review=review,
            pass_mark=attempts.passing_score(found.quiz),
            lesson_url=lesson_url(lesson),
            finished=completion.finished_by(found, lesson.module.course),
        )
    return render_template(
        "quiz/take.html",
        attempt=found,
        lesson=lesson,
        course=lesson.module.course,
        items=attempts.items(found),
        seconds_left=attempts.seconds_left(found),
        time_is_up=attempts.overdue(found, utcnow()),
        form=ActionForm(),
        lesson_url=lesson_url(lesson),
    )


def _json_body() -> object:
    """The request's JSON (NaN and Infinity refused: they are not JSON)."""
    if request.content_length is not None and request.content_length > attempts.MAX_ANSWERS_BYTES:
        abort(413)
    raw = request.get_data(cache=False, as_text=False)
    if len(raw) > attempts.MAX_ANSWERS_BYTES:
        abort(413)

    def refuse(constant: str) -> None:
        raise ValueError(constant)

    try:
        return json.loads(raw or b"null", parse_constant=refuse)
    except (ValueError, UnicodeDecodeError):
        abort(400, _("The answers could not be read."))


def _answers_of(body: object) -> object:
    if not isinstance(body, dict) or set(body) - {"answers"}:
        abort(400, _("The answers could not be read."))
    return body.get("answers", {})


@bp.post("/attempts/<int:attempt_id>/answers")
@login_required
def save(attempt_id: int) -> Response:
    """Autosave: ``{"answers": {"<question id>": answer}}``; 200 with the time saved."""
    found = _attempt(attempt_id)
    answers = _answers_of(_json_body())
    try:
        saved_at = attempts.save(found, answers)
    except attempts.InvalidAnswers as exc:
        abort(400, str(exc))
    except attempts.AttemptClosed:
        abort(409, _("This attempt is closed: it was submitted or its time is up."))
    return jsonify({"saved_at": saved_at.isoformat(), "seconds_left": attempts.seconds_left(found)})


@bp.post("/attempts/<int:attempt_id>/submit")
@login_required
def submit(attempt_id: int) -> Response:
    """Submit (a form, or JSON with last answers); a second submit changes nothing."""
    found = _attempt(attempt_id)
    answers = _answers_of(_json_body()) if request.is_json else None
    if not request.is_json and not ActionForm().validate_on_submit():
        abort(400)
    already = found.status == "submitted"
    try:
        attempts.submit(found, current_user, answers)
    except attempts.InvalidAnswers as exc:
        abort(400, str(exc))
    if request.is_json:
        return jsonify({"status": found.status, "score": found.score, "passed": found.passed})
    if not already and found.submitted_by == "server":
        flash(_("The time was up: your saved answers were submitted."), "info")
    return redirect(url_for(".attempt", attempt_id=found.id))
