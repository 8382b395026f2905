"""The per-process caches behind the versions row (lms/cache.py, issue 20).

Each cache is written through one app instance and read through another on the same
database (two processes, in effect): the change is seen on the next request. The counters
are raised in the writing transaction itself, and the login reads them in its statement.
"""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import event, update

from lms.extensions import db
from lms.models import CacheVersion, Camp, Caption, Course, Lesson, Module
from lms.services import camps as camp_service
from lms.services import media, switches
from lms.services.loading import load, load_path
from tests.conftest import Client


def versions(app) -> tuple[int, int]:
    with app.app_context():
        row = db.session.get(CacheVersion, 1)
        db.session.refresh(row)
        return row.switches, row.content


class Statements:
    """The SQL statements ``app``'s engine runs inside the block."""

    def __init__(self, app) -> None:
        with app.app_context():
            self.engine = db.engine
        self.seen: list[str] = []

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        self.seen.append(statement)

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_a_write_raises_its_counters_in_its_own_transaction(app):
    switches_before, content_before = versions(app)
    with app.app_context():
        course = db.session.scalars(db.select(Course).limit(1)).one()
        course.title_zh = "战略工具：新版"
        db.session.flush()
        # Raised inside the transaction, before its commit…
        row = db.session.execute(db.select(CacheVersion.switches, CacheVersion.content)).one()
        assert tuple(row) == (switches_before, content_before + 1)
        db.session.rollback()
    # …and undone with it.
    assert versions(app) == (switches_before, content_before)

    with app.app_context():
        db.session.execute(update(Camp).where(Camp.slug == "practitioner").values(position=9))
        db.session.execute(update(Camp).where(Camp.slug == "entrepreneur").values(position=8))
        db.session.commit()
    # A camp is both a switch and content; raised once per transaction.
    assert versions(app) == (switches_before + 1, content_before + 1)


def test_a_write_on_a_bare_connection_raises_them_too(app):
    before = versions(app)
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(
            update(Camp.__table__).where(Camp.__table__.c.slug == "practitioner").values(position=7)
        )
    assert versions(app) == (before[0] + 1, before[1] + 1)


def test_reads_and_other_tables_raise_nothing(app, learner):
    before = versions(app)
    client = Client(app.test_client())
    client.login(learner.email)
    client.get("/")
    assert versions(app) == before


def test_a_disabled_camp_is_gone_on_the_next_request_of_another_instance(make_app, learner):
    writer, reader = make_app(), make_app()
    browser = Client(reader.test_client())
    browser.login(learner.email)
    assert browser.get("/camps/practitioner/").status_code == 200
    assert browser.get("/camps/practitioner/").status_code == 200  # the reader keeps the flags

    with writer.app_context():
        camp_service.set_enabled("practitioner", False)
    assert browser.get("/camps/practitioner/").status_code == 404
    assert 'id="camp-practitioner"' not in browser.get("/").get_data(as_text=True)

    with writer.app_context():
        camp_service.set_enabled("practitioner", True)
    assert browser.get("/camps/practitioner/").status_code == 200


def test_anonymous_requests_see_a_switch_at_once_too(make_app):
    writer, reader = make_app(), make_app()
    visitor = reader.test_client()
    assert visitor.get("/camps/entrepreneur/").status_code == 200
    with writer.app_context():
        camp_service.set_enabled("entrepreneur", False)
    assert visitor.get("/camps/entrepreneur/").status_code == 404


def test_a_plugin_switched_off_in_one_instance_is_off_in_another(make_app):
    writer, reader = make_app(), make_app()
    with reader.test_request_context("/"):
        assert "xapi" not in switches.disabled_plugins()
    with writer.app_context():
        switches.set_plugin_enabled("xapi", False)
    with reader.test_request_context("/"):
        assert "xapi" in switches.disabled_plugins()
        assert not reader.extensions["lms.plugins"].is_active("xapi")
    with writer.app_context():
        switches.set_plugin_enabled("xapi", True)
    with reader.test_request_context("/"):
        assert "xapi" not in switches.disabled_plugins()


