# ruff: noqa: S101 - pytest checks: assert is the point
"""The conformance kit: pytest fixtures and checks a camp package runs against itself.

In a camp package's tests (``lms camps new`` writes this for you)::

    import pytest
    from lms.testing import CampConformance

    pytest_plugins = ["lms.testing"]


    @pytest.fixture
    def lms_plugin() -> str:
        return "design"  # the plugin's entry-point name in the ``lms.plugins`` group


    class TestConformance(CampConformance):
        pass

The tests of :class:`CampConformance` check that the plugin loads cleanly, its curriculum is
valid and syncs, every page of its camps renders for a visitor and for an enrolled learner,
a plain learner is enrolled or clearly refused, its static files are served, its templates
and catalogs are sound, and its hooks answer what the core expects.

Fixtures: ``lms_app`` (an app on a fresh SQLite database with only this plugin loaded, in
strict mode, camps synced), ``lms_client`` (a test client that logs in and sends CSRF
tokens) and ``lms_learner``. Override ``lms_config`` for other settings (another database,
say), and ``lms_learner`` when your enrollment policy refuses a plain learner.

The checks' assertions carry their own messages, so pytest need not rewrite them
(PYTEST_DONT_REWRITE): a test file may import this module before naming it in
``pytest_plugins``.
"""

from __future__ import annotations

import inspect
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import pytest
import wtforms
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, url_for
from markupsafe import escape

from lms import create_app
from lms.camp import Camp, EnrollmentDecision
from lms.extensions import db
from lms.hookspecs import HOOK_NAMES
from lms.models import Camp as CampRow
from lms.models import Course, User
from lms.plugins import PluginInfo, PluginRegistry, check_template_namespace
from lms.services import accounts, catalog, enrollment
from lms.services import camps as camp_service
from lms.services.curriculum import load_curriculum

PASSWORD = "conformance kit password"  # noqa: S105 - test accounts only
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
NOT_IMPLEMENTED = object()

__all__ = ["PASSWORD", "CampConformance", "LmsClient", "make_learner"]


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def lms_plugin() -> str:
    """The plugin under test, by its entry-point name: override this fixture."""
    pytest.fail(
        "override the lms_plugin fixture: return the plugin's entry-point name "
        '(the name before "=" under [project.entry-points."lms.plugins"])',
        pytrace=False,
    )


@pytest.fixture
def lms_config(tmp_path: Path) -> dict[str, Any]:
    """Settings for ``lms_app``: a fresh SQLite database and media folder in ``tmp_path``."""
    return {
        "TESTING": True,
        "SECRET_KEY": secrets.token_hex(16),
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'lms.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "JOBS_INLINE": True,
    }


@pytest.fixture
def lms_app(lms_plugin: str, lms_config: dict[str, Any]) -> Iterator[Flask]:
    """The app with only ``lms_plugin`` loaded, strictly (its errors are raised), on a
    database with every table and its camps synced."""
    app = create_app({"LOAD_PLUGINS": [lms_plugin], **lms_config, "PLUGINS_STRICT": True})
    if lms_plugin not in registry_of(app).plugins:
        pytest.fail(
            f"no plugin {lms_plugin!r} in the lms.plugins entry points: is its package "
            "installed (pip install -e .)?",
            pytrace=False,
        )
    with app.app_context():
        db.create_all()
        camp_service.sync()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def lms_client(lms_app: Flask) -> LmsClient:
    return LmsClient(lms_app)


@pytest.fixture
def lms_learner(lms_app: Flask) -> User:
    """A learner with no organization. Override it if your enrollment policy refuses them."""
    with lms_app.app_context():
        return make_learner("learner@example.com")


# -- helpers -------------------------------------------------------------------------------


def make_learner(email: str, **fields: Any) -> User:
    """Create a learner whose password is :data:`PASSWORD` (needs an app context)."""
    user = accounts.create_user(email, email.split("@")[0], PASSWORD, **fields)
    db.session.refresh(user)
    db.session.expunge(user)
    return user


