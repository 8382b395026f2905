"""Finishing a course (the answer that completes the last lesson carries the course's progress
and the certificate's link) and the certificate itself: the printable page, the PDF with its
embedded font and a QR code of the public verification page, the date in the academy's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lms.extensions import db
from lms.models import Certificate, Enrollment, Lesson, LessonProgress, Module
from lms.services import certificates
from lms.services.completion import new_code
from tests.conftest import Client, course_url
from tests.pdf_helpers import fonts, pdf_text
from tests.test_progress_api import age_session, api, opened, video_lessons  # noqa: F401 - fixtures


def lessons_of(app, course_id: int) -> list[Lesson]:
    with app.app_context():
        found = db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course_id)
        ).all()
        db.session.expunge_all()
        return list(found)


def complete_all_but(app, learner_id: int, course_id: int, keep: set[int]) -> None:
    with app.app_context():
        for lesson in lessons_of(app, course_id):
            if lesson.id not in keep:
                db.session.add(
                    LessonProgress(
                        user_id=learner_id, lesson_id=lesson.id, completed_at=db.func.now()
                    )
                )
        db.session.commit()


def test_the_report_that_finishes_the_course_carries_the_certificate(
    app,
    api,  # noqa: F811 - the fixture
    client,
    learner,
    course,
    video_lessons,  # noqa: F811 - the fixture
):
    last = video_lessons[-1]
    complete_all_but(app, learner.id, course.id, keep={last, video_lessons[0]})
    # Completing a lesson that does not finish the course: the course's progress, no link.
    session = opened(api, video_lessons[0])
    age_session(app, session, 10)
    answer = api.report(session, [[0, 3.0]]).get_json()
    assert answer["completed"] is True and answer["course_completed"] is False
    assert 0 < answer["course_percent"] < 100
    assert "certificate_url" not in answer
    # A report that completes nothing new says nothing about the course.
    again = api.report(session, [[0, 3.0]], seq=2).get_json()
    assert "course_percent" not in again and "certificate_url" not in again

    session = opened(api, last)
    age_session(app, session, 10)
    answer = api.report(session, [[0, 3.0]]).get_json()
    assert answer["course_completed"] is True and answer["course_percent"] == 100
    with app.app_context():
        code = db.session.scalar(db.select(Certificate.code))
    assert answer["certificate_code"] == code
    assert answer["certificate_url"] == f"/certificates/{code}"
    # The lesson page now shows the certificate in the sidebar.
    with app.app_context():
        slug = db.session.get(Lesson, last).slug
    page = client.get(course_url(course) + f"lessons/{slug}").get_data(as_text=True)
    assert re.search(r'id="course-certificate"[^>]*>', page).group(0).count("hidden") == 0
    assert f'href="/certificates/{code}"' in page


def test_mark_read_answers_json_with_the_certificate_when_it_finishes_the_course(
    app, client, learner, course
):
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    readings = [x for x in lessons_of(app, course.id) if x.kind == "reading"]
    assert readings
    last = readings[-1]
    complete_all_but(app, learner.id, course.id, keep={last.id})
    url = course_url(course) + f"lessons/{last.slug}/read"
    response = client.post(url, headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.is_json
    body = response.get_json()
    assert body["completed"] is True and body["course_completed"] is True
    assert body["course_percent"] == 100
    assert re.fullmatch(
        r"/certificates/[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", body["certificate_url"]
    )
    # A second time: complete already, nothing finished now.
    again = client.post(url, headers={"Accept": "application/json"}).get_json()
    assert again == {"completed": True, "course_completed": False, "course_percent": 100}


def test_mark_read_without_scripts_redirects_and_congratulates(app, client, learner, course):
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    last = [x for x in lessons_of(app, course.id) if x.kind == "reading"][-1]
    complete_all_but(app, learner.id, course.id, keep={last.id})
    response = client.post(course_url(course) + f"lessons/{last.slug}/read")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Congratulations" in page or "恭喜" in page


def test_mark_read_refuses_what_it_must(app, client, learner, other_learner, course):
    reading = next(x for x in lessons_of(app, course.id) if x.kind == "reading")
    video = next(x for x in lessons_of(app, course.id) if x.kind == "video")
    client.login(other_learner.email)  # not enrolled
    url = course_url(course) + f"lessons/{reading.slug}/read"
    assert client.post(url, headers={"Accept": "application/json"}).status_code == 403
    client.post(course_url(course) + "enroll")
    wrong = course_url(course) + f"lessons/{video.slug}/read"
    assert client.post(wrong, headers={"Accept": "application/json"}).status_code == 409
    missing = course_url(course) + "lessons/nope/read"
    assert client.post(missing, headers={"Accept": "application/json"}).status_code == 404
    assert client.post(url, csrf=False).status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LessonProgress.id))) == 0


# -- the certificate --------------------------------------------------------------------


def add_certificate(user_id: int, course_id: int, **fields: object) -> str:
    """Issue a certificate as completion would, with a snapshot of ``fields`` (names and
    titles, minutes, issued_at); its code. In an app context; no commit."""
    values = {
        "learner_name": "张伟 <Wei> & Co",
        "course_title_zh": "战略工具箱：从零到一",
        "course_title_en": "Strategy toolkit",
        "camp_title_zh": "创业成长营",
        "camp_title_en": "Startup growth",
        "minutes": 95,
        **fields,
    }
    code = new_code()
    db.session.add(Certificate(code=code, user_id=user_id, course_id=course_id, **values))
    return code


@pytest.fixture
def certificate(app, learner, course) -> str:
    """A certificate issued at 2027-01-01 20:00 UTC: 2 January 04:00 in Shanghai."""
    with app.app_context():
        code = add_certificate(
            learner.id, course.id, issued_at=datetime(2027, 1, 1, 20, 0, tzinfo=UTC)
        )
        db.session.add(Enrollment(user_id=learner.id, course_id=course.id, status="completed"))
        db.session.commit()
        return code


def test_the_page_shows_the_day_in_the_academys_time_zone_and_a_qr_code(app, certificate):
    anonymous = Client(app.test_client())
    page = anonymous.get(
        f"/certificates/{certificate.lower()}", headers={"Accept-Language": "zh-CN"}
    ).get_data(as_text=True)
    assert 'datetime="2027-01-02"' in page  # not the 1st: the day in Asia/Shanghai
    assert "2027年1月2日" in page
    assert "张伟 &lt;Wei&gt; &amp; Co" in page
    assert "战略工具箱：从零到一" in page
    assert '<svg viewBox="0 0 ' in page and 'class="certificate-qr"' in page
    assert f"http://localhost/certificates/{certificate}" in page  # absolute
    assert f'href="/certificates/{certificate}.pdf"' in page
    english = anonymous.get(
        f"/certificates/{certificate}", headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    assert "January 2, 2027" in english and "Strategy toolkit" in english


def test_the_qr_code_leads_to_the_configured_public_address(app, certificate):
    app.config["BASE_URL"] = "https://lms.example.org/"
    page = Client(app.test_client()).get(f"/certificates/{certificate}").get_data(as_text=True)
    assert f"https://lms.example.org/certificates/{certificate}" in page
    svg = certificates.qr_svg(f"https://lms.example.org/certificates/{certificate}")
    assert svg in page


def test_the_pdf_embeds_its_font_and_says_everything(app, certificate):
    app.config["BASE_URL"] = "https://lms.example.org/"
    response = Client(app.test_client()).get(
        f"/certificates/{certificate}.pdf", headers={"Accept-Language": "zh-CN"}
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment; ")
    assert f'filename="certificate-{certificate}.pdf"' in response.headers["Content-Disposition"]
    data = response.get_data()
    used = fonts(data)
    assert used and all(font["embedded"] and font["truetype_file"] for font in used), used
    assert all("NotoSansSC" in font["name"] for font in used)
    shown = pdf_text(data)
    for expected in (
        "张伟 <Wei> & Co",
        "战略工具箱：从零到一",
        "创业成长营",
        "2027年1月2日",
        certificate,
    ):
        assert expected in shown, (expected, shown)
    assert f"https://lms.example.org/certificates/{certificate}" in shown
    assert b"/URI (https://lms.example.org/certificates/" in data  # the QR code is a link too


@pytest.mark.parametrize(
    "name", ['Li "Lei" <b>&amp;</b>', "\x01\x7f", "x" * 100, "😀 emoji 名字", "Ünïcödé Çà"]
)
def test_awkward_names_make_a_valid_pdf(app, certificate, name):
    with app.app_context():
        db.session.scalar(db.select(Certificate)).learner_name = name
        db.session.commit()
    response = Client(app.test_client()).get(f"/certificates/{certificate}.pdf")
    assert response.status_code == 200
    assert response.get_data().startswith(b"%PDF-")
    pdf_text(response.get_data())  # readable


@pytest.mark.parametrize("code", ["AAAA-BBBB-CCCC", "x", "%00", "A" * 300, "AAAA-BBBB-CCCC.pdf"])
def test_unknown_codes_are_404(app, code):
    anonymous = Client(app.test_client())
    assert anonymous.get(f"/certificates/{code}").status_code == 404
    assert anonymous.get(f"/certificates/{code}.pdf").status_code == 404


def test_the_page_prints_as_the_certificate(app):
    css = Path(app.static_folder, "css", "app.css").read_text()
    assert "@page certificate" in css and ".certificate { page: certificate; }" in css


def test_a_configured_pdf_font_must_be_a_truetype_file(make_app, tmp_path):
    from lms.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="PDF_FONT"):
        make_app(PDF_FONT=str(tmp_path / "missing.ttf"))


def test_the_quiz_attempt_that_finishes_the_course_congratulates(app, learner, course):
    from tests.quiz_helpers import quiz_lesson, right_answers
    from tests.test_quiz_attempts import keys, save, start

    with app.app_context():
        lesson_id, ids = quiz_lesson(course.id)
    taker = Client(app.test_client())
    taker.login(learner.email)
    taker.post(course_url(course) + "enroll")
    complete_all_but(app, learner.id, course.id, keep={lesson_id})
    # A failed attempt first: no congratulation.
    failed = start(taker, lesson_id)
    taker.post(f"/quiz/attempts/{failed}/submit")
    page = taker.get(f"/quiz/attempts/{failed}").get_data(as_text=True)
    assert 'data-test="course-finish"' not in page
    passed = start(taker, lesson_id)
    assert save(taker, passed, right_answers(keys(app, ids))).status_code == 200
    taker.post(f"/quiz/attempts/{passed}/submit")
    page = taker.get(f"/quiz/attempts/{passed}").get_data(as_text=True)
    with app.app_context():
        code = db.session.scalar(db.select(Certificate.code))
    assert 'data-test="course-finish"' in page and f'href="/certificates/{code}"' in page
    # The earlier attempt's page does not claim it finished the course.
    page = taker.get(f"/quiz/attempts/{failed}").get_data(as_text=True)
    assert 'data-test="course-finish"' not in page


def test_the_archive_pdf_in_its_embedded_font_keeps_month_labels_whole(app, client, learner):
    from lms.models._base import utcnow
    from lms.services import hours

    client.login(learner.email)
    data = client.get(
        f"/people/{learner.id}/archive.pdf", headers={"Accept-Language": "zh-CN"}
    ).get_data()
    assert all(font["embedded"] and font["truetype_file"] for font in fonts(data))
    shown = pdf_text(data)
    today = hours.local_day(utcnow())
    assert f"{today.year}-{today.month:02d}" in shown  # not "2026-1 2" across two lines
    assert "培养档案" in shown or "学习档案" in shown