def test_the_flags_are_read_once_per_process_until_a_switch_moves(make_app, learner):
    app = make_app()
    browser = Client(app.test_client())
    browser.login(learner.email)
    browser.get("/camps/startup-growth/")
    with Statements(app) as seen:
        assert browser.get("/camps/startup-growth/").status_code == 200
    assert not [s for s in seen if "plugin_states" in s]
    with app.app_context():
        camp_service.set_enabled("practitioner", False)
    with Statements(app) as seen:
        browser.get("/camps/startup-growth/")
    assert len([s for s in seen if "plugin_states" in s]) == 1


def test_the_login_reads_the_versions_in_its_own_statement(app, learner):
    browser = Client(app.test_client())
    browser.login(learner.email)
    browser.get("/healthz")
    with Statements(app) as seen:
        assert browser.get("/healthz").get_json()["database"]["ok"]
    login = [s for s in seen if "auth_sessions" in s]
    assert len(login) == 1 and "cache_versions" in login[0]
    assert not [s for s in seen if "cache_versions" in s and s not in login]


def test_a_cookie_copied_before_logout_dies_in_every_instance(make_app, learner):
    first, second = make_app(), make_app()
    browser = Client(first.test_client())
    browser.login(learner.email)
    copy = Client(second.test_client())
    copy.raw.set_cookie("session", browser.raw.get_cookie("session").value)
    assert copy.get("/account").status_code == 200
    browser.logout()
    answer = copy.get("/account")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_disabled_user_is_out_of_every_instance(make_app, learner):
    first, second = make_app(), make_app()
    browser = Client(second.test_client())
    browser.login(learner.email)
    assert browser.get("/account").status_code == 200
    with first.app_context():
        db.session.execute(
            update(type(learner)).where(type(learner).id == learner.id).values(active=False)
        )
        db.session.commit()
    assert browser.get("/account").status_code == 302


def test_a_database_without_the_row_caches_nothing(app, learner):
    with app.app_context():
        db.session.execute(db.delete(CacheVersion))
        db.session.commit()
    browser = Client(app.test_client())
    browser.login(learner.email)
    assert browser.get("/camps/startup-growth/").status_code == 200
    with Statements(app) as seen:
        browser.get("/camps/startup-growth/")
    assert len([s for s in seen if "plugin_states" in s]) == 1  # read every time
    with app.app_context():
        camp_service.set_enabled("startup-growth", False)  # the write brings the row back
    assert versions(app)[0] >= 1
    assert browser.get("/camps/startup-growth/").status_code == 404


@pytest.mark.parametrize("fast", [True, False])
def test_the_login_user_is_a_normal_persistent_user(make_app, learner, fast):
    app = make_app(FAST_PATHS=fast)
    browser = Client(app.test_client())
    browser.login(learner.email)
    page = browser.get("/account")
    assert page.status_code == 200
    assert learner.name in page.get_data(as_text=True)


# -- fragments and the fast paths ------------------------------------------------------


CSRF_VALUES = re.compile(
    r'(name="csrf-token" content="|name="csrf_token" type="hidden" value=")[^"]+'
)


def html(response) -> str:
    """A page's HTML with its CSRF tokens blanked (each is signed with the time)."""
    assert response.status_code == 200, response.status_code
    return CSRF_VALUES.sub(r"\1…", response.get_data(as_text=True))


def hot_pages(app) -> list[str]:
    """The catalog, a camp page, a course page and its first lesson (a video)."""
    with app.app_context():
        camp, course, lesson = db.session.execute(
            db.select(Camp.slug, Course.slug, Lesson.slug)
            .join(Course, Course.camp_id == Camp.id)
            .join(Module, Module.course_id == Course.id)
            .join(Lesson, Lesson.module_id == Module.id)
            .where(Camp.slug == "startup-growth", Lesson.kind == "video")
            .order_by(Course.position, Module.position, Lesson.position)
        ).first()
    return [
        "/",
        f"/camps/{camp}/",
        f"/camps/{camp}/{course}/",
        f"/camps/{camp}/{course}/lessons/{lesson}",
    ]