class LmsClient:
    """Flask's test client asking for English pages, with the CSRF token a browser sends."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.raw = app.test_client()
        self.raw.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.raw.get(url, **kwargs)

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs: Any) -> Any:
        page = self.raw.get(self.url("auth.login")).get_data(as_text=True)
        match = CSRF_META.search(page)
        assert match, "no CSRF token on the login page"
        return self.raw.post(url, data={"csrf_token": match.group(1), **(data or {})}, **kwargs)

    def login(self, user: User, password: str = PASSWORD) -> None:
        response = self.post(self.url("auth.login"), {"email": user.email, "password": password})
        assert response.status_code == 302, f"{user.email} could not log in"

    def logout(self) -> None:
        self.post(self.url("auth.logout"))

    def url(self, endpoint: str, **values: Any) -> str:
        with self.app.test_request_context():
            return url_for(endpoint, **values)


def registry_of(app: Flask) -> PluginRegistry:
    return app.extensions["lms.plugins"]


@dataclass
class CoursePages:
    """A published course of the curriculum and the addresses of its pages."""

    slug: str
    title: str
    page: str
    enroll: str
    lessons: list[tuple[str, str]] = field(default_factory=list)  # (kind, page)
    reads: list[str] = field(default_factory=list)  # "mark as read" of reading lessons


def camps_of(app: Flask, plugin: str) -> list[Camp]:
    """The camps the plugin provides."""
    registry = registry_of(app)
    return [registry.camps[slug] for slug in registry.plugins[plugin].camps]


def course_pages(app: Flask, slug: str) -> list[CoursePages]:
    """Each published course of the camp's curriculum, with its lessons' addresses."""
    curriculum = registry_of(app).curricula.get(slug)
    pages = []
    with app.test_request_context():
        for spec in curriculum.courses if curriculum else []:
            if spec.status != "published":
                continue
            where = {"camp_slug": slug, "course_slug": spec.slug}
            course = CoursePages(
                spec.slug,
                spec.title.en,
                url_for("catalog.course", **where),
                url_for("catalog.enroll", **where),
            )
            for lesson in spec.lessons():
                page = url_for("learn.lesson", **where, lesson_slug=lesson.slug)
                course.lessons.append((lesson.kind, page))
                if lesson.kind == "reading":
                    read = url_for("learn.mark_read", **where, lesson_slug=lesson.slug)
                    course.reads.append(read)
            pages.append(course)
    return pages


def call_own(app: Flask, plugin: str, hook: str, **kwargs: Any) -> Any:
    """Call the plugin's own implementation of ``hook`` (``NOT_IMPLEMENTED`` if it has none),
    with the arguments it asks for."""
    for impl in getattr(registry_of(app).pm.hook, hook).get_hookimpls():
        if impl.plugin_name == plugin:
            function = inspect.unwrap(impl.function)  # the plugin's own, not the core's guard
            return function(*(kwargs[name] for name in impl.argnames))
    return NOT_IMPLEMENTED


def text(response: Any) -> str:
    return response.get_data(as_text=True)


# -- the checks ----------------------------------------------------------------------------


class CampConformance:
    """What every camp plugin should pass. Subclass it in a ``Test…`` class."""

    def test_the_plugin_loads_cleanly(self, lms_app: Flask, lms_plugin: str) -> None:
        info: PluginInfo = registry_of(lms_app).plugins[lms_plugin]
        assert info.status == "loaded", f"{lms_plugin} failed: {info.error}"
        assert not info.runtime_errors, f"errors at run time: {list(info.runtime_errors)}"
        assert info.camps, f"{lms_plugin} provides no camp (lms_register_camps)"
        unknown = set(info.hooks) - set(HOOK_NAMES)
        assert not unknown, f"unknown hooks: {sorted(unknown)}"

    def test_its_curriculum_is_valid(self, lms_app: Flask, lms_plugin: str) -> None:
        for camp in camps_of(lms_app, lms_plugin):
            if camp.curriculum is not None:
                curriculum = load_curriculum(camp.curriculum, camp.slug)
                assert curriculum.courses, f"{camp.curriculum} has no course"

    def test_sync_creates_its_courses_and_a_second_sync_changes_nothing(
        self, lms_app: Flask, lms_plugin: str
    ) -> None:
        registry = registry_of(lms_app)
        slugs = [camp.slug for camp in camps_of(lms_app, lms_plugin)]
        with lms_app.app_context():
            for slug in slugs:
                curriculum = registry.curricula.get(slug)
                expected = {course.slug for course in curriculum.courses} if curriculum else set()
                stored = db.session.scalars(
                    db.select(Course.slug)
                    .join(CampRow, Course.camp_id == CampRow.id)
                    .where(CampRow.slug == slug, Course.archived_at.is_(None))
                )
                assert set(stored) == expected, f"camp {slug}: the sync made other courses"
            for slug, report in camp_service.sync(slugs).items():
                assert not report.changed, f"camp {slug}: a second sync changed {report}"

    def test_every_page_renders_for_a_visitor(
        self, lms_app: Flask, lms_plugin: str, lms_client: LmsClient
    ) -> None:
        catalog_page = text(lms_client.get(lms_client.url("catalog.index")))
        for camp in camps_of(lms_app, lms_plugin):
            camp_url = lms_client.url("catalog.camp", slug=camp.slug)
            assert f'href="{camp_url}"' in catalog_page, f"{camp.slug} is not in the catalog"
            response = lms_client.get(camp_url)
            assert response.status_code == 200, f"{camp_url}: {response.status_code}"
            assert escape(camp.title_en) in text(response), f"{camp_url} lacks the camp's title"
            login = lms_client.url("auth.login")
            for course in course_pages(lms_app, camp.slug):
                response = lms_client.get(course.page)
                assert response.status_code == 200, f"{course.page}: {response.status_code}"
                assert escape(course.title) in text(response), f"{course.page} lacks its title"
                for _kind, page in course.lessons:
                    response = lms_client.get(page)
                    assert response.status_code == 302, f"{page}: {response.status_code}"
                    assert response.headers["Location"].startswith(login), f"{page}: not to login"

    def test_every_page_renders_for_an_enrolled_learner(
        self, lms_app: Flask, lms_plugin: str, lms_client: LmsClient, lms_learner: User
    ) -> None:
        lms_client.login(lms_learner)
        for camp in camps_of(lms_app, lms_plugin):
            for course in course_pages(lms_app, camp.slug):
                response = lms_client.post(course.enroll)
                assert response.status_code == 302, (
                    f"enrolling lms_learner in {course.page} answered {response.status_code}: "
                    "if your enrollment policy refuses them, override the lms_learner fixture"
                )
                response = lms_client.get(course.page)
                assert response.status_code == 200, f"{course.page}: {response.status_code}"
                for kind, page in course.lessons:
                    response = lms_client.get(page)
                    assert response.status_code == 200, f"{kind} {page}: {response.status_code}"
                for read in course.reads:
                    response = lms_client.post(read)
                    assert response.status_code == 302, f"{read}: {response.status_code}"
        response = lms_client.get(lms_client.url("learn.dashboard"))
        assert response.status_code == 200, f"dashboard: {response.status_code}"

    def test_the_pages_of_its_blueprints_answer(
        self, lms_app: Flask, lms_plugin: str, lms_client: LmsClient, lms_learner: User
    ) -> None:
        """Every GET page of the plugin's blueprints that needs no argument answers, for a
        visitor and for a learner, without an error (strict mode raises any exception)."""
        blueprints = call_own(lms_app, lms_plugin, "lms_blueprints")
        names = set() if blueprints in (None, NOT_IMPLEMENTED) else {b.name for b in blueprints}
        pages = [
            rule.rule
            for rule in lms_app.url_map.iter_rules()
            if rule.endpoint.split(".")[0] in names
            and "GET" in (rule.methods or ())
            and not rule.arguments
        ]
        for visitor in ("visitor", "learner"):
            if visitor == "learner":
                lms_client.login(lms_learner)
            for page in pages:
                status = lms_client.get(page).status_code
                assert status < 500, f"{page} for a {visitor}: {status}"

    def test_a_plain_learner_is_enrolled_or_clearly_refused(
        self, lms_app: Flask, lms_plugin: str, lms_client: LmsClient
    ) -> None:
        with lms_app.app_context():
            plain = make_learner("plain.learner@example.com")
        lms_client.login(plain)
        for camp in camps_of(lms_app, lms_plugin):
            for course in course_pages(lms_app, camp.slug):
                decision = _decision(lms_app, plain, camp.slug, course.slug)
                response = lms_client.post(course.enroll)
                if decision.allowed:
                    assert response.status_code == 302, f"{course.enroll}: {response.status_code}"
                    continue
                assert decision.reason, f"{course.page}: a refusal must give its reason"
                assert response.status_code == 403, f"{course.enroll}: {response.status_code}"
                reason = escape(decision.reason)
                assert reason in text(response), f"{course.enroll} does not say {reason}"
                page = text(lms_client.get(course.page))
                assert reason in page, f"{course.page} does not say {reason}"
                for _kind, page in course.lessons:
                    response = lms_client.get(page)
                    assert response.status_code == 302, f"{page}: {response.status_code}"
                    assert response.headers["Location"].endswith(course.page), f"{page}: redirect"

    def test_its_static_files_are_served(
        self, lms_app: Flask, lms_plugin: str, lms_client: LmsClient
    ) -> None:
        for camp in camps_of(lms_app, lms_plugin):
            folder = registry_of(lms_app).static_folder(camp.slug)
            if folder is None:
                continue
            for path in sorted(folder.rglob("*")):
                if not path.is_file():
                    continue
                relative = path.relative_to(folder).as_posix()
                url = lms_client.url("camp_static", slug=camp.slug, filename=relative)
                with lms_client.get(url) as response:
                    assert response.status_code == 200, f"{url}: {response.status_code}"
                    assert response.get_data() == path.read_bytes(), f"{url}: other bytes"

    def test_its_templates_and_catalogs_are_sound(self, lms_app: Flask, lms_plugin: str) -> None:
        for camp in camps_of(lms_app, lms_plugin):
            if camp.package_dir is None:
                continue
            check_template_namespace(camp.package_dir, camp.slug)
            templates = camp.package_dir / "templates"
            for path in sorted(templates.rglob("*")) if templates.is_dir() else []:
                if path.is_file():  # compiles, or raises TemplateSyntaxError
                    lms_app.jinja_env.get_template(path.relative_to(templates).as_posix())
            for po_path in sorted(camp.package_dir.glob("translations/*/LC_MESSAGES/*.po")):
                with po_path.open("rb") as po_file:
                    read_po(po_file, abort_invalid=True)

    def test_its_hooks_answer_what_the_core_expects(
        self, lms_app: Flask, lms_plugin: str, lms_learner: User
    ) -> None:
        def own(hook: str, **kwargs: Any) -> Any:
            return call_own(lms_app, lms_plugin, hook, **kwargs)

        blueprints = own("lms_blueprints")
        if blueprints is not NOT_IMPLEMENTED:
            assert all(isinstance(b, Blueprint) for b in blueprints or []), blueprints
        commands = own("lms_cli_commands")
        if commands is not NOT_IMPLEMENTED:
            assert all(isinstance(c, click.Command) for c in commands or []), commands
        folders = own("lms_migrations")
        if folders not in (None, NOT_IMPLEMENTED):
            for folder in folders:
                assert Path(folder).is_dir() and any(Path(folder).glob("*.py")), (
                    f"lms_migrations: {folder} is not a folder of Alembic revisions"
                )
        with lms_app.test_request_context():
            form_class = own("lms_plugin_settings")
            if form_class not in (None, NOT_IMPLEMENTED):
                assert isinstance(form_class, type) and issubclass(form_class, wtforms.Form), (
                    f"lms_plugin_settings returned {form_class!r}, not a wtforms.Form class"
                )
                form = form_class()
                assert form.validate(), f"the settings' defaults do not validate: {form.errors}"
        with lms_app.test_request_context(headers={"Accept-Language": "en"}):
            user = db.session.get(User, lms_learner.id)
            assert user is not None
            for camp in camps_of(lms_app, lms_plugin):
                for pages in course_pages(lms_app, camp.slug):
                    course = catalog.find_course(camp.slug, pages.slug, user)
                    assert course is not None, f"{camp.slug}/{pages.slug}: no course"
                    decision = own("lms_enrollment_policy", user=user, course=course)
                    assert (
                        decision is None
                        or decision is NOT_IMPLEMENTED
                        or (
                            isinstance(decision, EnrollmentDecision)
                            and (decision.allowed or decision.reason)
                        )
                    ), f"lms_enrollment_policy returned {decision!r}"
                    for module in catalog.outline(course, None).modules:
                        for lesson in module.lessons:
                            threshold = own("lms_lesson_completion_threshold", lesson=lesson)
                            assert _no_answer_or_number(threshold, lambda t: 0 < t <= 1), (
                                f"lms_lesson_completion_threshold returned {threshold!r}"
                            )
                            rate = own("lms_max_playback_rate", lesson=lesson)
                            assert _no_answer_or_number(rate, lambda r: 1 <= r <= 4), (
                                f"lms_max_playback_rate returned {rate!r}"
                            )
                    if enrollment.decide(user, course).allowed:
                        row, _created = enrollment.enroll(user, course)
                        done = own("lms_course_completion", enrollment=row)
                        assert done is None or done is NOT_IMPLEMENTED or isinstance(done, bool), (
                            f"lms_course_completion returned {done!r}"
                        )


def _no_answer_or_number(value: object, within: Callable[[float], bool]) -> bool:
    """A hook's answer: none (None, or not implemented), or a real number ``within`` range."""
    return (
        value is None
        or value is NOT_IMPLEMENTED
        or (isinstance(value, int | float) and not isinstance(value, bool) and within(value))
    )


def _decision(app: Flask, user: User, camp_slug: str, course_slug: str) -> EnrollmentDecision:
    """What the core and the camps decide about ``user`` enrolling, in English."""
    with app.test_request_context(headers={"Accept-Language": "en"}):
        row = db.session.get(User, user.id)
        assert row is not None, f"no user {user.id}"
        course = catalog.find_course(camp_slug, course_slug, row)
        assert course is not None, f"{camp_slug}/{course_slug}: no course"
        return enrollment.decide(row, course)
