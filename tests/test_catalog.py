import re

import pytest

from lms.extensions import db
from lms.models import Course, Enrollment, Lesson, LessonProgress, Module
from tests.conftest import course_url


def lessons_of(app, course, kind=None):
    with app.app_context():
        query = (
            db.select(Lesson)
            .join(Module)
            .where(Module.course_id == course.id)
            .order_by(Module.position, Lesson.position)
        )
        if kind:
            query = query.where(Lesson.kind == kind)
        found = db.session.scalars(query).all()
        db.session.expunge_all()
        return found


def enroll(client, course):
    return client.post(course_url(course) + "enroll")


def test_catalog_groups_courses_by_camp(client):
    page = client.get("/").get_data(as_text=True)
    titles = re.findall(r'<h2 id="camp-([a-z-]+)">', page)
    assert titles == ["startup-growth", "entrepreneur", "silicon-valley", "practitioner"]
    assert "Startup Growth Camp" in page


def test_camp_page_lists_its_courses(client, course):
    response = client.get(f"/camps/{course.camp.slug}/")
    assert response.status_code == 200
    assert course.title_en in response.get_data(as_text=True)


def test_course_page_shows_the_syllabus(client, app, course):
    page = client.get(course_url(course)).get_data(as_text=True)
    for lesson in lessons_of(app, course):
        assert lesson.title_en in page
    assert "Log in to enroll" in page


def test_unknown_camp_and_course_are_404(client, course):
    assert client.get("/camps/nope/").status_code == 404
    assert client.get(f"/camps/{course.camp.slug}/nope/").status_code == 404
    assert client.get(f"/camps/entrepreneur/{course.slug}/").status_code == 404


def test_enrolling_adds_the_course_to_the_dashboard(client, app, learner, course):
    client.login(learner.email)
    response = enroll(client, course)
    assert response.status_code == 302
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert course.title_en in dashboard
    assert 'value="0"' in dashboard


def test_enrolling_twice_keeps_one_enrollment(client, app, learner, course):
    client.login(learner.email)
    enroll(client, course)
    enroll(client, course)
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count(Enrollment.id)))
    assert count == 1


def test_anonymous_enroll_is_sent_to_login(client, course):
    response = enroll(client, course)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_enroll_without_csrf_is_refused(client, app, learner, course):
    client.login(learner.email)
    assert client.post(course_url(course) + "enroll", csrf=False).status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Enrollment.id))) == 0


def test_draft_course_is_hidden_from_learners_but_not_organizers(
    client, app, learner, organizer, course
):
    with app.app_context():
        db.session.get(Course, course.id).status = "draft"
        db.session.commit()
    client.login(learner.email)
    assert client.get(course_url(course)).status_code == 404
    assert enroll(client, course).status_code == 404
    client.logout()
    client.login(organizer.email)
    page = client.get(course_url(course))
    assert page.status_code == 200
    assert "Draft" in page.get_data(as_text=True)


def test_lessons_are_for_enrolled_learners(client, app, learner, course):
    lesson = lessons_of(app, course)[0]
    url = course_url(course) + f"lessons/{lesson.slug}"
    assert client.get(url).status_code == 302  # to login
    client.login(learner.email)
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == course_url(course)
    enroll(client, course)
    assert client.get(url).status_code == 200
    assert client.get(course_url(course) + "lessons/nope").status_code == 404


def test_reading_a_lesson_moves_the_progress_bar(client, app, learner, course):
    client.login(learner.email)
    enroll(client, course)
    reading = lessons_of(app, course, kind="reading")[0]
    response = client.post(course_url(course) + f"lessons/{reading.slug}/read")
    assert response.status_code == 302
    client.post(course_url(course) + f"lessons/{reading.slug}/read")  # idempotent
    with app.app_context():
        rows = db.session.scalars(db.select(LessonProgress)).all()
        required = db.session.scalar(
            db.select(db.func.count(Lesson.id))
            .join(Module)
            .where(Module.course_id == course.id, Lesson.required.is_(True))
        )
    assert len(rows) == 1 and rows[0].completed_at is not None
    expected = round(100 / required)
    assert f'value="{expected}"' in client.get(course_url(course)).get_data(as_text=True)


