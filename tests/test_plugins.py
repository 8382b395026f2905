"""The plugin registry: discovery through entry points, isolation of broken plugins,
validation of what a plugin brings, and the hooks that add pages, commands and events."""

from __future__ import annotations

import json
import types
from pathlib import Path

import click
import pytest
from flask import Blueprint

from lms import Camp, EnrollmentDecision, create_app, hookimpl
from lms.cli import main
from lms.extensions import db
from lms.models import Certificate, Course, Enrollment, Lesson, LessonProgress, Module, User
from lms.models._base import utcnow
from lms.plugins import PluginRegistry
from lms.services import completion, lessons, progress
from lms.services.quiz import policy
from tests.conftest import Client, course_url, video_lessons_of

BUNDLED = {
    "startup_growth": "startup-growth",
    "entrepreneur": "entrepreneur",
    "silicon_valley": "silicon-valley",
    "practitioner": "practitioner",
}

CURRICULUM = """\
camp: {slug}
courses:
  - slug: first-steps
    title: {{zh: "第一步", en: "First Steps"}}
    modules:
      - slug: basics
        title: {{zh: "基础", en: "Basics"}}
        lessons:
          - slug: hello
            title: {{zh: "你好", en: "Hello, Studio"}}
            minutes: 5
"""


def plugin(*functions, name: str = "test_plugin") -> types.ModuleType:
    """A plugin module whose hooks are ``functions`` (named after the hook they implement)."""
    module = types.ModuleType(name)
    for function in functions:
        setattr(module, function.__name__, hookimpl(function))
    return module


def registry_of(app) -> PluginRegistry:
    return app.extensions["lms.plugins"]


def loaded_with(app_config: dict, **plugins: types.ModuleType) -> PluginRegistry:
    """The registry of an app built with extra plugins (no database needed to load them)."""
    return registry_of(create_app({**app_config, "EXTRA_PLUGINS": plugins}))


def run(app, *args: str):
    """Run ``lms <args>`` against ``app``, as an organizer would in a shell."""
    return app.test_cli_runner().invoke(main, list(args))


def write_distribution(site: Path, name: str, entry_points: dict[str, str]) -> None:
    """An installed distribution, as pip leaves it: a .dist-info folder with entry points."""
    info = site / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8"
    )
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[lms.plugins]\n{lines}", encoding="utf-8")


@pytest.fixture
def broken_plugin(tmp_path: Path, monkeypatch) -> str:
    """A third-party plugin, installed for real, whose module raises at import."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "broken_camp.py").write_text(
        'raise ImportError("broken_camp needs libfoo, which is not installed")\n',
        encoding="utf-8",
    )
    write_distribution(site, "broken-camp", {"broken": "broken_camp"})
    monkeypatch.syspath_prepend(str(site))
    return "broken"


@pytest.fixture
def camp_package(tmp_path: Path):
    """Build a third-party camp's package folder (curriculum, templates, static files)."""

    def build(slug: str, templates: dict[str, str] | None = None) -> Path:
        folder = tmp_path / slug
        (folder / "static").mkdir(parents=True)
        (folder / "static" / "emblem.svg").write_text("<svg/>", encoding="utf-8")
        (folder / "curriculum.yaml").write_text(CURRICULUM.format(slug=slug), encoding="utf-8")
        for name, text in (templates or {}).items():
            path = folder / "templates" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return folder

    return build


def with_the_course(make_app, *hooks, name: str = "owner", **config):
    """An app where a plugin with ``hooks`` provides the Startup Growth camp (the ``course``
    fixture's) instead of the bundled one: camp rules are asked only of the camp's plugin."""
    import plugins.startup_growth as bundled

    def lms_register_camps():
        return bundled.lms_register_camps()

    others = [name for name in [*BUNDLED, "xapi"] if name != "startup_growth"]
    owner = plugin(lms_register_camps, *hooks, name=name)
    return make_app(LOAD_PLUGINS=others, EXTRA_PLUGINS={name: owner}, **config)


def camp_plugin(folder: Path, slug: str, *hooks, curriculum: bool = True) -> types.ModuleType:
    def lms_register_camps():
        return [
            Camp(
                slug=slug,
                title_zh="工作室",
                title_en="Studio Camp",
                curriculum=folder / "curriculum.yaml" if curriculum else None,
                package_dir=folder,
            )
        ]

    return plugin(lms_register_camps, *hooks, name=slug.replace("-", "_"))


# -- discovery -------------------------------------------------------------------------