def enrolled_browsers(fast, general, learner, path: str) -> tuple[Client, Client]:
    """The learner logged in once, the same cookie sent to both apps; enrolled in the
    course of ``path``."""
    browser = Client(fast.test_client())
    browser.login(learner.email)
    assert browser.post(path + "enroll").status_code == 302
    browser.get(path)  # shows the flash message "You are enrolled"
    other = Client(general.test_client())
    other.raw.set_cookie("session", browser.raw.get_cookie("session").value)
    return browser, other


def both_paths(make_app, learner) -> tuple[Flask, Flask, list[str], Client, Client]:
    """A fast app and a general one (``FAST_PATHS`` off), the hot pages, and the learner's
    browsers of each, enrolled in the hot pages' course."""
    fast, general = make_app(), make_app(FAST_PATHS=False)
    pages = hot_pages(fast)
    return fast, general, pages, *enrolled_browsers(fast, general, learner, pages[2])


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_each_hot_page_is_the_same_through_the_fast_and_the_general_path(
    make_app, learner, language
):
    fast, general, pages, browser, other = both_paths(make_app, learner)
    headers = {"Accept-Language": language}
    for path in pages:
        first = html(browser.get(path, headers=headers))
        again = html(browser.get(path, headers=headers))  # from the process's caches now
        assert again == first, path
        assert html(other.get(path, headers=headers)) == first, path
    if language == "zh-CN":
        assert "课" in first
    # Visitors too (the layout's kept menu is theirs, not the learner's).
    visitors = fast.test_client(), general.test_client()
    for path in pages[:3]:
        seen = [html(visitor.get(path, headers=headers)) for visitor in (*visitors, visitors[0])]
        assert seen[0] == seen[1] == seen[2], path


def test_an_edited_course_shows_in_another_instance_at_once(make_app, learner):
    writer, reader = make_app(), make_app()
    browser = Client(reader.test_client())
    browser.login(learner.email)
    catalog = browser.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    with writer.app_context():
        course = db.session.scalars(
            db.select(Course)
            .join(Camp)
            .where(Camp.slug == "startup-growth")
            .order_by(Course.position)
        ).first()
        old = course.title_zh
        assert old in catalog
        course.title_zh = "创始人的第一课：<新版>"
        db.session.commit()
    catalog = browser.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "创始人的第一课：&lt;新版&gt;" in catalog and old not in catalog


def test_a_new_lesson_counts_on_the_cards_of_another_instance(make_app, learner):
    writer, reader = make_app(), make_app()
    browser = Client(reader.test_client())
    browser.login(learner.email)

    def count_of(page: str, slug: str) -> str:
        card = page.split(f'/{slug}/"', 1)[1].split("</article>", 1)[0]
        return re.search(r"(\d+) lessons?", card).group(1)

    with writer.app_context():
        module = db.session.scalars(
            db.select(Module).join(Course).join(Camp).where(Camp.slug == "entrepreneur")
        ).first()
        slug, lessons = load(module, "course").slug, len(load(module, "lessons"))
    before = count_of(browser.get("/camps/entrepreneur/").get_data(as_text=True), slug)
    with writer.app_context():
        module = db.session.get(Module, module.id)
        db.session.add(
            Lesson(module=module, slug="extra-reading", kind="reading", title_zh="补充阅读",
                   title_en="Extra reading", position=lessons + 1, minutes=5)
        )  # fmt: skip
        db.session.commit()
    after = count_of(browser.get("/camps/entrepreneur/").get_data(as_text=True), slug)
    assert int(after) == int(before) + 1


def first_course(app, camp_slug: str) -> tuple[int, str]:
    with app.app_context():
        course = db.session.scalars(
            db.select(Course).join(Camp).where(Camp.slug == camp_slug).order_by(Course.position)
        ).first()
        return course.id, course.slug