def test_reading_requires_enrollment_and_a_reading_lesson(client, app, learner, course):
    client.login(learner.email)
    reading = lessons_of(app, course, kind="reading")[0]
    video = lessons_of(app, course, kind="video")[0]
    assert client.post(course_url(course) + f"lessons/{reading.slug}/read").status_code == 403
    enroll(client, course)
    assert client.post(course_url(course) + f"lessons/{video.slug}/read").status_code == 409


def test_lesson_markdown_is_sanitized(client, app, learner, course):
    reading = lessons_of(app, course, kind="reading")[0]
    with app.app_context():
        lesson = db.session.get(Lesson, reading.id)
        lesson.body_en = "## Hi\n\n<script>alert(1)</script> [x](javascript:alert(2)) **ok**"
        db.session.commit()
    client.login(learner.email)
    enroll(client, course)
    page = client.get(course_url(course) + f"lessons/{reading.slug}").get_data(as_text=True)
    assert "<h2>Hi</h2>" in page
    assert "<strong>ok</strong>" in page
    assert "<script>alert" not in page
    assert "javascript:" not in page


@pytest.mark.parametrize("camp_slug", ["entrepreneur", "silicon-valley"])
def test_every_camp_course_page_renders(client, app, camp_slug):
    with app.app_context():
        courses = db.session.scalars(
            db.select(Course).join(Course.camp).where(Course.camp.has(slug=camp_slug))
        ).all()
        urls = [f"/camps/{camp_slug}/{c.slug}/" for c in courses]
    assert urls
    for url in urls:
        assert client.get(url).status_code == 200


def test_enroll_service_reports_a_new_enrollment_once(app, learner, course):
    from lms.models import User
    from lms.services import enrollment

    with app.test_request_context():
        user = db.session.get(User, learner.id)
        target = db.session.get(Course, course.id)
        first = enrollment.enroll(user, target)
        second = enrollment.enroll(user, target)
    assert (first[1], second[1]) == (True, False)
    assert first[0].id == second[0].id


def add_courses(app, camp_id: int, count: int, status: str = "published") -> None:
    with app.app_context():
        db.session.execute(
            db.insert(Course),
            [
                {"camp_id": camp_id, "slug": f"{status}-{n:03d}", "position": 1000 + n,
                 "status": status, "title_zh": f"附加 {n:03d}", "title_en": f"Extra {n:03d}"}
                for n in range(count)
            ],
        )  # fmt: skip
        db.session.commit()


def published_in(app, camp_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(db.func.count(Course.id)).filter_by(camp_id=camp_id, status="published")
        )


def test_the_catalog_shows_the_first_courses_of_a_large_camp_and_links_to_all(client, app, course):
    add_courses(app, course.camp_id, 30)
    add_courses(app, course.camp_id, 5, status="draft")
    total = published_in(app, course.camp_id)
    page = client.get("/").get_data(as_text=True)
    section = page.split(f'id="camp-{course.camp.slug}"')[1].split("</section>")[0]
    assert section.count('<article class="card') == 6
    assert "Extra 029" not in section  # the first ones by position, not the last
    assert f"All {total} courses" in section
    other = page.split('id="camp-practitioner"')[1].split("</section>")[0]
    assert "All " not in other  # a camp whose courses all fit has no link


@pytest.mark.parametrize(("page", "shown"), [("1", 1), ("2", 2), ("99", 2), ("-3", 1), ("x", 1)])
def test_a_camp_page_lists_its_courses_page_by_page(client, app, course, page, shown):
    add_courses(app, course.camp_id, 30)
    total = published_in(app, course.camp_id)
    html = client.get(f"/camps/{course.camp.slug}/?page={page}").get_data(as_text=True)
    assert f"Page {shown} of 2" in html
    cards = html.count('<article class="card')
    assert cards == (24 if shown == 1 else total - 24)
    assert ('rel="next"' in html) == (shown == 1)
    assert ('rel="prev"' in html) == (shown == 2)