def test_the_four_bundled_camps_load_through_entry_points(app_config):
    registry = registry_of(create_app(app_config))
    assert set(registry.plugins) == {*BUNDLED, "xapi"}
    assert registry.plugins["xapi"].status == "loaded"
    assert registry.plugins["xapi"].camps == []
    for name, slug in BUNDLED.items():
        info = registry.plugins[name]
        assert info.status == "loaded", info.error
        assert info.distribution == "camp-lms"
        assert info.version == "0.1.0"
        assert info.module == f"plugins.{name}"
        assert info.camps == [slug]
        assert "lms_register_camps" in info.hooks
        assert registry.camp_plugin[slug] == name
        assert registry.curricula[slug] is not None


def test_lms_load_plugins_names_the_plugins_to_load(app_config, monkeypatch):
    monkeypatch.setenv("LMS_LOAD_PLUGINS", "entrepreneur, practitioner")
    registry = registry_of(create_app(app_config))
    assert set(registry.plugins) == {"entrepreneur", "practitioner"}
    assert set(registry.camps) == {"entrepreneur", "practitioner"}


def test_an_empty_lms_load_plugins_loads_none_and_the_site_still_works(make_app, monkeypatch):
    monkeypatch.setenv("LMS_LOAD_PLUGINS", "")
    app = make_app()
    assert registry_of(app).plugins == {}
    page = app.test_client().get("/", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "No camp is open right now." in page.get_data(as_text=True)


def test_the_load_plugins_setting_limits_the_catalog(make_app, monkeypatch):
    monkeypatch.delenv("LMS_LOAD_PLUGINS", raising=False)
    app = make_app(LOAD_PLUGINS=["silicon_valley"])
    assert set(registry_of(app).plugins) == {"silicon_valley"}
    page = app.test_client().get("/").get_data(as_text=True)
    assert 'id="camp-silicon-valley"' in page
    assert 'id="camp-startup-growth"' not in page
    assert app.test_client().get("/camps/startup-growth/").status_code == 404


# -- a plugin that cannot be imported --------------------------------------------------


def test_a_plugin_that_fails_to_import_is_recorded_and_the_site_still_works(
    make_app, client_for, broken_plugin
):
    app = make_app()
    client = client_for(app)
    assert client.get("/").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json()["plugins"] == {"loaded": 5, "failed": [broken_plugin]}

    info = registry_of(app).plugins[broken_plugin]
    assert info.status == "failed"
    assert info.distribution == "broken-camp"
    assert info.error == "ImportError: broken_camp needs libfoo, which is not installed"
    assert "Traceback" in info.traceback
    assert all(registry_of(app).plugins[name].status == "loaded" for name in BUNDLED)


def test_camps_list_reports_the_broken_plugin(make_app, broken_plugin):
    app = make_app()
    result = run(app, "camps", "list")
    assert result.exit_code == 0, result.output
    assert "broken  [failed]  broken-camp 0.1" in result.output
    assert "error: ImportError: broken_camp needs libfoo" in result.output

    result = run(app, "camps", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows[broken_plugin]["status"] == "failed"
    assert rows[broken_plugin]["error"].startswith("ImportError: broken_camp needs libfoo")
    assert rows[broken_plugin]["camps"] == []
    assert rows["practitioner"]["status"] == "loaded"


def test_strict_mode_reraises_a_plugins_import_error(app_config, broken_plugin):
    with pytest.raises(ImportError, match="libfoo"):
        create_app({**app_config, "PLUGINS_STRICT": True})


# -- a plugin that fails while it runs -------------------------------------------------


UNAVAILABLE = "This camp&#39;s enrollment rule is unavailable right now. Please try again later."


def test_a_raising_enrollment_policy_refuses_enrolling_and_is_reported(
    make_app, client_for, make_user, course
):
    def lms_enrollment_policy(user, course):
        raise RuntimeError("policy service is down")

    app = with_the_course(make_app, lms_enrollment_policy, name="flaky")
    learner = make_user("flaky@example.com")
    client = client_for(app)
    client.login(learner.email)
    assert UNAVAILABLE in client.get(course_url(course)).get_data(as_text=True)
    refused = client.post(course_url(course) + "enroll")
    assert refused.status_code == 403
    assert UNAVAILABLE in refused.get_data(as_text=True)
    chinese = client.post(course_url(course) + "enroll", headers={"Accept-Language": "zh-CN"})
    assert "报名规则暂时不可用" in chinese.get_data(as_text=True)
    with app.app_context():
        assert not db.session.scalar(
            db.select(Enrollment).filter_by(user_id=learner.id, course_id=course.id)
        )

    info = registry_of(app).plugins["flaky"]
    assert "lms_enrollment_policy: RuntimeError: policy service is down" in info.runtime_errors
    listing = run(app, "camps", "list").output
    assert "flaky  [failed]" in listing
    assert "runtime error: lms_enrollment_policy: RuntimeError: policy service is down" in listing


def plugin_row(client: Client, name: str) -> dict:
    rows = client.get("/admin/camps.json").get_json()
    return next(row for row in rows if row["name"] == name)


def test_a_plugin_that_raised_is_shown_failed_by_every_process_until_cleared(
    make_app, client_for, make_user, organizer, course
):
    def lms_enrollment_policy(user, course):
        raise RuntimeError("policy service is down")

    first = with_the_course(make_app, lms_enrollment_policy, name="flaky")
    second = with_the_course(make_app, lms_enrollment_policy, name="flaky", sync=False)
    admin = client_for(second)
    admin.login(organizer.email)
    assert plugin_row(admin, "flaky")["status"] == "loaded"

    learner = client_for(first)
    learner.login(make_user("flaky@example.com").email)
    assert learner.post(course_url(course) + "enroll").status_code == 403  # fails closed

    row = plugin_row(admin, "flaky")  # the error was raised in the other process
    assert row["status"] == "failed"
    assert row["error"] == "lms_enrollment_policy: RuntimeError: policy service is down"
    assert row["failed_at"]
    page = admin.get("/admin/camps").get_data(as_text=True)
    assert "lms_enrollment_policy: RuntimeError: policy service is down" in page
    assert "/admin/plugins/flaky/clear" in page

    assert admin.post("/admin/plugins/flaky/clear").status_code == 302
    assert plugin_row(admin, "flaky")["status"] == "loaded"
    assert plugin_row(client_for(first, login=organizer.email), "flaky")["status"] == "loaded"


def test_the_same_error_again_and_again_is_written_once_a_minute(
    make_app, client_for, make_user, course, monkeypatch
):
    from lms.services import plugins as plugin_service

    def lms_enrollment_policy(user, course):
        raise RuntimeError("policy service is down")

    app = with_the_course(make_app, lms_enrollment_policy, name="flaky")
    client = client_for(app)
    client.login(make_user("again@example.com").email)
    with app.app_context():
        before = db.session.get(plugin_service.PluginState, "flaky")
    assert before is None
    for _ in range(3):
        assert client.get(course_url(course)).status_code == 200
    with app.app_context():
        first = db.session.get(plugin_service.PluginState, "flaky").failed_at
    assert client.get(course_url(course)).status_code == 200
    with app.app_context():
        assert db.session.get(plugin_service.PluginState, "flaky").failed_at == first
    monkeypatch.setattr(plugin_service, "REWRITE_AFTER_SECONDS", 0.0)
    assert client.get(course_url(course)).status_code == 200
    with app.app_context():
        assert db.session.get(plugin_service.PluginState, "flaky").failed_at > first


# -- plugins that are not camps are switched on and off by organizers ------------------


def test_an_organizer_switches_off_a_plugin_that_is_not_a_camp_on_the_next_request(
    make_app, client_for, make_user, organizer, course
):
    calls = []
    board = Blueprint("spy_board", __name__, url_prefix="/spy")

    @board.get("/")
    def index():
        return "the spy board"

    def lms_enrolled(enrollment):
        calls.append(enrollment.user_id)

    def lms_blueprints():
        return [board]

    app = make_app(EXTRA_PLUGINS={"spy": plugin(lms_enrolled, lms_blueprints)})
    other = make_app(sync=False, EXTRA_PLUGINS={"spy": plugin(lms_enrolled, lms_blueprints)})
    admin = client_for(app)
    admin.login(organizer.email)
    visitor = client_for(other)
    assert visitor.get("/spy/").get_data(as_text=True) == "the spy board"

    assert admin.post("/admin/plugins/spy/disable").status_code == 302
    row = plugin_row(admin, "spy")
    assert (row["status"], row["enabled"]) == ("disabled", False)
    assert "/admin/plugins/spy/enable" in admin.get("/admin/camps").get_data(as_text=True)
    assert visitor.get("/spy/").status_code == 404  # the other process, no restart
    learner = make_user("spied@example.com")
    visitor.login(learner.email)
    assert visitor.post(course_url(course) + "enroll").status_code == 302
    assert calls == []

    assert run(app, "camps", "enable", "spy").exit_code == 0
    assert visitor.get("/spy/").status_code == 200
    assert plugin_row(admin, "spy")["status"] == "loaded"


@pytest.mark.parametrize(
    ("name", "action"),
    [("startup_growth", "disable"), ("nobody", "disable"), ("spy", "restart")],
)
def test_camps_and_unknown_plugins_are_not_switched_here(
    make_app, client_for, organizer, name, action
):
    def lms_enrolled(enrollment):
        pass

    app = make_app(EXTRA_PLUGINS={"spy": plugin(lms_enrolled)})
    admin = client_for(app, login=organizer.email)
    assert admin.post(f"/admin/plugins/{name}/{action}").status_code == 404
    assert plugin_row(admin, "startup_growth")["status"] == "loaded"


def test_the_cli_switches_plugins_and_refuses_what_it_does_not_know(make_app):
    app = make_app()
    assert run(app, "camps", "disable", "xapi").exit_code == 0
    assert "xapi  [disabled]" in run(app, "camps", "list").output
    result = run(app, "camps", "disable", "nobody")
    assert result.exit_code != 0 and "no camp or plugin 'nobody'" in result.output
    assert run(app, "camps", "enable", "xapi").exit_code == 0
    assert "xapi  [loaded]" in run(app, "camps", "list").output


# -- what a plugin brings is checked when it loads -------------------------------------


def test_an_unknown_lms_hook_fails_the_plugin(app_config):
    def lms_enroled(enrollment):  # a typo of lms_enrolled
        pass

    registry = loaded_with(app_config, typo=plugin(lms_enroled))
    info = registry.plugins["typo"]
    assert info.status == "failed"
    assert info.error == "PluginLoadError: unknown hook(s): lms_enroled"
    assert not registry.pm.has_plugin("typo")


def test_a_wrong_hook_argument_fails_the_plugin(app_config):
    def lms_enrolled(enrolment):  # the hook's argument is `enrollment`
        pass

    info = loaded_with(app_config, misspelt=plugin(lms_enrolled)).plugins["misspelt"]
    assert info.status == "failed"
    assert info.error.startswith("PluginValidationError:")
    assert "enrolment" in info.error


@pytest.mark.parametrize(
    "template", ["camp.html", "camps/other-camp/camp.html", "camps/studio-extra.html"]
)
def test_templates_outside_the_camps_namespace_fail_the_plugin(app_config, camp_package, template):
    folder = camp_package("studio", {template: "{% extends 'camp.html' %}"})
    registry = loaded_with(app_config, studio=camp_plugin(folder, "studio"))
    info = registry.plugins["studio"]
    assert info.status == "failed"
    assert info.error == (
        f"PluginLoadError: template {template} is outside templates/camps/studio/"
    )
    assert "studio" not in registry.camps
    assert folder / "templates" not in registry.template_folders()


def test_a_second_plugin_with_the_same_camp_slug_fails(app_config, camp_package):
    folder = camp_package("startup-growth")
    registry = loaded_with(app_config, copycat=camp_plugin(folder, "startup-growth"))
    info = registry.plugins["copycat"]
    assert info.status == "failed"
    assert info.error == (
        "PluginLoadError: camp 'startup-growth' is already provided by 'startup_growth'"
    )
    assert registry.camp_plugin["startup-growth"] == "startup_growth"
    assert registry.camps["startup-growth"].title_en == "Startup Growth Camp"


def test_registering_something_that_is_not_a_camp_fails_the_plugin(app_config):
    def lms_register_camps():
        return [{"slug": "dict-camp", "title_en": "Not a Camp"}]

    info = loaded_with(app_config, sloppy=plugin(lms_register_camps)).plugins["sloppy"]
    assert info.status == "failed"
    assert info.error.startswith("PluginLoadError: lms_register_camps returned {'slug'")
    assert info.error.endswith("not a Camp")


def test_an_invalid_curriculum_fails_the_plugin(app_config, camp_package):
    folder = camp_package("studio")
    (folder / "curriculum.yaml").write_text("camp: studio\ncourses: []\n", encoding="utf-8")
    registry = loaded_with(app_config, studio=camp_plugin(folder, "studio"))
    info = registry.plugins["studio"]
    assert info.status == "failed"
    assert info.error.startswith("CurriculumError:")
    assert "courses" in info.error
    assert "studio" not in registry.camps
    assert "studio" not in registry.curricula


def test_a_failed_plugins_hooks_are_never_called(make_app, client_for, learner, course):
    def lms_register_camps():
        return ["not a camp"]

    def lms_enrollment_policy(user, course):
        return EnrollmentDecision.deny("You shall not pass.")

    app = make_app(EXTRA_PLUGINS={"gatekeeper": plugin(lms_register_camps, lms_enrollment_policy)})
    assert registry_of(app).plugins["gatekeeper"].status == "failed"
    client = client_for(app)
    client.login(learner.email)
    assert "You shall not pass." not in client.get(course_url(course)).get_data(as_text=True)
    assert client.post(course_url(course) + "enroll").status_code == 302


# -- a third-party camp, end to end ----------------------------------------------------


def test_a_third_party_camp_brings_its_courses_template_and_static_files(
    make_app, client_for, camp_package
):
    intro = (
        "{% extends 'camp.html' %}{% block camp_intro %}"
        "<p class='studio-intro'>Welcome to the studio</p>{% endblock %}"
    )
    folder = camp_package("studio", {"camps/studio/camp.html": intro})
    app = make_app(EXTRA_PLUGINS={"studio": camp_plugin(folder, "studio")})
    assert registry_of(app).plugins["studio"].status == "loaded"
    client = client_for(app)

    camp_page = client.get("/camps/studio/").get_data(as_text=True)
    assert "Welcome to the studio" in camp_page
    assert "First Steps" in camp_page
    assert "Hello, Studio" in client.get("/camps/studio/first-steps/").get_data(as_text=True)
    assert client.get("/camps-static/studio/emblem.svg").get_data(as_text=True) == "<svg/>"


@pytest.mark.parametrize(
    "broken",
    [
        "{% extends 'camp.html' %}{% block camp_intro %}{% if %}{% endblock %}",  # syntax
        "{% extends 'camp.html' %}{% block camp_intro %}{{ 1 // 0 }}{% endblock %}",  # runtime
        "{% include 'camps/studio/missing.html' %}",  # a missing include
    ],
)
def test_a_broken_camp_template_is_reported_and_the_core_page_shown(
    make_app, client_for, camp_package, broken
):
    folder = camp_package("studio", {"camps/studio/camp.html": broken})
    app = make_app(EXTRA_PLUGINS={"studio": camp_plugin(folder, "studio")})
    client = client_for(app)
    response = client.get("/camps/studio/")
    assert response.status_code == 200
    assert "First Steps" in response.get_data(as_text=True)
    errors = registry_of(app).plugins["studio"].runtime_errors
    assert any("template camps/studio/camp.html" in error for error in errors)
    assert client.get("/").status_code == 200
    listed = {row["name"]: row for row in json.loads(run(app, "camps", "list", "--json").output)}
    assert listed["studio"]["status"] == "failed"
    assert listed["studio"]["error"].startswith("template camps/studio/camp.html")


def test_enabling_a_camp_never_synced_brings_its_courses_at_once(
    make_app, client_for, camp_package, organizer
):
    folder = camp_package("studio")
    app = make_app(sync=False, EXTRA_PLUGINS={"studio": camp_plugin(folder, "studio")})
    admin = client_for(app, login=organizer.email)
    [camp] = plugin_row(admin, "studio")["camps"]
    assert (camp["enabled"], camp["synced_at"]) == (None, None)  # just installed
    assert "First Steps" not in admin.get("/").get_data(as_text=True)

    assert admin.post("/admin/camps/studio/enable").status_code == 302
    [camp] = plugin_row(admin, "studio")["camps"]
    assert camp["enabled"] is True and camp["synced_at"]
    assert "First Steps" in admin.get("/").get_data(as_text=True)
    assert admin.get("/camps/studio/first-steps/").status_code == 200


# -- hooks that add pages, commands and events -----------------------------------------


def test_a_plugins_blueprint_answers_until_its_camp_is_disabled(make_app, client_for, camp_package):
    board = Blueprint("studio_board", __name__, url_prefix="/camps/studio/board")

    @board.get("/")
    def index():
        return "the studio board"

    def lms_blueprints():
        return [board]

    folder = camp_package("studio")
    app = make_app(EXTRA_PLUGINS={"studio": camp_plugin(folder, "studio", lms_blueprints)})
    client = client_for(app)
    assert client.get("/camps/studio/board/").get_data(as_text=True) == "the studio board"

    assert run(app, "camps", "disable", "studio").exit_code == 0
    assert client.get("/camps/studio/board/").status_code == 404

    assert run(app, "camps", "enable", "studio").exit_code == 0
    assert client.get("/camps/studio/board/").status_code == 200


def test_a_plugins_cli_command_is_added_to_lms(make_app):
    @click.command("studio-report")
    @click.option("--week", default=1)
    def studio_report(week):
        click.echo(f"week {week}: 3 learners")

    def lms_cli_commands():
        return [studio_report]

    app = make_app(EXTRA_PLUGINS={"reports": plugin(lms_cli_commands)})
    assert "studio-report" in run(app, "--help").output
    result = run(app, "studio-report", "--week", "2")
    assert result.exit_code == 0, result.output
    assert result.output == "week 2: 3 learners\n"


def test_lms_enrolled_is_called_once_per_new_enrollment(make_app, client_for, make_user, course):
    seen = []

    def lms_enrolled(enrollment):
        seen.append((enrollment.user.email, enrollment.course.slug))

    app = make_app(EXTRA_PLUGINS={"spy": plugin(lms_enrolled)})
    learner = make_user("spy@example.com")
    client = client_for(app)
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    assert seen == [("spy@example.com", "strategy-toolkit")]

    client.post(course_url(course) + "enroll")  # already enrolled: no new event
    assert seen == [("spy@example.com", "strategy-toolkit")]


# -- camp rules: asked of the camp's own plugin, failing closed -------------------------


def test_a_camp_rule_is_asked_only_about_its_own_camps_courses(
    make_app, client_for, make_user, course, camp_package
):
    asked = []

    def lms_enrollment_policy(user, course):
        asked.append(course.camp.slug)
        return EnrollmentDecision.deny("Studio members only.")

    folder = camp_package("studio")
    app = make_app(EXTRA_PLUGINS={"studio": camp_plugin(folder, "studio", lms_enrollment_policy)})
    client = client_for(app, login=make_user("visitor@example.com").email)
    assert client.post(course_url(course) + "enroll").status_code == 302  # Startup Growth's
    assert client.post("/camps/studio/first-steps/enroll").status_code == 403
    assert asked == ["studio"]


def test_a_plugin_without_a_camp_cannot_implement_a_camp_rule(app_config):
    def lms_lesson_completion_threshold(lesson):
        return 0.5

    info = loaded_with(app_config, rogue=plugin(lms_lesson_completion_threshold)).plugins["rogue"]
    assert info.status == "failed"
    assert info.error == (
        "PluginLoadError: lms_lesson_completion_threshold: camp rules are asked only of the "
        "plugin owning the camp, and this plugin provides no camp"
    )


def lms_lesson_completion_threshold(lesson):
    raise RuntimeError("rules service is down")


def lms_max_playback_rate(lesson):
    raise RuntimeError("rules service is down")


def lms_quiz_passing_score(lesson, passing_score):
    raise RuntimeError("rules service is down")


@pytest.mark.parametrize(
    ("rule", "strictest"),
    [
        (lambda lesson: lessons.completion_threshold(lesson), 1.0),
        (lambda lesson: progress.max_playback_rate(lesson), 1.0),
        (lambda lesson: policy.passing_score(lesson, 60), 100.0),
    ],
    ids=["completion threshold", "playback rate", "pass mark"],
)
def test_a_raising_camp_rule_gives_its_strictest_answer_and_is_recorded(
    make_app, course, rule, strictest
):
    hooks = lms_lesson_completion_threshold, lms_max_playback_rate, lms_quiz_passing_score
    app = with_the_course(make_app, *hooks)
    with app.test_request_context():
        assert rule(video_lessons_of(course.id)[0]) == strictest
    [error] = registry_of(app).plugins["owner"].runtime_errors
    assert error.endswith(": RuntimeError: rules service is down")


def test_a_raising_course_completion_keeps_the_course_open(make_app, client_for, make_user, course):
    def lms_course_completion(enrollment):
        raise RuntimeError("rules service is down")

    app = with_the_course(make_app, lms_course_completion)
    learner = make_user("finisher@example.com")
    client = client_for(app, login=learner.email)
    client.post(course_url(course) + "enroll")
    complete_all_but(app, learner, course, keep_open=READING)
    read_lesson(client, course)
    assert enrollment_state(app, learner, course) == ("active", False)  # no certificate
    assert list(registry_of(app).plugins["owner"].runtime_errors) == [
        "lms_course_completion: RuntimeError: rules service is down"
    ]


def test_an_event_that_raises_leaves_the_other_plugins_called(
    make_app, client_for, make_user, course
):
    seen = []

    def lms_enrolled(enrollment):
        raise RuntimeError("the queue is down")

    def listener_enrolled(enrollment):
        seen.append(enrollment.user.email)

    listener = types.ModuleType("listener")
    listener.lms_enrolled = hookimpl(specname="lms_enrolled")(listener_enrolled)
    # pluggy calls the last registered first: the broken one, then the listener
    app = make_app(EXTRA_PLUGINS={"listener": listener, "broken": plugin(lms_enrolled)})
    client = client_for(app, login=make_user("heard@example.com").email)
    assert client.post(course_url(course) + "enroll").status_code == 302
    assert seen == ["heard@example.com"]
    assert list(registry_of(app).plugins["broken"].runtime_errors) == [
        "lms_enrolled: RuntimeError: the queue is down"
    ]


# -- completion hooks ------------------------------------------------------------------

READING = "one-page-strategy-plan"  # the reading lesson of the strategy-toolkit course


def read_lesson(client: Client, course, lesson: str = READING):
    return client.post(f"{course_url(course)}lessons/{lesson}/read")


def complete_all_but(app, user, course, keep_open: str) -> None:
    """Record the learner as having completed every lesson of ``course`` except one."""
    with app.app_context():
        lessons = db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course.id)
        ).all()
        for lesson in lessons:
            if lesson.slug != keep_open:
                db.session.add(
                    LessonProgress(user_id=user.id, lesson_id=lesson.id, completed_at=utcnow())
                )
        db.session.commit()


