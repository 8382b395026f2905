"""Learner-facing pages run a fixed number of SQL queries, however much data there is."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from lms.extensions import db
from lms.models import Camp, Course, Enrollment, Lesson, Module
from tests.conftest import course_url


@contextmanager
def count_queries(app):
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def add_courses(app, first: int, count: int, learner_id: int) -> None:
    """Add published courses (one module, three lessons) with the learner enrolled."""
    with app.app_context():
        camp = db.session.scalar(db.select(Camp).filter_by(slug="entrepreneur"))
        for number in range(first, first + count):
            course = Course(
                camp=camp,
                slug=f"extra-{number}",
                title_zh=f"课程 {number}",
                title_en=f"Course {number}",
                status="published",
                position=100 + number,
            )
            module = Module(course=course, slug="m", title_zh="模块", title_en="Module")
            db.session.add_all([course, module, Enrollment(user_id=learner_id, course=course)])
            for index in range(3):
                db.session.add(
                    Lesson(module=module, slug=f"l{index}", title_zh="课", title_en="Lesson")
                )
        db.session.commit()


def queries_for(app, client, url: str) -> int:
    with count_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


@pytest.mark.parametrize("url", ["/", "/camps/entrepreneur/", "/dashboard"])
def test_listing_pages_do_not_grow_with_the_courses(app, client, learner, url):
    client.login(learner.email)
    add_courses(app, 0, 2, learner.id)
    before = queries_for(app, client, url)
    add_courses(app, 2, 25, learner.id)
    assert queries_for(app, client, url) == before


def test_course_page_does_not_grow_with_its_lessons(app, client, learner, course):
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    before = queries_for(app, client, course_url(course))
    with app.app_context():
        module = db.session.scalars(db.select(Module).filter_by(course_id=course.id)).first()
        for index in range(30):
            db.session.add(
                Lesson(module=module, slug=f"added-{index}", title_zh="课", title_en="Lesson")
            )
        db.session.commit()
    assert queries_for(app, client, course_url(course)) == before