def test_a_course_published_in_one_instance_is_listed_by_another(make_app, learner):
    writer, reader = make_app(), make_app()
    browser = Client(reader.test_client())
    browser.login(learner.email)
    zh = {"Accept-Language": "zh-CN"}
    assert "新开的课：危机预防" not in browser.get("/camps/practitioner/", headers=zh).get_data(
        as_text=True
    )
    browser.get("/", headers=zh)
    with writer.app_context():
        camp = db.session.scalar(db.select(Camp).filter_by(slug="practitioner"))
        db.session.add(
            Course(camp=camp, slug="new-course", status="published", position=-1,
                   title_zh="新开的课：危机预防", title_en="A new course")
        )  # fmt: skip
        db.session.commit()
    assert "新开的课：危机预防" in browser.get("/camps/practitioner/", headers=zh).get_data(
        as_text=True
    )
    assert "新开的课：危机预防" in browser.get("/", headers=zh).get_data(as_text=True)
    assert browser.get("/camps/practitioner/new-course/").status_code == 200


def test_a_syllabus_change_shows_on_the_course_and_lesson_pages_of_another_instance(
    make_app, learner
):
    writer, reader = make_app(), make_app()
    course_id, slug = first_course(writer, "entrepreneur")
    page = f"/camps/entrepreneur/{slug}/"
    browser = Client(reader.test_client())
    browser.login(learner.email)
    browser.post(page + "enroll")
    with writer.app_context():
        lesson = db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course_id)
        ).first()
        lesson_id, lesson_page = lesson.id, f"{page}lessons/{lesson.slug}"
    assert browser.get(lesson_page).status_code == 200
    assert browser.get(lesson_page).status_code == 200  # kept by the reader now
    with writer.app_context():
        db.session.get(Lesson, lesson_id).title_en = "Renamed <in> the writer"
        db.session.commit()
    assert "Renamed &lt;in&gt; the writer" in browser.get(page).get_data(as_text=True)
    assert "Renamed &lt;in&gt; the writer" in browser.get(lesson_page).get_data(as_text=True)
    with writer.app_context():
        db.session.get(Lesson, lesson_id).archived_at = db.func.now()
        db.session.commit()
    assert browser.get(lesson_page).status_code == 404
    assert "Renamed &lt;in&gt; the writer" not in browser.get(page).get_data(as_text=True)
    with writer.app_context():
        db.session.get(Course, course_id).status = "draft"
        db.session.commit()
    assert browser.get(page).status_code == 404


def test_trainers_take_the_general_path_and_see_drafts(make_app, make_user):
    app = make_app()
    trainer = make_user("trainer@example.com", role="organizer")
    course_id, slug = first_course(app, "startup-growth")
    with app.app_context():
        db.session.get(Course, course_id).status = "draft"
        db.session.commit()
    browser = Client(app.test_client())
    browser.login(trainer.email)
    page = browser.get(f"/camps/startup-growth/{slug}/")
    assert page.status_code == 200 and "Edit course" in page.get_data(as_text=True)


@pytest.mark.parametrize("lessons", [0, 12])
def test_a_learners_lesson_page_runs_three_statements_however_long_the_course(
    make_app, learner, lessons
):
    app = make_app()
    course_id, slug = first_course(app, "startup-growth")
    with app.app_context():
        module = db.session.scalars(db.select(Module).filter_by(course_id=course_id)).first()
        first = load(module, "lessons")[0].slug
        for number in range(lessons):
            db.session.add(
                Lesson(module=module, slug=f"more-{number}", kind="reading", position=100 + number,
                       title_zh=f"第{number}课", title_en=f"Lesson {number}", minutes=3)
            )  # fmt: skip
        db.session.commit()
    browser = Client(app.test_client())
    browser.login(learner.email)
    browser.post(f"/camps/startup-growth/{slug}/enroll")
    path = f"/camps/startup-growth/{slug}/lessons/{first}"
    browser.get(path)
    with Statements(app) as seen:
        assert browser.get(path).status_code == 200
    # The login (with the versions), the learner's progress and enrollment: nothing of the
    # course, its camp, syllabus, media or captions (kept by the process).
    queries = [s for s in seen if not s.startswith("BEGIN")]
    assert len(queries) == 3, queries