def enrollment_state(app, user, course) -> tuple[str, bool]:
    with app.app_context():
        enrollment = db.session.scalar(
            db.select(Enrollment).filter_by(user_id=user.id, course_id=course.id)
        )
        certificate = db.session.scalar(
            db.select(Certificate).filter_by(user_id=user.id, course_id=course.id)
        )
        return enrollment.status, certificate is not None


def test_lms_lesson_completed_is_called_once_per_completed_lesson(
    make_app, client_for, make_user, course
):
    seen = []

    def lms_lesson_completed(progress):
        seen.append((progress.user_id, progress.lesson.slug))

    app = make_app(EXTRA_PLUGINS={"spy": plugin(lms_lesson_completed)})
    learner = make_user("reader@example.com")
    client = client_for(app)
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    assert read_lesson(client, course).status_code == 302
    assert seen == [(learner.id, READING)]

    read_lesson(client, course)  # already complete: no new event
    assert seen == [(learner.id, READING)]


@pytest.mark.parametrize(("verdict", "completed"), [(None, True), (False, False)])
def test_lms_course_completion_can_keep_a_finished_course_open(
    make_app, client_for, make_user, course, verdict, completed
):
    asked = []

    def lms_course_completion(enrollment):
        asked.append(enrollment.course.slug)
        return verdict

    app = with_the_course(make_app, lms_course_completion, name="judge")
    learner = make_user("finisher@example.com")
    client = client_for(app)
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    complete_all_but(app, learner, course, keep_open=READING)

    read_lesson(client, course)
    assert asked == ["strategy-toolkit"]
    expected = ("completed", True) if completed else ("active", False)
    assert enrollment_state(app, learner, course) == expected


