"""The learner archive (培养档案): who sees it, what it holds, its PDF, its query count."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import (
    Attendance,
    Camp,
    Certificate,
    Course,
    Enrollment,
    LiveSession,
    Registration,
    User,
)
from lms.models._base import utcnow
from lms.services import archive, hours, live, live_attendance, live_corrections
from lms.services.completion import new_code
from lms.services.loading import load
from tests.pdf_helpers import fonts, pdf_text
from tests.test_query_counts import count_queries

LECTURE = [
    {"kind": "lecture", "title_zh": "讲座", "title_en": "Lecture", "offset": 0, "minutes": 60}
]


# -- people ----------------------------------------------------------------------------


@pytest.fixture
def people(make_user, trainer, organizer) -> dict[str, User]:
    """The learner of Acme and everyone who might look at their archive."""
    return {
        "self": make_user("learner@acme.test", organization="Acme"),
        "colleague": make_user("colleague@acme.test", organization="Acme"),
        "manager": make_user("boss@acme.test", organization="Acme", is_manager=True),
        "other manager": make_user("boss@globex.test", organization="Globex", is_manager=True),
        "trainer": trainer,
        "organizer": organizer,
    }


def rename(app, user_id: int, name: str) -> None:
    with app.app_context():
        db.session.get(User, user_id).name = name
        db.session.commit()


# -- records ---------------------------------------------------------------------------


def a_course(number: int = 0) -> Course:
    camp = db.session.scalar(db.select(Camp).filter_by(slug="entrepreneur"))
    course = Course(
        camp=camp,
        slug=f"archive-{number}",
        title_zh=f"档案课程 {number}",
        title_en=f"Archive course {number}",
        status="published",
    )
    db.session.add(course)
    db.session.flush()
    return course


def a_session(title: str, starts_at: datetime, status: str = "scheduled") -> LiveSession:
    camp = db.session.scalar(db.select(Camp).filter_by(slug="entrepreneur"))
    session = live.create_session(
        live.SessionValues(
            title_zh=f"{title}（中）", title_en=title, location="centre", capacity=10,
            camp_id=camp.id,
        ),
        starts_at,
        LECTURE,
    )  # fmt: skip
    session.status = status
    db.session.commit()
    return session


def register(user_id: int, session: LiveSession, status: str = "registered") -> None:
    db.session.add(Registration(session_id=session.id, user_id=user_id, status=status))
    db.session.commit()


def attend(user_id: int, session: LiveSession, status: str = "present") -> None:
    """A check-in as the check-in service records it: attendance and its ledger entry."""
    attendance = Attendance(
        session_id=session.id, user_id=user_id, status=status,
        checked_in_at=session.starts_at, method="code",
    )  # fmt: skip
    db.session.add(attendance)
    db.session.flush()
    live_attendance.apply(  # every segment, as a check-in in each would
        session,
        attendance,
        live_attendance.spans_between(
            session, session.starts_at.replace(tzinfo=UTC), session.ends_at.replace(tzinfo=UTC)
        ),
        "code",
    )
    hours.record_attendance(
        session, attendance, f"live:{session.id}:{user_id}:test", source="live",
        now=session.ends_at.replace(tzinfo=UTC),
    )  # fmt: skip
    db.session.commit()


def complete(user_id: int, course: Course, enrolled_at: datetime, completed_at: datetime) -> None:
    db.session.add(
        Enrollment(
            user_id=user_id, course_id=course.id, status="completed",
            enrolled_at=enrolled_at, completed_at=completed_at,
        )
    )  # fmt: skip
    db.session.add(
        Certificate(
            code=new_code(), user_id=user_id, course_id=course.id, issued_at=completed_at,
            learner_name="x", course_title_zh=course.title_zh, course_title_en=course.title_en,
            camp_title_zh="企业家训练营", camp_title_en="Entrepreneur", minutes=90,
        )
    )  # fmt: skip
    db.session.commit()


@pytest.fixture
def record(app, people):
    """A year of the learner's training: every kind of timeline event, and what counts for
    the attendance rate and what does not."""
    learner_id, trainer_id = people["self"].id, people["trainer"].id
    now = utcnow().replace(microsecond=0)
    with app.app_context():
        course = a_course()
        complete(learner_id, course, now - timedelta(days=60), now - timedelta(days=10))
        first = a_session("First lecture", now - timedelta(days=40))
        register(learner_id, first)
        attend(learner_id, first)  # present: 1 h
        missed = a_session("Missed lecture", now - timedelta(days=20))
        register(learner_id, missed)  # a seat, no attendance: counts as not attended
        corrected = a_session("Corrected lecture", now - timedelta(days=5))
        register(learner_id, corrected)
        live_corrections.correct(
            db.session.get(User, trainer_id), corrected, db.session.get(User, learner_id),
            "present", "forgot to check in", now=now - timedelta(days=4),
        )  # fmt: skip
        upcoming = a_session("Upcoming lecture", now + timedelta(days=3))
        register(learner_id, upcoming)  # not ended: not counted
        dropped = a_session("Cancelled lecture", now - timedelta(days=15), status="cancelled")
        register(learner_id, dropped)  # cancelled session: not counted
        waiting = a_session("Full lecture", now - timedelta(days=25))
        register(learner_id, waiting, status="waitlisted")  # no seat: not counted
    return now


# -- who sees it -----------------------------------------------------------------------

MATRIX = [
    ("self", 200),
    ("colleague", 404),
    ("manager", 200),
    ("other manager", 404),
    ("trainer", 404),
    ("organizer", 200),
]


@pytest.mark.parametrize("suffix", ["archive", "archive.pdf"])
@pytest.mark.parametrize(("viewer", "status"), MATRIX)
def test_permission_matrix(client, people, viewer, status, suffix):
    client.login(people[viewer].email)
    response = client.get(f"/people/{people['self'].id}/{suffix}")
    assert response.status_code == status


@pytest.mark.parametrize("suffix", ["archive", "archive.pdf"])
def test_unknown_ids_get_the_same_404_even_for_organizers(client, people, suffix):
    client.login(people["organizer"].email)
    for user_id in (999_999, 2**31 - 1, 2**40):
        assert client.get(f"/people/{user_id}/{suffix}").status_code == 404


@pytest.mark.parametrize("suffix", ["archive", "archive.pdf"])
def test_anonymous_visitors_are_sent_to_log_in_whatever_the_id(client, people, suffix):
    for user_id in (people["self"].id, 999_999):
        response = client.get(f"/people/{user_id}/{suffix}")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    assert client.get("/archive").headers["Location"].startswith("/login")


def test_archive_redirects_to_your_own(client, people):
    client.login(people["colleague"].email)
    response = client.get("/archive")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/people/{people['colleague'].id}/archive"


def test_dashboard_and_account_link_to_the_archive(client, people):
    client.login(people["self"].email)
    for url in ("/dashboard", "/account"):
        assert 'href="/archive"' in client.get(url).get_data(as_text=True)


# -- what it holds ---------------------------------------------------------------------


def test_archive_totals_and_attendance_rate(app, people, record):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        found = archive.build(db.session.get(User, people["self"].id))
        camps = [(camp.title, camp.hours) for camp in found.camps]
    totals = found.totals
    assert found.profile.organization == "Acme"
    assert (totals.courses_enrolled, totals.courses_completed, totals.certificates) == (1, 1, 1)
    # present at the first and (after the correction) the corrected lecture; the missed
    # lecture counts against; upcoming, cancelled and waitlisted sessions do not count
    assert (totals.sessions_attended, totals.sessions_counted) == (2, 3)
    assert totals.attendance_rate == 67
    assert totals.seconds_all == 2 * 3600
    assert totals.target_hours == 12
    assert len(found.months) == 12
    assert camps == [("Entrepreneur Camp", 2.0)]


def test_timeline_is_newest_first_with_every_kind(app, client, people, record):
    client.login(people["manager"].email)
    page = client.get(f"/people/{people['self'].id}/archive").get_data(as_text=True)
    timeline = page[page.index('data-test="timeline"') :]
    expected = [
        "Attendance corrected",  # 4 days ago
        "Live session</strong> · Corrected lecture",  # 5 days ago
        "Certificate issued",  # 10 days ago, same moment as the completion: comes first
        "Completed the course",
        "Live session</strong> · First lecture",  # 40 days ago
        "Enrolled",  # 60 days ago
    ]
    positions = [timeline.index(text) for text in expected]
    assert positions == sorted(positions)
    assert "Missed lecture" not in timeline and "Upcoming lecture" not in timeline
    assert "absent → present" in timeline and "forgot to check in" in timeline
    assert "by trainer" in timeline
    assert "1.0 h credited" in timeline
    code = re.search(r'href="/certificates/([A-Z0-9-]{14})"', timeline)
    assert code, "the certificate links to its public verification page"
    assert client.get(f"/certificates/{code.group(1)}").status_code == 200
    assert 'data-test="attendance-rate">67%' in page


def test_the_page_escapes_names(app, client, people):
    rename(app, people["self"].id, '<script>alert("x")</script> & Co')
    client.login(people["self"].email)
    page = client.get(f"/people/{people['self'].id}/archive").get_data(as_text=True)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page


def test_an_empty_archive_renders(client, people):
    client.login(people["colleague"].email)
    response = client.get(f"/people/{people['colleague'].id}/archive")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Nothing on record yet." in page
    assert 'data-test="attendance-rate">—' in page


def test_the_archive_uses_the_organizations_target(app, client, people):
    with app.app_context():
        load(db.session.get(User, people["self"].id), "organization").monthly_target_hours = 30
        db.session.commit()
    with app.test_request_context():
        assert archive.build(db.session.get(User, people["self"].id)).totals.target_hours == 30


# -- the PDF ---------------------------------------------------------------------------


def test_the_pdf_is_a_real_pdf_with_the_archive(app, client, people, record):
    rename(app, people["self"].id, "张三 <Zhang> & Co")
    client.login(people["organizer"].email)
    response = client.get(f"/people/{people['self'].id}/archive.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    data = response.get_data()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert b"/STSong-Light" not in data  # no font left to the reader: every one embedded
    assert all(font["embedded"] and font["truetype_file"] for font in fonts(data)), fonts(data)
    shown = pdf_text(data)
    assert "张三 <Zhang> & Co" in shown
    assert "First lecture" in shown and "Corrected lecture" in shown
    assert shown.index("Attendance corrected") < shown.index("First lecture")
    assert "forgot to check in" in shown
    assert "67%" in shown
    assert "http://localhost/certificates/" in shown


def test_the_pdf_is_a_download_that_is_never_cached(app, client, people):
    rename(app, people["self"].id, "张三")
    client.login(people["self"].email)
    response = client.get(f"/people/{people['self'].id}/archive.pdf")
    disposition = response.headers["Content-Disposition"]
    # Werkzeug's send_file: an ASCII ``filename`` (what is left of the name), the full one in
    # RFC 5987's ``filename*``.
    assert disposition == (
        'attachment; filename=" - Training archive.pdf"; '
        "filename*=UTF-8''%E5%BC%A0%E4%B8%89%20-%20Training%20archive.pdf"
    )
    disposition.encode("ascii")  # the header itself is plain ASCII
    assert "no-store" in response.headers["Cache-Control"]


@pytest.mark.parametrize(
    "name",
    ['Li "Lei" <b>&amp;</b>', "A/B\\C\r\nD", "😀 emoji 名字", "\x01\x7f", "x" * 100, "Ünïcödé"],
)
def test_awkward_names_do_not_break_the_pdf(app, client, people, name):
    rename(app, people["self"].id, name)
    client.login(people["self"].email)
    response = client.get(f"/people/{people['self'].id}/archive.pdf")
    assert response.status_code == 200
    assert response.get_data().startswith(b"%PDF-")
    disposition = response.headers["Content-Disposition"]
    disposition.encode("ascii")
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith("attachment; filename=")
    assert re.search(r"Training(%20| )archive\.pdf", disposition)


def test_the_pdf_follows_the_language(app, client, people, record):
    client.login(people["self"].email)
    response = client.get(
        f"/people/{people['self'].id}/archive.pdf", headers={"Accept-Language": "zh-CN"}
    )
    shown = pdf_text(response.get_data())
    assert "Corrected lecture（中）" in shown  # the Chinese titles


# -- queries ---------------------------------------------------------------------------


def add_more(app, user_id: int, trainer_id: int, first: int, count: int) -> None:
    now = utcnow().replace(microsecond=0)
    with app.app_context():
        for number in range(first, first + count):
            course = a_course(number)
            complete(user_id, course, now - timedelta(days=50), now - timedelta(days=number))
            session = a_session(f"Lecture {number}", now - timedelta(days=30 + number))
            register(user_id, session)
            attend(user_id, session, "late" if number % 2 else "present")
            live_corrections.correct(
                db.session.get(User, trainer_id), session, db.session.get(User, user_id),
                "excused", f"reason {number}", now=now - timedelta(days=number),
            )  # fmt: skip
            hours.add(
                key=f"video-{number}", user_id=user_id, source="video", seconds=600,
                day=(now - timedelta(days=number)).date(), course_id=course.id,
            )  # fmt: skip
            db.session.commit()


@pytest.mark.parametrize("suffix", ["archive", "archive.pdf"])
def test_the_archive_runs_a_fixed_number_of_queries(app, client, people, suffix):
    learner_id = people["self"].id
    client.login(people["manager"].email)
    url = f"/people/{learner_id}/{suffix}"
    add_more(app, learner_id, people["trainer"].id, 1, 2)
    with count_queries(app) as statements:
        assert client.get(url).status_code == 200
    before = len(statements)
    add_more(app, learner_id, people["trainer"].id, 3, 12)
    with count_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200
    assert len(statements) == before
    if suffix == "archive":
        assert response.get_data(as_text=True).count('class="timeline-item') == 14 * 5


def test_archive_is_computed_for_a_given_day(app, people):
    """Hours this year and this month follow ``today``; corrections never make them negative."""
    learner_id = people["self"].id
    with app.app_context():
        for key, day, seconds in [
            ("a", date(2027, 5, 3), 3600),
            ("b", date(2027, 1, 3), 7200),
            ("c", date(2026, 12, 3), 1800),
            ("d", date(2027, 5, 4), -7200),
        ]:
            hours.add(key=key, user_id=learner_id, source="correction", seconds=seconds, day=day)
        db.session.commit()
    with app.test_request_context():
        totals = archive.build(db.session.get(User, learner_id), today=date(2027, 5, 20)).totals
    assert (totals.seconds_all, totals.seconds_year, totals.seconds_month) == (5400, 3600, 0)
    assert totals.month_percent == 0


# -- printing --------------------------------------------------------------------------


def media_block(css: str, query: str) -> str:
    """The body of the ``@media <query> { … }`` block of a stylesheet (braces balanced)."""
    start = css.index("{", css.index(f"@media {query}")) + 1
    depth, end = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(css[end], 0)
        end += 1
    return css[start : end - 1]


def hidden_selectors(block: str) -> set[str]:
    """The selectors the block's rules hide with ``display: none``."""
    hidden = set()
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", block):
        if re.search(r"display:\s*none", body):
            hidden |= {selector.strip() for selector in selectors.split(",")}
    return hidden


