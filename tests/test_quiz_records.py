"""Quiz results in the learner's training archive, its PDF and the manager's staff view."""

from __future__ import annotations

import re

from lms.extensions import db
from lms.models import Course, Lesson, Question, User
from lms.services import enrollment
from lms.services.quiz import attempts
from tests.quiz_helpers import quiz_lesson, right_answers
from tests.test_archive import pdf_text
from tests.test_query_counts import count_queries


def took_quiz(app, learner, course) -> None:
    """Two attempts: one failed, one passed."""
    with app.test_request_context():
        lesson_id, ids = quiz_lesson(course.id)
        user = db.session.get(User, learner.id)
        row, _ = enrollment.enroll(user, db.session.get(Course, course.id))
        lesson = db.session.get(Lesson, lesson_id)
        attempts.submit(attempts.start(user, lesson, row), user)
        keys = {q.id: (q.kind, q.key) for q in (db.session.get(Question, i) for i in ids)}
        attempts.submit(attempts.start(user, lesson, row), user, right_answers(keys))


def test_the_archive_lists_each_quiz_with_best_score_and_attempts(app, client, learner, course):
    took_quiz(app, learner, course)
    client.login(learner.email)
    page = client.get(f"/people/{learner.id}/archive").get_data(as_text=True)
    assert 'data-test="quizzes"' in page
    assert "Check" in page and "100%" in page and "Passed" in page
    row = page.split('data-test="quizzes"')[1].split("</table>")[0]
    assert "<td>2</td>" in row  # attempts


def test_the_archive_pdf_has_the_quizzes(app, client, learner, course):
    took_quiz(app, learner, course)
    client.login(learner.email)
    response = client.get(f"/people/{learner.id}/archive.pdf")
    assert response.status_code == 200
    shown = pdf_text(response.data)
    assert "Quizzes" in shown and "100%" in shown


def test_the_managers_staff_view_sums_up_each_persons_quizzes(app, client, course, make_user):
    manager = make_user("manager@example.com", organization="和达科技", is_manager=True)
    people = [make_user(f"staff{n}@example.com", organization="和达科技") for n in range(3)]
    client.login(manager.email)
    url = f"/organizations/{manager.organization_id}/"
    client.get(url)
    with count_queries(app) as statements:
        client.get(url)
    few = len(statements)

    with app.test_request_context():  # two of them take the quiz, failing it once first
        lesson_id, ids = quiz_lesson(course.id)
        lesson = db.session.get(Lesson, lesson_id)
        keys = {q.id: (q.kind, q.key) for q in (db.session.get(Question, i) for i in ids)}
        for person in people[:2]:
            user = db.session.get(User, person.id)
            row, _ = enrollment.enroll(user, db.session.get(Course, course.id))
            attempts.submit(attempts.start(user, lesson, row), user)
            attempts.submit(attempts.start(user, lesson, row), user, right_answers(keys))
    with count_queries(app) as statements:
        page = client.get(url).get_data(as_text=True)
    assert len(statements) == few  # one query for everyone's quizzes, whoever took them
    cells = [" ".join(c.split()) for c in re.findall(r'data-test="quizzes">(.*?)</td>', page, re.S)]
    passed = '1 of 1 passed <span class="muted">· best scores average 100%</span>'
    assert cells.count(passed) == 2  # two attempts of one quiz each
    assert cells.count('<span class="muted">—</span>') == 2  # the third and the manager
    zh = client.get(url, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert zh.count("1 个测验通过 1 个") == 2