def test_lms_course_completed_is_called_once_when_a_plugin_completes_the_course(
    make_app, client_for, make_user, course
):
    completed = []

    def lms_course_completion(enrollment):
        return enrollment.course.slug == "strategy-toolkit"  # one lesson is enough here

    def lms_course_completed(enrollment):
        completed.append((enrollment.user.email, enrollment.course.slug, enrollment.status))

    app = with_the_course(make_app, lms_course_completion, lms_course_completed, name="fast")
    learner = make_user("fast@example.com")
    client = client_for(app)
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    read_lesson(client, course)
    assert completed == [("fast@example.com", "strategy-toolkit", "completed")]
    assert enrollment_state(app, learner, course) == ("completed", True)

    with app.test_request_context():  # checking again, as the next completed lesson would
        user, again = db.session.get(User, learner.id), db.session.get(Course, course.id)
        assert completion.check_course(user, again) is False
    assert len(completed) == 1


# -- static files ----------------------------------------------------------------------


@pytest.mark.parametrize("slug", sorted(BUNDLED.values()))
def test_each_camps_emblem_is_served(client, slug):
    response = client.get(f"/camps-static/{slug}/emblem.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.get_data(as_text=True).startswith("<svg")


def test_a_disabled_camps_static_files_are_404(app, client):
    assert run(app, "camps", "disable", "entrepreneur").exit_code == 0
    assert client.get("/camps-static/entrepreneur/emblem.svg").status_code == 404
    assert client.get("/camps-static/startup-growth/emblem.svg").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/camps-static/nope/emblem.svg",
        "/camps-static/startup-growth/missing.svg",
        "/camps-static/startup-growth/../__init__.py",
        "/camps-static/startup-growth/%2e%2e/__init__.py",
        "/camps-static/startup-growth/..%2f__init__.py",
        "/camps-static/startup-growth/..%5c__init__.py",
        "/camps-static/startup-growth/../templates/camps/startup-growth/camp.html",
        "/camps-static/startup-growth/%2Fetc%2Fpasswd",
    ],
)
def test_camp_static_paths_cannot_leave_the_static_folder(client, path):
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "hookimpl" not in body
    assert "root:" not in body


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def client_for():
    """A test client for an app built inside the test (with extra plugins), logged in as
    ``login`` when given."""

    def build(app, login: str | None = None) -> Client:
        client = Client(app.test_client())
        if login is not None:
            assert client.login(login).status_code == 302
        return client

    return build


