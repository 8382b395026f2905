"""The fast paths answer exactly what the general ones do, and cost what they should
(issue 20).

nginx's authorize (``lms.services.media_access``): one pre-built statement, compared with the
general rule (``catalog.lesson_access`` and ``catalog.can_edit`` through the ORM) for every
kind of visitor and lesson. On PostgreSQL, pages make no round trip for a ping, ``BEGIN`` or
``ROLLBACK``, and a dropped connection costs one request.
"""

from __future__ import annotations

import os
import re
import secrets

import pytest
from flask import Flask, render_template_string
from flask_babel import force_locale
from sqlalchemy import create_engine, text

from bench.inproc import count
from lms.database import mark_request_transactions
from lms.extensions import db
from lms.models import Camp, Course, CourseTrainer, Enrollment, Lesson, MediaAsset, Module, User
from lms.services import catalog
from lms.services.loading import load
from lms.web.forms import LanguageForm
from tests.conftest import Client, video_lessons_of


def ready_video() -> MediaAsset:
    key = secrets.token_hex(16)
    rendition = {"height": 360, "file": "360p.mp4", "playlist": "360p/index.m3u8"}
    return MediaAsset(
        storage_key=f"{key}.mp4", sha256=secrets.token_hex(32), original_name="a.mp4",
        mime_type="video/mp4", size_bytes=1, duration_seconds=60.0, status="ready",
        stream_dir=key, renditions=[rendition],
    )  # fmt: skip


@pytest.fixture
def site(make_app, make_user):
    """Behind nginx: lessons in every state, people in every role, each logged in."""
    app = make_app(MEDIA_ACCEL_REDIRECT="/protected-media/")
    people = {
        name: make_user(f"{name}@example.com", role=role)
        for name, role in (
            ("enrolled", "learner"),
            ("stranger", "learner"),
            ("owner", "trainer"),
            ("co_trainer", "trainer"),
            ("other_trainer", "trainer"),
            ("organizer", "organizer"),
        )
    }
    with app.app_context():
        course = db.session.scalar(db.select(Course).filter_by(slug="strategy-toolkit"))
        lessons = video_lessons_of(course.id)[:3]
        ready, pending, none = lessons
        ready.media, pending.media = ready_video(), ready_video()
        pending.media.status = "processing"
        course.owner_id = people["owner"].id
        draft = Course(
            camp=load(course, "camp"),
            slug="draft-course",
            title_zh="草稿",
            title_en="Draft",
            status="draft",
        )
        module = Module(course=draft, slug="m", title_zh="单元", title_en="Unit")
        in_draft = Lesson(module=module, slug="l", title_zh="课", title_en="Lesson")
        db.session.add_all([draft, module, in_draft])
        in_draft.media = ready_video()
        archived = Lesson(module=load(ready, "module"), slug="gone", title_zh="旧", title_en="Old")
        archived.media = ready_video()
        archived.archived_at = db.func.now()
        db.session.add(archived)
        db.session.flush()
        db.session.add_all(
            [
                Enrollment(user_id=people["enrolled"].id, course_id=course.id),
                Enrollment(user_id=people["enrolled"].id, course_id=draft.id),
                CourseTrainer(course_id=course.id, user_id=people["co_trainer"].id),
                CourseTrainer(course_id=draft.id, user_id=people["co_trainer"].id),
            ]
        )
        db.session.commit()
        lesson_ids = [ready.id, pending.id, none.id, in_draft.id, archived.id, 999_999]
    clients = {}
    for name, user in people.items():
        clients[name] = Client(app.test_client())
        clients[name].login(user.email)
    clients["anonymous"] = Client(app.test_client())
    return app, people, clients, lesson_ids


def general_decision(app: Flask, user_id: int | None, lesson_id: int) -> tuple[int, str | None]:
    """What the general path decides: the ORM's lesson access and the editors' rule."""
    if user_id is None:
        return 401, None
    with app.test_request_context():
        user = db.session.get(User, user_id)
        access = catalog.lesson_access(lesson_id, user)
        asset = access.lesson.media if access is not None else None
        allowed = access is not None and (access.enrolled or catalog.can_edit(user, access.course))
        if not allowed or asset is None or asset.status != "ready":
            return 403, None
        return 200, f"streams/{asset.stream_dir}/{asset.renditions[-1]['file']}"


def test_authorize_decides_as_the_general_rule_for_everyone(site):
    app, people, clients, lesson_ids = site
    seen = set()
    for name, client in clients.items():
        user = people.get(name)
        for lesson_id in lesson_ids:
            answer = client.get(f"/media/lessons/{lesson_id}/authorize")
            expected = general_decision(app, user.id if user else None, lesson_id)
            assert (answer.status_code, answer.headers.get("X-Media-File")) == expected, (
                name,
                lesson_id,
            )
            seen.add(answer.status_code)
    assert seen == {200, 401, 403}


