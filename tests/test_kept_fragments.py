"""Kept pages (issue 20): fragments with holes, the layout's kept blocks, the session cookie
checked once per process, the templates' translation functions.

The hot pages keep what every reader sees alike (lms/cache.py) and leave holes for what is
each reader's own; these tests render them for two learners through the fast path and the
general one (``FAST_PATHS`` off) and compare. Each test runs on SQLite and, with
``LMS_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import render_template_string, session
from flask_babel import force_locale
from flask_login.utils import _create_identifier

from lms.extensions import db
from lms.models import Lesson, LessonProgress, Module, User
from lms.web.auth import session_identifier
from lms.web.session_cookie import SessionCookies
from tests.conftest import Client
from tests.test_versioned_caches import enrolled_browsers, hot_pages, html


def test_each_learner_sees_their_own_progress_in_the_kept_pages(make_app, learner, other_learner):
    fast, general = make_app(), make_app(FAST_PATHS=False)
    pages = hot_pages(fast)
    mine, mine_general = enrolled_browsers(fast, general, learner, pages[2])
    theirs, theirs_general = enrolled_browsers(fast, general, other_learner, pages[2])
    with fast.app_context():  # the learner completed the course's first lesson
        lesson = db.session.scalars(
            db.select(Lesson).join(Module).where(Lesson.slug == pages[3].rsplit("/", 1)[1])
        ).first()
        db.session.add(
            LessonProgress(user_id=learner.id, lesson_id=lesson.id, completed_at=datetime.now(UTC))
        )
        db.session.commit()
    for path in pages:
        for _round in range(2):  # the second from the process's fragments
            own = html(mine.get(path))
            other = html(theirs.get(path))
            assert own == html(mine_general.get(path)), path
            assert other == html(theirs_general.get(path)), path
    course, lesson_page = html(mine.get(pages[2])), html(mine.get(pages[3]))
    assert 'class="check"' in course and 'class="check"' not in html(theirs.get(pages[2]))
    assert 'lesson-row current done"' in lesson_page
    assert 'lesson-row current"' in html(theirs.get(pages[3]))


def test_a_learner_not_enrolled_gets_the_enroll_form_both_ways(make_app, learner):
    fast, general = make_app(), make_app(FAST_PATHS=False)
    course = hot_pages(fast)[2]
    browser = Client(fast.test_client())
    browser.login(learner.email)
    other = Client(general.test_client())
    other.raw.set_cookie("session", browser.raw.get_cookie("session").value)
    page = html(browser.get(course))
    assert 'data-test="enroll"' in page and 'name="csrf_token"' in page
    assert html(browser.get(course)) == page == html(other.get(course))


def test_the_bell_follows_the_unread_count(make_app, learner):
    fast, general = make_app(), make_app(FAST_PATHS=False)
    browser = Client(fast.test_client())
    browser.login(learner.email)
    other = Client(general.test_client())
    other.raw.set_cookie("session", browser.raw.get_cookie("session").value)
    for unread, shown in ((0, None), (3, "3"), (150, "99+"), (0, None)):
        with fast.app_context():
            db.session.get(User, learner.id).unread_notifications = unread
            db.session.commit()
        page = html(browser.get("/"))
        assert page == html(other.get("/"))
        if shown is None:
            assert "bell-count" not in page
        else:
            assert f'<span class="bell-count" aria-hidden="true">{shown}</span>' in page
            assert "(3 unread)" in page if unread == 3 else "(150 unread)" in page
        on_notifications = html(browser.get("/notifications"))
        assert 'data-test="bell" aria-current="page"' in on_notifications


def test_kept_links_follow_the_root_url(app):
    client = app.test_client()
    for root in ("", "/lms", ""):
        page = client.get("/", base_url=f"http://localhost{root}/").get_data(as_text=True)
        assert f'href="{root}/static/css/app.css?v=' in page
        assert f'<form class="lang" method="post" action="{root}/language">' in page
        assert f'href="{root}/register"' in page


def test_a_verified_cookie_is_kept_but_a_changed_one_is_checked(app, learner):
    browser = Client(app.test_client())
    browser.login(learner.email)
    assert browser.get("/dashboard").status_code == 200
    cookie = browser.raw.get_cookie("session").value
    tampered = Client(app.test_client())
    tampered.raw.set_cookie("session", cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB"))
    assert tampered.get("/dashboard").status_code == 302  # not logged in
    assert browser.get("/dashboard").status_code == 200
    lifetime = app.permanent_session_lifetime
    app.permanent_session_lifetime = timedelta(seconds=-1)  # every cookie is too old now
    try:
        assert browser.get("/dashboard").status_code == 302
    finally:
        app.permanent_session_lifetime = lifetime


def test_kept_cookies_hand_out_copies_and_only_of_plain_values(app):
    cookies = SessionCookies()
    with app.test_request_context("/"):
        serializer = cookies.get_signing_serializer(app)
        plain = serializer.dumps({"a": 1, "b": "x"})
        nested = serializer.dumps({"_flashes": [["info", "hello"]]})
    for value in (plain, plain, nested, nested):
        with app.test_request_context("/", headers={"Cookie": f"session={value}"}) as context:
            opened = cookies.open_session(app, context.request)
            assert opened is not None
            opened["a"] = 2  # changed in this request only
            if "_flashes" in opened:
                opened["_flashes"].append(["info", "again"])
    with app.test_request_context("/", headers={"Cookie": f"session={plain}"}) as context:
        assert dict(cookies.open_session(app, context.request)) == {"a": 1, "b": "x"}
    with app.test_request_context("/", headers={"Cookie": f"session={nested}"}) as context:
        assert cookies.open_session(app, context.request)["_flashes"] == [["info", "hello"]]
    kept = next(iter(cookies._verified.values()))
    assert plain in kept and nested not in kept


def test_the_session_identifier_is_flask_logins(app):
    for headers, address in (
        ({"User-Agent": "Mozilla/5.0 (X11)"}, "10.0.0.1"),
        ({}, "10.0.0.2"),
        ({"User-Agent": "agent", "X-Forwarded-For": "1.2.3.4, 10.0.0.1"}, "10.0.0.1"),
        ({"User-Agent": "浏览器"}, "::1"),
    ):
        environ = {"REMOTE_ADDR": address}
        with app.test_request_context("/", headers=headers, environ_base=environ):
            assert session_identifier() == _create_identifier()
            assert session_identifier() == _create_identifier()  # the kept one


def test_the_templates_translations_follow_force_locale(app):
    page = (
        "{{ _('Catalog') }}|{{ _('%(x)s!', x='<b>') }}|"
        "{{ ngettext('%(num)d lesson', '%(num)d lessons', 3) }}"
    )
    with app.test_request_context("/", headers={"Accept-Language": "zh-CN"}):
        chinese = render_template_string(page)
        with force_locale("en"):
            english = render_template_string(page)
        assert render_template_string(page) == chinese
        session.clear()
    assert english == "Catalog|&lt;b&gt;!|3 lessons"
    assert chinese.startswith("课程目录|&lt;b&gt;!|3") and chinese != english