def test_the_kept_menu_follows_the_reader_and_the_page(app, learner, organizer, make_user):
    manager = make_user("manager@example.com", organization="星河科技", is_manager=True)
    learners, organizers, managers = (Client(app.test_client()) for _ in range(3))
    learners.login(learner.email)
    organizers.login(organizer.email)
    managers.login(manager.email)
    visitor = app.test_client()
    for _round in range(2):  # the second round from the process's fragments
        page = learners.get("/").get_data(as_text=True)
        assert "Camps admin" not in page and "My learning" in page
        assert 'href="/" aria-current="page"' in page
        assert "Camps admin" in organizers.get("/").get_data(as_text=True)
        mine = managers.get("/").get_data(as_text=True)
        assert "My organization" in mine and "Camps admin" not in mine
        anonymous = visitor.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
        idx = anonymous.find("My learning")
        assert idx < 0, anonymous[idx - 300 : idx + 100]
        assert "Log in" in anonymous
        live = learners.get("/live/").get_data(as_text=True)
        assert 'href="/" aria-current="page"' not in live
        chinese = learners.get("/", headers={"Accept-Language": "zh-CN"})
        assert "课程目录" in chinese.get_data(as_text=True) or "目录" in chinese.get_data(
            as_text=True
        )


def test_the_video_player_is_the_same_both_ways_and_follows_its_captions(
    make_app, learner, demo_video
):
    fast, general = make_app(), make_app(FAST_PATHS=False)
    with fast.app_context():
        lesson = db.session.scalars(
            db.select(Lesson).join(Module).join(Course).join(Camp)
            .where(Camp.slug == "startup-growth", Lesson.kind == "video")
            .order_by(Course.position, Module.position, Lesson.position)
        ).first()  # fmt: skip
        lesson.media, _ = media.import_file(demo_video)
        db.session.commit()
        lesson_id = lesson.id
        load_path(lesson, "module", "course")
        course_page = f"/camps/startup-growth/{lesson.module.course.slug}/"
        path = f"{course_page}lessons/{lesson.slug}"
    browser, other = enrolled_browsers(fast, general, learner, course_page)
    for language in ("zh-CN", "en"):
        headers = {"Accept-Language": language}
        first = html(browser.get(path, headers=headers))
        assert 'id="player"' in first and "data-playback-url" in first
        assert html(browser.get(path, headers=headers)) == first
        assert html(other.get(path, headers=headers)) == first
    with general.app_context():  # another instance adds a caption track
        db.session.add(Caption(lesson_id=lesson_id, language="zh", label="中文字幕",
                               storage_key=f"captions/{lesson_id}-zh.vtt"))  # fmt: skip
        db.session.commit()
    page = html(browser.get(path, headers={"Accept-Language": "zh-CN"}))
    assert 'label="中文字幕"' in page
    assert page == html(other.get(path, headers={"Accept-Language": "zh-CN"}))


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_dashboard_is_the_same_through_the_fast_and_the_general_path(
    make_app, learner, language
):
    from tests.test_dashboard import grow

    fast, general, _pages, browser, other = both_paths(make_app, learner)
    grow(fast, learner.id, 0, 3)  # courses with progress, sessions, certificates, hours
    headers = {"Accept-Language": language}
    first = html(browser.get("/dashboard", headers=headers))
    assert html(browser.get("/dashboard", headers=headers)) == first
    assert html(other.get("/dashboard", headers=headers)) == first
    assert 'data-test="resume"' in first and "hours-chart" in first
    assert ("我的学习" if language == "zh-CN" else "My learning") in first
    # A course renamed through the general instance shows on the fast one's next request.
    with general.app_context():
        course = db.session.scalar(db.select(Course).filter_by(slug="grown-1"))
        course.title_en = course.title_zh = "改名 <renamed>"
        db.session.commit()
    again = html(browser.get("/dashboard", headers=headers))
    assert "改名 &lt;renamed&gt;" in again
    assert again == html(other.get("/dashboard", headers=headers))
