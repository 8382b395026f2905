"""The xAPI plugin turns a submitted quiz attempt into answered and passed/failed statements."""

from __future__ import annotations

from lms.extensions import db
from lms.models import Course, Lesson, Question, QuizAttempt, User
from lms.services import enrollment
from lms.services.quiz import attempts
from plugins.xapi.models import XapiStatement
from tests.quiz_helpers import quiz_lesson, right_answers
from tests.test_xapi import outbox_rows, xapi_file  # noqa: F401 - the fixture


def take(app, learner, course, answers_of) -> int:
    with app.test_request_context():
        lesson_id, ids = quiz_lesson(course.id)
        user = db.session.get(User, learner.id)
        row, _ = enrollment.enroll(user, db.session.get(Course, course.id))
        attempt = attempts.start(user, db.session.get(Lesson, lesson_id), row)
        keys = {q.id: (q.kind, q.key) for q in (db.session.get(Question, i) for i in ids)}
        attempts.submit(attempt, user, answers_of(keys))
        return attempt.id


def test_a_passed_quiz_sends_answered_and_passed(make_app, xapi_file, learner, course):  # noqa: F811
    app = make_app()
    take(app, learner, course, right_answers)
    rows = outbox_rows(app)
    verbs = sorted(row.verb for row in rows)
    assert verbs.count("answered") == 6 and "passed" in verbs and "failed" not in verbs
    result = next(row.statement for row in rows if row.verb == "passed")
    assert result["result"]["score"] == {"scaled": 1.0, "raw": 6.0, "min": 0, "max": 6.0}
    assert result["object"]["id"].endswith("startup-growth/strategy-toolkit/check")
    answered = next(row.statement for row in rows if row.verb == "answered")
    assert answered["object"]["definition"]["interactionType"] in {
        "choice", "true-false", "fill-in", "numeric", "sequencing",
    }  # fmt: skip
    assert answered["result"]["success"] is True


def test_a_failed_quiz_sends_failed_once(make_app, xapi_file, learner, course):  # noqa: F811
    app = make_app()
    attempt_id = take(app, learner, course, lambda keys: {})
    with app.test_request_context():
        user = db.session.get(User, learner.id)
        attempts.submit(db.session.get(QuizAttempt, attempt_id), user)  # a second submit
        failed = db.session.scalars(db.select(XapiStatement).filter_by(verb="failed")).all()
        assert len(failed) == 1
        assert failed[0].statement["result"]["success"] is False
