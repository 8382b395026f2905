"""Template slots: plugins add HTML to core pages, isolated and in a stable order."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from lms import Fragment
from lms.extensions import db
from lms.models import Lesson, Module
from tests.conftest import Client, course_url
from tests.test_plugins import CURRICULUM, camp_plugin, plugin, registry_of


def slot_plugin(name: str, answer, slot: str = "course_sidebar"):
    wanted = slot

    def lms_template_slot(slot, context):
        if slot == wanted:
            return answer(context) if callable(answer) else answer
        return None

    return plugin(lms_template_slot, name=name)


def page(app, url: str, email: str | None = None) -> str:
    client = Client(app.test_client())
    if email:
        client.login(email)
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_fragments_are_ordered_by_priority_then_plugin_name(make_app, course):
    app = make_app(
        EXTRA_PLUGINS={
            "zeta": slot_plugin("zeta", Markup("<p>[zeta]</p>")),
            "alpha": slot_plugin("alpha", Markup("<p>[alpha]</p>")),
            "first": slot_plugin("first", Fragment(Markup("<p>[first]</p>"), priority=1)),
        }
    )
    html = page(app, course_url(course))
    positions = [html.index(f"[{name}]") for name in ("first", "alpha", "zeta")]
    assert positions == sorted(positions)


def test_a_plain_string_is_escaped_and_markup_is_kept(make_app, course):
    app = make_app(
        EXTRA_PLUGINS={
            "text": slot_plugin("text", "<script>alert(1)</script>"),
            "html": slot_plugin("html", Fragment("<b>also escaped</b>")),
            "trusted": slot_plugin("trusted", Markup('<p class="mine">ok</p>')),
        }
    )
    html = page(app, course_url(course))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;also escaped&lt;/b&gt;" in html
    assert '<p class="mine">ok</p>' in html


def test_a_failing_slot_is_left_out_and_reported(make_app, course, caplog):
    def explode(context):
        raise RuntimeError("the sidebar broke")

    app = make_app(
        EXTRA_PLUGINS={
            "broken": slot_plugin("broken", explode),
            "fine": slot_plugin("fine", Markup("<p>[fine]</p>")),
            "weird": slot_plugin("weird", 42),
        }
    )
    html = page(app, course_url(course))
    assert "[fine]" in html
    errors = registry_of(app).plugins["broken"].runtime_errors
    assert any("the sidebar broke" in e for e in errors)
    assert any("returned int" in e for e in registry_of(app).plugins["weird"].runtime_errors)
    logged = [r for r in caplog.records if r.name == "lms.plugins" and r.levelname == "ERROR"]
    assert any("broken" in r.getMessage() and r.exc_info for r in logged)  # with its traceback
    assert any("weird" in r.getMessage() and "returned int" in r.getMessage() for r in logged)


def test_a_slot_whose_template_fails_leaves_the_page_working(make_app, course):
    from lms import render_fragment

    app = make_app(
        EXTRA_PLUGINS={"missing": slot_plugin("missing", lambda c: render_fragment("nope.html"))}
    )
    page(app, course_url(course))  # 200, without the fragment
    assert any("TemplateNotFound" in e for e in registry_of(app).plugins["missing"].runtime_errors)


@pytest.mark.parametrize(
    ("slot", "url", "login"),
    [
        ("nav_items", "/", False),
        ("dashboard_panels", "/dashboard", True),
        ("course_sidebar", "COURSE", False),
        ("lesson_footer", "LESSON", True),
    ],
)
def test_every_slot_is_on_its_page_with_its_context(make_app, course, learner, slot, url, login):
    seen = {}

    def answer(context):
        seen.update(context)
        return Markup("<p>[%s]</p>") % slot

    app = make_app(EXTRA_PLUGINS={"probe": slot_plugin("probe", answer, slot=slot)})
    client = Client(app.test_client())
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    with app.app_context():
        first_lesson = db.session.scalar(
            db.select(Lesson.slug)
            .join(Module)
            .where(Module.course_id == course.id, Lesson.archived_at.is_(None))
            .order_by(Module.position, Lesson.position)
        )
    target = {
        "COURSE": course_url(course),
        "LESSON": f"{course_url(course)}lessons/{first_lesson}",
    }.get(url, url)
    if not login:
        client.logout()
    response = client.get(target)
    assert response.status_code == 200
    assert f"[{slot}]" in response.get_data(as_text=True)
    assert "user" in seen
    if slot in ("course_sidebar", "lesson_footer"):
        assert seen["course"].id == course.id
    if slot == "lesson_footer":
        assert seen["lesson"].slug == first_lesson


def test_a_camp_plugins_fragment_disappears_while_its_camp_is_disabled(make_app, tmp_path):
    from lms.services import camps

    def lms_template_slot(slot, context):
        return Markup("<p>[studio]</p>") if slot == "nav_items" else None

    folder = tmp_path / "studio"
    folder.mkdir()
    (folder / "curriculum.yaml").write_text(CURRICULUM.format(slug="studio"), encoding="utf-8")
    app = make_app(EXTRA_PLUGINS={"studio": camp_plugin(folder, "studio", lms_template_slot)})
    assert "[studio]" in page(app, "/")
    with app.app_context():
        camps.set_enabled("studio", False)
    assert "[studio]" not in page(app, "/")


def test_an_unknown_slot_name_is_a_programming_error(app):
    from lms.slots import render_slot

    with app.test_request_context(), pytest.raises(ValueError, match="unknown template slot"):
        render_slot("footer_of_doom")


def notice_package(tmp_path, monkeypatch, template_path="plugins/notice/banner.html"):
    """A plugin that is not a camp, with its own template and static file."""
    import importlib
    import sys

    folder = tmp_path / "site" / "notice_plugin"
    (folder / "static").mkdir(parents=True)
    (folder / "static" / "notice.css").write_text(".notice{color:red}", encoding="utf-8")
    template = folder / "templates" / template_path
    template.parent.mkdir(parents=True)
    template.write_text('<p class="notice">{{ text }}</p>', encoding="utf-8")
    (folder / "__init__.py").write_text(
        "from lms import hookimpl, render_fragment\n\n\n"
        "@hookimpl\n"
        "def lms_template_slot(slot, context):\n"
        "    if slot == 'nav_items':\n"
        "        return render_fragment('plugins/notice/banner.html', text='<Closed> & co')\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    sys.modules.pop("notice_plugin", None)
    return importlib.import_module("notice_plugin")


def test_a_plugin_that_is_not_a_camp_has_templates_and_static_files(
    make_app, tmp_path, monkeypatch
):
    app = make_app(EXTRA_PLUGINS={"notice": notice_package(tmp_path, monkeypatch)})
    assert registry_of(app).plugins["notice"].status == "loaded"
    html = page(app, "/")
    assert '<p class="notice">&lt;Closed&gt; &amp; co</p>' in html
    client = app.test_client()
    response = client.get("/plugins-static/notice/notice.css")
    assert response.status_code == 200 and b"color:red" in response.data
    assert client.get("/plugins-static/notice/../__init__.py").status_code == 404
    assert client.get("/plugins-static/xapi/anything.css").status_code == 404
    assert client.get("/plugins-static/startup_growth/emblem.svg").status_code == 404


def test_a_disabled_plugin_adds_nothing_and_serves_no_files(make_app, tmp_path, monkeypatch):
    from lms.services import switches

    app = make_app(EXTRA_PLUGINS={"notice": notice_package(tmp_path, monkeypatch)})
    with app.app_context():
        switches.set_plugin_enabled("notice", False)
    assert '<p class="notice">' not in page(app, "/")
    assert app.test_client().get("/plugins-static/notice/notice.css").status_code == 404
    with app.app_context():
        switches.set_plugin_enabled("notice", True)
    assert '<p class="notice">' in page(app, "/")
    assert app.test_client().get("/plugins-static/notice/notice.css").status_code == 200


def test_a_plugins_templates_must_stay_in_its_namespace(make_app, tmp_path, monkeypatch):
    module = notice_package(tmp_path, monkeypatch, template_path="base.html")
    app = make_app(EXTRA_PLUGINS={"notice": module})
    info = registry_of(app).plugins["notice"]
    assert info.status == "failed"
    assert "outside templates/plugins/notice/" in info.error
    page(app, "/")  # the core's base.html is still the core's