def test_the_archive_page_prints_without_the_navigation(client, people):
    client.login(people["self"].email)
    page = client.get(f"/people/{people['self'].id}/archive").get_data(as_text=True)
    # the print control: a button the print script shows (hidden without scripts), inside
    # the actions that are not printed, next to the PDF download
    button = re.search(r'<div class="actions no-print">(.*?)</div>', page, re.S)
    assert button and re.search(r"<button[^>]*\bdata-print\b[^>]*\bhidden\b[^>]*>Print</button>",
                                button.group(1))  # fmt: skip
    assert 'data-test="archive-pdf"' in button.group(1)
    script = re.search(r'<script src="(/static/js/print\.js)[^"]*"', page)
    assert script, "the page loads the print script"
    code = client.get(script.group(1)).get_data(as_text=True)
    assert "[data-print]" in code and "window.print()" in code and "hidden = false" in code
    # the navigation sits in the top bar, the page's content in <main>
    header = page[page.index('<header class="topbar">') : page.index("</header>")]
    assert '<nav class="nav"' in header
    assert page.index("</header>") < page.index('<article class="archive">')
    # the stylesheet the page links hides the top bar, the footer and the controls in print
    sheets = re.findall(r'<link rel="stylesheet" href="(/static/[^"]+\.css)[^"]*"', page)
    assert sheets == ["/static/css/app.css"]
    response = client.get(sheets[0])
    assert response.status_code == 200
    printed = media_block(response.get_data(as_text=True), "print")
    assert {".topbar", ".footer", ".no-print", "button"} <= hidden_selectors(printed)
    assert not {".archive", "main", "main.wrap", ".archive-section"} & hidden_selectors(printed)
    assert "[data-print][hidden]" in hidden_selectors(response.get_data(as_text=True))
