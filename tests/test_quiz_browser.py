"""In Chromium: a learner takes a quiz, reloads in the middle (nothing is lost), submits, sees
the score, and the course completes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lms.extensions import db
from lms.models import (
    Certificate,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Module,
    Question,
    User,
)
from lms.models._base import utcnow
from lms.services import enrollment
from tests.quiz_helpers import quiz_lesson
from tests.test_browser import (  # noqa: F401 - the browser fixture
    _new_context,
    chromium_browser,
    log_in,
    serving,
    wait_until,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def quiz_course(app, course, learner) -> dict:
    """The learner enrolled, every other required lesson done, a required quiz left."""
    with app.app_context():
        lesson_id, ids = quiz_lesson(course.id)
        user = db.session.get(User, learner.id)
        enrollment.enroll(user, db.session.get(Course, course.id))
        others = db.session.scalars(
            db.select(Lesson)
            .join(Module)
            .where(Module.course_id == course.id, Lesson.id != lesson_id)
        )
        for lesson in others:
            db.session.add(
                LessonProgress(user_id=user.id, lesson_id=lesson.id, completed_at=utcnow())
            )
        db.session.commit()
        keys = {q.id: (q.kind, q.key) for q in (db.session.get(Question, i) for i in ids)}
    return {"lesson_id": lesson_id, "ids": ids, "keys": keys}


@pytest.fixture
def page(browser, app) -> Iterator:
    with serving(app) as base:
        context = _new_context(browser, base)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        yield page
        context.close()


def wait_saved(page) -> None:
    wait_until(page, "document.getElementById('quiz-save-status').textContent.trim() === 'Saved'")


def test_a_learner_takes_a_quiz_reloads_submits_and_completes_the_course(
    app, page, course, learner, quiz_course
):
    ids, keys = quiz_course["ids"], quiz_course["keys"]
    single, multiple, truefalse, short, numeric = ids[:5]
    log_in(page, learner.email)
    page.goto(f"/camps/{course.camp.slug}/{course.slug}/lessons/check")
    with page.expect_navigation():
        page.click("text=Start the quiz")
    assert "/quiz/attempts/" in page.url
    right = next(o["id"] for o in keys[single][1]["options"] if o["fraction"] == 1)
    page.check(f"input[name=q{single}][value='{right}']")
    page.check(f"input[name=q{truefalse}][value=false]")
    wait_saved(page)

    page.reload()  # nothing is lost
    assert page.is_checked(f"input[name=q{single}][value='{right}']")
    assert page.is_checked(f"input[name=q{truefalse}][value=false]")
    for option in keys[multiple][1]["options"]:
        if option["fraction"] > 0:
            page.check(f"input[name=q{multiple}][value='{option['id']}']")
    page.fill(f"input[name=q{short}]", "ＭＶＰ 最小 可行 产品")  # not accepted: a wrong answer
    page.fill(f"input[name=q{short}]", "最小 可行 产品")
    page.fill(f"input[name=q{numeric}]", "１２")
    wait_saved(page)

    with page.expect_navigation():
        page.click("#quiz-submit")
    wait_until(page, "!!document.getElementById('quiz-score')")
    assert "Passed" in page.text_content("#quiz-verdict")
    score = page.text_content("#quiz-score").strip()
    assert page.evaluate("window.__csp") == []
    with app.app_context():
        row = db.session.scalar(db.select(Enrollment).filter_by(user_id=learner.id))
        assert row.status == "completed"
        assert db.session.scalar(db.select(Certificate).filter_by(user_id=learner.id)) is not None
        attempt_score = db.session.execute(
            db.text("SELECT score FROM quiz_attempts WHERE user_id = :u"), {"u": learner.id}
        ).scalar_one()
    assert score == f"{round(attempt_score)}%"
    assert attempt_score > 5 / 6 * 100 - 1e-6  # five right, the ordering left as shown
