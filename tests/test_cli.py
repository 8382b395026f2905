"""The ``lms`` command line, as an organizer uses it: init, demo and camps."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import inspect

from lms import create_app
from lms.cli import main
from lms.extensions import db
from lms.models import Camp, Course, Lesson, MediaAsset, User
from lms.services import demo as demo_service
from lms.services import media
from tests.conftest import Client, _postgres_schema

ACCOUNT_LINE = re.compile(r"^  (learner|trainer|organizer)\s+(\S+@demo\.camp)\s+(\S+)$", re.M)


def run(app: Flask, *args: str):
    return app.test_cli_runner().invoke(main, list(args))


@pytest.fixture
def instance(tmp_path: Path, monkeypatch) -> Path:
    """A private instance folder (config.py, demo-accounts.txt), as LMS_INSTANCE_PATH sets."""
    folder = tmp_path / "instance"
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(folder))
    return folder


@pytest.fixture
def empty_app(app_config: dict, instance: Path) -> Iterator[Flask]:
    """An app on a database with no tables at all (a PostgreSQL run gets a fresh schema)."""
    schema = _postgres_schema(app_config)
    next(schema)
    app = create_app(app_config)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    next(schema, None)


# -- lms init --------------------------------------------------------------------------


def test_init_writes_a_secret_key_migrates_and_syncs(empty_app, instance):
    result = run(empty_app, "init")
    assert result.exit_code == 0, result.output
    config_file = instance / "config.py"
    assert f"Wrote {config_file} with a new secret key." in result.output
    assert re.search(r"^SECRET_KEY = '[0-9a-f]{64}'$", config_file.read_text(), re.M)
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert Path(empty_app.config["MEDIA_ROOT"]).is_dir()
    for slug in ("startup-growth", "entrepreneur", "silicon-valley", "practitioner"):
        assert re.search(rf"^{slug}: [1-9]\d* created, 0 updated, 0 archived$", result.output, re.M)

    with empty_app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        assert {"alembic_version", "camps", "courses", "lessons", "users"} <= tables
        assert db.session.scalar(db.select(db.func.count(Camp.id))) == 4
        assert db.session.scalar(db.select(db.func.count(Course.id))) >= 12


def test_init_twice_keeps_the_secret_key_and_changes_nothing(empty_app, instance):
    assert run(empty_app, "init").exit_code == 0
    written = (instance / "config.py").read_text()

    again = run(empty_app, "init")
    assert again.exit_code == 0, again.output
    assert "Wrote" not in again.output
    assert (instance / "config.py").read_text() == written
    assert again.output.count(": 0 created, 0 updated, 0 archived") == 4


def test_the_app_uses_the_secret_key_init_wrote(empty_app, instance):
    run(empty_app, "init")
    key = re.search(r"SECRET_KEY = '(\w+)'", (instance / "config.py").read_text()).group(1)
    assert create_app().config["SECRET_KEY"] == key


# -- lms demo --------------------------------------------------------------------------


@pytest.fixture
def demo_app(make_app, instance: Path, monkeypatch) -> Flask:
    monkeypatch.setattr(demo_service, "DEMO_VIDEOS", ((2, ".webm", 160, 90), (3, ".mp4", 160, 90)))
    return make_app()


def accounts_in(output: str) -> dict[str, tuple[str, str]]:
    return {email: (role, password) for role, email, password in ACCOUNT_LINE.findall(output)}


def test_demo_creates_an_account_for_each_role_with_its_password(demo_app, instance):
    result = run(demo_app, "demo")
    assert result.exit_code == 0, result.output
    accounts = accounts_in(result.output)
    assert {role for role, _password in accounts.values()} == {"learner", "trainer", "organizer"}
    saved = (instance / "demo-accounts.txt").read_text()
    for email, (_role, password) in accounts.items():
        assert f"{email} {password}\n" in saved

    organizer = next(email for email, (role, _) in accounts.items() if role == "organizer")
    client = Client(demo_app.test_client())
    client.login(organizer, accounts[organizer][1])
    assert client.get("/admin/camps").status_code == 200
    # The demo's salon case and curricula are in the search index (docs/search.md).
    found = client.get("/search?q=融资").get_data(as_text=True)
    assert "天使轮之后" in found and "<mark>融资</mark>" in found


def test_demo_attaches_playable_videos_of_the_demo_lengths(demo_app):
    result = run(demo_app, "demo")
    match = re.search(r"Demo videos: (\d+) created, (\d+) lessons attached\.", result.output)
    assert match, result.output
    assert int(match.group(1)) == 4 * 2  # each camp gets one video per demo length

    with demo_app.app_context():
        assets = db.session.scalars(db.select(MediaAsset)).all()
        assert len(assets) == 8
        assert sorted(round(asset.duration_seconds) for asset in assets) == [2] * 4 + [3] * 4
        for asset in assets:
            assert asset.duration_seconds == pytest.approx(round(asset.duration_seconds), abs=0.2)
            path = media.storage_path(asset)
            assert path.is_file()
            assert path.stat().st_size == asset.size_bytes
            assert asset.mime_type in ("video/webm", "video/mp4")
            assert asset.status == "ready" and asset.renditions[0]["height"] == 90
        with_video = db.session.scalar(
            db.select(db.func.count(Lesson.id)).where(Lesson.media_id.is_not(None))
        )
        assert with_video == int(match.group(2)) > 0


def test_demo_again_adds_nothing_and_keeps_the_passwords(demo_app):
    first = run(demo_app, "demo")
    with demo_app.app_context():
        hashes = dict(db.session.execute(db.select(User.email, User.password_hash)).all())
        videos = db.session.scalar(db.select(db.func.count(MediaAsset.id)))

    again = run(demo_app, "demo")
    assert again.exit_code == 0, again.output
    assert "Demo videos: 0 created, 0 lessons attached." in again.output
    assert accounts_in(again.output) == accounts_in(first.output)
    with demo_app.app_context():
        assert dict(db.session.execute(db.select(User.email, User.password_hash)).all()) == hashes
        assert db.session.scalar(db.select(db.func.count(MediaAsset.id))) == videos


# -- lms camps -------------------------------------------------------------------------


def test_camps_list_prints_every_plugin(app):
    result = run(app, "camps", "list")
    assert result.exit_code == 0, result.output
    assert "practitioner  [loaded]  camp-lms 0.1.0" in result.output
    assert "    camp practitioner: Practitioner Camp (enabled)" in result.output
    assert "    hooks: lms_enrollment_policy, lms_register_camps" in result.output


def test_camps_list_json_is_valid_json(app):
    result = run(app, "camps", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["name"] for row in rows] == [
        "entrepreneur",
        "practitioner",
        "silicon_valley",
        "startup_growth",
        "xapi",
    ]
    assert all(row["status"] == "loaded" and row["error"] is None for row in rows)
    assert rows[0]["camps"][0]["slug"] == "entrepreneur"
    assert rows[0]["camps"][0]["enabled"] is True
    assert rows[0]["camps"][0]["synced_at"]


def test_camps_disable_then_enable(app, client):
    result = run(app, "camps", "disable", "entrepreneur", "practitioner")
    assert result.exit_code == 0, result.output
    assert result.output == "entrepreneur: disabled\npractitioner: disabled\n"
    assert client.get("/camps/entrepreneur/").status_code == 404
    assert client.get("/camps/practitioner/").status_code == 404
    assert "Entrepreneur Camp (disabled)" in run(app, "camps", "list").output

    result = run(app, "camps", "enable", "entrepreneur")
    assert result.output == "entrepreneur: enabled\n"
    assert client.get("/camps/entrepreneur/").status_code == 200
    assert client.get("/camps/practitioner/").status_code == 404


def test_camps_sync_reports_what_changed(app):
    result = run(app, "camps", "sync", "startup-growth")
    assert result.exit_code == 0, result.output
    assert result.output == "startup-growth: 0 created, 0 updated, 0 archived\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("camps", "sync", "unknown"), "Error: no loaded camp 'unknown'"),
        (("camps", "disable", "unknown"), "Error: no camp or plugin 'unknown'"),
        (("camps", "enable", "unknown"), "Error: no camp or plugin 'unknown'"),
    ],
)
def test_unknown_camps_exit_non_zero_with_a_clear_message(app, args, message):
    result = run(app, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_demo_plans_the_activity_day_with_a_case_and_a_topic(demo_app):
    from lms.models import DiscussionTopic, LiveSession, Registration, SalonCase

    run(demo_app, "demo")
    run(demo_app, "demo")  # idempotent
    with demo_app.app_context():
        sessions = db.session.scalars(db.select(LiveSession)).all()
        assert len(sessions) >= 12
        assert {len(s.segments) for s in sessions} == {3}
        # The learner is registered for the next activity day; the past ones are the
        # recorded history's (tests/test_demo_history.py). Each post exists once.
        upcoming = min(
            (s for s in sessions if s.starts_at.replace(tzinfo=UTC) > datetime.now(UTC)),
            key=lambda s: s.starts_at,
        )
        learner = db.session.scalar(db.select(User).filter_by(email="learner@demo.camp"))
        assert db.session.scalar(
            db.select(Registration.id).filter_by(session_id=upcoming.id, user_id=learner.id)
        )
        titles = db.session.scalars(db.select(SalonCase.title)).all()
        assert titles.count(demo_service.DEMO_CASE["title"]) == 1
        topics = db.session.scalars(db.select(DiscussionTopic.title)).all()
        assert topics.count(demo_service.DEMO_TOPIC["title"]) == 1
