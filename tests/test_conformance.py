"""The bundled camps pass the conformance kit third-party camps use (``lms.testing``).

Each check of :class:`lms.testing.CampConformance` runs once per bundled camp plugin, on the
suite's database (SQLite, or a private PostgreSQL schema in the PostgreSQL run).
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import wtforms
from flask import Blueprint
from wtforms.validators import InputRequired as Required

import plugins.entrepreneur
from lms import Camp, EnrollmentDecision, hookimpl
from lms.extensions import db
from lms.models import Organization, User
from lms.plugins import PluginRegistry
from lms.testing import CampConformance, LmsClient, make_learner
from tests.conftest import _postgres_schema

pytest_plugins = ["lms.testing"]

BUNDLED_CAMP_PLUGINS = ["startup_growth", "entrepreneur", "silicon_valley", "practitioner"]


@pytest.fixture(params=BUNDLED_CAMP_PLUGINS)
def lms_plugin(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def lms_config(app_config: dict) -> Iterator[dict]:
    schema = _postgres_schema(app_config)
    next(schema)
    yield app_config
    next(schema, None)


@pytest.fixture
def lms_learner(lms_app) -> User:
    """A learner sent by a park company: the Practitioner Camp admits only those."""
    with lms_app.app_context():
        company = Organization(name="Conformance Co.")
        db.session.add(company)
        db.session.commit()
        return make_learner("member@example.com", organization_id=company.id)


class TestBundledCamp(CampConformance):
    """Loads cleanly, valid curriculum, every page renders, static files, hooks."""


def test_every_bundled_camp_plugin_is_checked():
    registry = PluginRegistry()
    registry.load_entry_points()
    bundled = {
        name
        for name, info in registry.plugins.items()
        if info.module.startswith("plugins.") and info.camps
    }
    assert bundled == set(BUNDLED_CAMP_PLUGINS)


# -- the kit fails a camp that breaks the rules ------------------------------------------


def rule_breaker(hook: str, implementation: Callable) -> types.ModuleType:
    """A plugin with the Entrepreneur curriculum and one misbehaving hook."""
    module = types.ModuleType("rule_breaker")
    here = Path(plugins.entrepreneur.__file__).parent

    @hookimpl
    def lms_register_camps():
        return [
            Camp(
                slug="entrepreneur",
                title_zh="违规营",
                title_en="Rule Breaker Camp",
                curriculum=here / "curriculum.yaml",
            )
        ]

    module.lms_register_camps = lms_register_camps
    setattr(module, hook, hookimpl(implementation))
    return module


BROKEN_BOARD = Blueprint("rule_breaker_board", __name__, url_prefix="/rule-breaker/board")
BROKEN_BOARD.add_url_rule("/", "index", lambda: ("the board is broken", 500))


@pytest.mark.parametrize(
    ("hook", "implementation", "check", "message"),
    [
        (
            "lms_lesson_completion_threshold",
            lambda lesson: 1.5,
            "test_its_hooks_answer_what_the_core_expects",
            "lms_lesson_completion_threshold returned 1.5",
        ),
        (
            "lms_max_playback_rate",
            lambda lesson: 16,
            "test_its_hooks_answer_what_the_core_expects",
            "lms_max_playback_rate returned 16",
        ),
        (
            "lms_enrollment_policy",
            lambda user, course: EnrollmentDecision.deny(""),
            "test_a_plain_learner_is_enrolled_or_clearly_refused",
            "a refusal must give its reason",
        ),
        (
            "lms_plugin_settings",
            lambda: type(
                "Settings", (wtforms.Form,), {"room": wtforms.StringField(validators=[Required()])}
            ),
            "test_its_hooks_answer_what_the_core_expects",
            "the settings' defaults do not validate",
        ),
        (
            "lms_migrations",
            lambda: [Path(plugins.entrepreneur.__file__).parent / "templates"],
            "test_its_hooks_answer_what_the_core_expects",
            "is not a folder of Alembic revisions",
        ),
        (
            "lms_blueprints",
            lambda: [BROKEN_BOARD],
            "test_the_pages_of_its_blueprints_answer",
            "/rule-breaker/board/ for a visitor: 500",
        ),
    ],
)
def test_the_kit_fails_a_camp_that_breaks_the_rules(make_app, hook, implementation, check, message):
    plugin = rule_breaker(hook, implementation)
    app = make_app(LOAD_PLUGINS="", EXTRA_PLUGINS={"rule_breaker": plugin}, PLUGINS_STRICT=True)
    with app.app_context():
        learner = make_learner("learner@example.com")
    fixtures = {"lms_app": app, "lms_plugin": "rule_breaker"}
    fixtures |= {"lms_client": LmsClient(app), "lms_learner": learner}
    method = getattr(CampConformance(), check)
    arguments = {name: fixtures[name] for name in inspect.signature(method).parameters}
    with pytest.raises(AssertionError, match=message):
        method(**arguments)