def test_authorize_follows_a_disabled_camp_and_the_end_of_a_login_at_once(site):
    app, _people, clients, lesson_ids = site
    url = f"/media/lessons/{lesson_ids[0]}/authorize"
    viewer = clients["enrolled"]
    copy = Client(make_copy(app, viewer))
    assert viewer.get(url).status_code == 200 and copy.get(url).status_code == 200
    with app.app_context():
        db.session.scalar(db.select(Camp).filter_by(slug="startup-growth")).enabled = False
        db.session.commit()
    assert viewer.get(url).status_code == 403
    with app.app_context():
        db.session.scalar(db.select(Camp).filter_by(slug="startup-growth")).enabled = True
        db.session.commit()
    viewer.logout()
    assert copy.get(url).status_code == 401


def make_copy(app: Flask, client: Client):
    """Another browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.raw.get_cookie("session").value)
    return other


def test_authorize_writes_no_cookie(site):
    _app, _people, clients, lesson_ids = site
    answer = clients["enrolled"].get(f"/media/lessons/{lesson_ids[0]}/authorize")
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers


# -- PostgreSQL: no ping, no transaction around reads ------------------------------------------

on_postgresql = pytest.mark.skipif(
    not os.environ.get("LMS_DATABASE_URL", "").startswith("postgres"),
    reason="PostgreSQL only (LMS_DATABASE_URL)",
)


@pytest.fixture
def production_pool(make_app, app_config):
    """An app whose pool is configured as in production: no ping before a checkout (the
    suite's own configuration pings)."""
    options = dict(app_config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    options.pop("pool_pre_ping", None)
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=options)
    return app, Client(app.test_client())


@on_postgresql
def test_a_page_costs_no_ping_begin_or_rollback_on_postgresql(production_pool, learner):
    app, client = production_pool
    client.login(learner.email)
    with app.app_context():
        engine = db.engine
    trips = count(engine, lambda: client.get("/healthz"))
    assert trips == [trips[0], "SELECT 1"]  # the login's user, then the page's own statement


@on_postgresql
def test_the_lesson_page_round_trips_on_postgresql(production_pool, learner):
    """The video lesson page's round trips, none a ping, BEGIN or ROLLBACK: at most 4 (issue
    20; 3 now: the login with the cache versions, the learner's progress and enrollment; the
    course, its syllabus, media and captions are kept by the process)."""
    app, client = production_pool
    client.login(learner.email)
    with app.app_context():
        course = db.session.scalar(db.select(Course).filter_by(slug="strategy-toolkit"))
        lesson = video_lessons_of(course.id)[0]
        url = f"/camps/{load(course, 'camp').slug}/{course.slug}/lessons/{lesson.slug}"
    assert client.post(f"/camps/startup-growth/{course.slug}/enroll").status_code == 302
    with app.app_context():
        engine = db.engine
    trips = count(engine, lambda: client.get(url))
    assert client.get(url).status_code == 200
    assert not {";", "BEGIN", "ROLLBACK", "COMMIT"} & set(trips), trips
    assert len(trips) <= 4, trips


def test_a_get_that_writes_still_writes_in_one_transaction(app, learner):
    with app.test_request_context(method="GET"):
        mark_request_transactions("GET")
        user = db.session.get(User, learner.id)
        user.name = "改了一半"
        db.session.flush()
        db.session.execute(db.update(User).where(User.id == learner.id).values(locale="en"))
        db.session.rollback()
        assert (user.name, user.locale) == (learner.name, learner.locale)
        user.name = "学员"
        db.session.commit()
    with app.app_context():
        assert db.session.get(User, learner.id).name == "学员"


@on_postgresql
def test_a_dropped_connection_fails_one_request_and_the_next_reconnects(production_pool, learner):
    app, client = production_pool
    client.login(learner.email)
    assert client.get("/").status_code == 200
    with app.app_context():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.remove()  # back to the pool, as after a request
        engine = db.engine
    killer = create_engine(engine.url, isolation_level="AUTOCOMMIT")
    with killer.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()
    assert client.get("/").status_code == 503  # the server had dropped it: no ping found out
    assert client.get("/").status_code == 200


# -- the layout ---------------------------------------------------------------------------------


def test_the_layouts_csrf_field_is_the_one_wtforms_writes(app, client, learner):
    """The layout writes its forms' CSRF field without building a form: the same markup and
    token as WTForms' field, and the token of the page's meta tag."""
    client.login(learner.email)
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    assert (
        page.count(f'<input id="csrf_token" name="csrf_token" type="hidden" value="{token}">') == 2
    )
    with app.test_request_context("/"):
        field = LanguageForm(formdata=None).csrf_token
        assert str(field) == (
            f'<input id="csrf_token" name="csrf_token" type="hidden" value="{field.current_token}">'
        )
    assert (
        client.post("/language", {"locale": "zh_CN", "csrf_token": token}, csrf=False).status_code
        == 302
    )


def test_templates_translate_once_per_request_and_follow_a_forced_locale(app):
    """The layout's translations are found once per request, but a mail rendered in its
    reader's language inside the request (``force_locale``) still gets that language."""
    template = "{{ _('Log in') }}|{{ ngettext('%(num)d lesson', '%(num)d lessons', 2) }}"
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert render_template_string(template) == "Log in|2 lessons"
        with force_locale("zh_CN"):
            assert render_template_string(template) == "登录|2 课时"
        assert render_template_string(template) == "Log in|2 lessons"
