"""``lms check``: a healthy database passes; each kind of corrupted row fails with a clear line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import flask_migrate
import pytest
from flask import Flask
from sqlalchemy import text

from lms import create_app
from lms.cli import main
from lms.extensions import db
from lms.models import (
    Certificate,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Module,
    PlaybackSession,
    TrainingTime,
    User,
)
from lms.services import accounts, live, media
from lms.services import camps as camp_service
from lms.services.completion import new_code
from lms.services.integrity import run_checks
from tests.conftest import PASSWORD, _postgres_schema


@pytest.fixture
def migrated(app_config: dict, demo_video) -> Iterator[Flask]:
    """A migrated database with one learner's healthy records of every checked kind."""
    schema = _postgres_schema(app_config)
    next(schema)
    app = create_app(app_config)
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        camp_service.sync()
    with app.test_request_context():
        user = accounts.create_user("kim@example.com", "Kim", PASSWORD)
        course = db.session.scalar(db.select(Course).filter_by(slug="strategy-toolkit"))
        lesson = db.session.scalars(
            db.select(Lesson)
            .join(Module)
            .where(Module.course_id == course.id, Lesson.kind == "video")
            .order_by(Lesson.id)
        ).first()
        asset, _ = media.import_file(demo_video)  # processed, ready
        lesson.media = asset
        now = datetime.now(UTC)
        session = live.create_session(
            live.SessionValues(
                title_zh="活动日", title_en="Activity day", location="centre", capacity=10
            ),
            now - timedelta(days=1),
            live.ACTIVITY_DAY_SEGMENTS,
        )
        db.session.add_all(
            [
                LessonProgress(user_id=user.id, lesson_id=lesson.id, covered_seconds=2.5),
                PlaybackSession(
                    id="a" * 32,
                    user_id=user.id,
                    lesson_id=lesson.id,
                    started_at=now - timedelta(minutes=1),
                    last_report_at=now,
                    credited_seconds=2.5,
                ),
                Enrollment(
                    user_id=user.id,
                    course_id=course.id,
                    status="completed",
                    enrolled_at=now - timedelta(days=2),
                    completed_at=now,
                ),
                Certificate(
                    code=new_code(),
                    user_id=user.id,
                    course_id=course.id,
                    issued_at=now,
                    learner_name="Kim",
                    course_title_zh=course.title_zh,
                    course_title_en=course.title_en,
                    camp_title_zh="初创企业成长营",
                    camp_title_en="Startup Growth",
                    minutes=60,
                ),
                TrainingTime(
                    source_key="live:present",
                    user_id=user.id,
                    source="live",
                    seconds=3600,
                    day=now.date(),
                    live_session_id=session.id,
                ),
                TrainingTime(
                    source_key="live:correction",
                    user_id=user.id,
                    source="live",
                    seconds=-3600,
                    day=now.date(),
                    live_session_id=session.id,
                ),
            ]
        )
        db.session.commit()
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    next(schema, None)


def invoke(app: Flask):
    return app.test_cli_runner().invoke(main, ["check"])


def execute(app: Flask, sql: str, **params: object) -> None:
    with db.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_a_healthy_database_passes(migrated):
    results = run_checks()
    assert results and all(result.ok for result in results), [r.line() for r in results]
    assert {r.name for r in results} >= {
        "lesson progress within the video's duration",
        "playback credit within the wall clock",
        "ledger sums per learner and live session not negative",
        "every completed enrollment has a certificate",
        "schema at the migration heads",
    }
    result = invoke(migrated)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines and all(line.startswith("OK ") for line in lines), result.output
    if db.engine.dialect.name == "sqlite":
        assert "OK   sqlite integrity_check" in lines
        assert "OK   sqlite foreign_key_check" in lines


CORRUPTIONS = {
    "coverage": (
        "UPDATE lesson_progress SET covered_seconds = 99",
        "FAIL lesson progress within the video's duration: 1 row(s): lesson_progress",
        "covers 99 s of a 3",
    ),
    "wall clock": (
        "UPDATE playback_sessions SET credited_seconds = 600",
        "FAIL playback credit within the wall clock: 1 row(s): playback_session " + "a" * 32,
        "credited 600 s in 60",
    ),
    "never reported": (
        "UPDATE playback_sessions SET last_report_at = NULL",
        "FAIL playback credit within the wall clock: 1 row(s)",
        "credited 2.5 s without any report",
    ),
    "ledger": (
        "UPDATE training_time SET seconds = -7200 WHERE source_key = 'live:correction'",
        "FAIL ledger sums per learner and live session not negative: 1 row(s): user",
        ": -3600 s",
    ),
    "certificate": (
        "DELETE FROM certificates",
        "FAIL every completed enrollment has a certificate: 1 row(s): enrollment",
        "has no certificate",
    ),
    "revision": (
        "UPDATE alembic_version SET version_num = 'deadbeef0000' "
        "WHERE version_num = (SELECT MIN(version_num) FROM alembic_version)",
        "FAIL schema at the migration heads: database at",
        "run `lms db upgrade heads`",
    ),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_a_corrupted_row_fails_with_a_clear_line(migrated, kind):
    sql, start, part = CORRUPTIONS[kind]
    execute(migrated, sql)
    result = invoke(migrated)
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1, result.output
    assert failed[0].startswith(start), failed[0]
    assert part in failed[0], failed[0]


def test_a_database_that_was_never_migrated_says_so(migrated):
    execute(migrated, "DROP TABLE alembic_version")
    result = invoke(migrated)
    assert result.exit_code == 1
    assert "FAIL schema at the migration heads: the database has no Alembic revision" in (
        result.output
    )


def test_sqlite_foreign_key_check_finds_a_dangling_row(migrated):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PRAGMA foreign_key_check is SQLite's; PostgreSQL enforces foreign keys")
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.execute(text("UPDATE certificates SET user_id = 424242"))
        connection.commit()
    result = invoke(migrated)
    assert result.exit_code == 1
    assert "FAIL sqlite foreign_key_check: 1 row(s): certificates rowid" in result.output
    assert "points to a missing users" in result.output
    assert db.session.get(User, 424242) is None
