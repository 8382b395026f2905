"""The camp's pass mark: ``lms_quiz_passing_score``."""

from __future__ import annotations

from lms.extensions import db
from lms.models import Lesson
from lms.services.quiz import policy
from tests.conftest import video_lessons_of
from tests.test_plugins import with_the_course


def lms_quiz_passing_score(lesson, passing_score):
    if lesson.slug == "strict":
        return max(passing_score, 80)
    if lesson.slug == "broken":
        return 250  # out of range: ignored
    return None


def test_a_camp_sets_the_pass_mark_through_its_hook(make_app, course):
    app = with_the_course(make_app, lms_quiz_passing_score, name="marks")
    with app.test_request_context():
        first, second, third = video_lessons_of(course.id)[:3]
        first.slug, second.slug = "strict", "broken"
        assert policy.passing_score(first, 60) == 80
        assert policy.passing_score(first, 90) == 90
        assert policy.passing_score(second, 60) == 60
        assert policy.passing_score(third, 70) == 70


def test_without_a_hook_the_trainer_s_mark_applies(app, course):
    with app.test_request_context():
        lesson = db.session.scalars(db.select(Lesson)).first()
        assert policy.passing_score(lesson, 65) == 65.0