def test_the_sync_button_reads_the_installed_curriculum_file_again(
    make_app, client_for, camp_package, organizer
):
    folder = camp_package("studio")
    app = make_app(EXTRA_PLUGINS={"studio": camp_plugin(folder, "studio")})
    admin = client_for(app, login=organizer.email)
    curriculum = folder / "curriculum.yaml"
    curriculum.write_text(
        curriculum.read_text(encoding="utf-8").replace("First Steps", "Second Steps"), "utf-8"
    )
    page = admin.post("/admin/camps/studio/sync", follow_redirects=True).get_data(as_text=True)
    assert "studio synced: 0 created, 1 updated, 0 archived." in page
    assert "Second Steps" in admin.get("/camps/studio/").get_data(as_text=True)

    curriculum.write_text("camp: studio\ncourses: []\n", encoding="utf-8")
    page = admin.post("/admin/camps/studio/sync", follow_redirects=True).get_data(as_text=True)
    assert "studio was not synced: " in page and "courses" in page
    assert "Second Steps" in admin.get("/camps/studio/").get_data(as_text=True)
    result = run(app, "camps", "sync", "studio")
    assert result.exit_code == 1 and "courses" in result.output


def test_a_removed_camp_keeps_learners_records_and_comes_back_when_installed_again(
    make_app, client_for, camp_package, organizer, make_user
):
    folder = camp_package("studio")
    app = make_app(EXTRA_PLUGINS={"studio": camp_plugin(folder, "studio")})
    learner = make_user("stays@example.com")
    client_for(app, login=learner.email).post("/camps/studio/first-steps/enroll")
    admin = client_for(app, login=organizer.email)
    assert "First Steps" in admin.get("/teach/").get_data(as_text=True)

    result = run(app, "camps", "remove", "studio")
    assert result.exit_code == 0, result.output
    assert "studio: removed, 1 courses archived" in result.output
    assert "First Steps" not in admin.get("/teach/").get_data(as_text=True)  # no dead links

    gone = make_app(sync=False)  # the package uninstalled, the server reloaded
    admin = client_for(gone, login=organizer.email)
    page = admin.get("/admin/camps").get_data(as_text=True)
    assert "Camps whose code is missing" in page and "<code>studio</code>" in page
    listing = run(gone, "camps", "list").output
    assert "camp studio  [code missing]  plugin studio (disabled)" in listing
    assert run(gone, "camps", "disable", "studio").exit_code == 0
    with gone.app_context():
        course = db.session.scalar(db.select(Course).filter_by(slug="first-steps"))
        assert course.archived_at is not None
        assert db.session.scalar(db.select(Enrollment).filter_by(user_id=learner.id))

    back = make_app(sync=False, EXTRA_PLUGINS={"studio": camp_plugin(folder, "studio")})
    assert run(back, "camps", "enable", "studio").exit_code == 0
    visitor = client_for(back, login=learner.email)
    page = visitor.get("/camps/studio/first-steps/").get_data(as_text=True)
    assert "Hello, Studio" in page
    with back.app_context():
        assert db.session.scalar(db.select(Enrollment).filter_by(user_id=learner.id))


def test_the_remove_button_is_for_organizers_and_known_camps(app, client_for, organizer, learner):
    assert (
        client_for(app, login=learner.email).post("/admin/camps/studio/remove").status_code == 403
    )
    admin = client_for(app, login=organizer.email)
    assert admin.post("/admin/camps/nowhere/remove").status_code == 404
    response = admin.post("/admin/camps/practitioner/remove", follow_redirects=True)
    assert "practitioner is removed" in response.get_data(as_text=True)
