"""The progress report's fast path (issue 20): a few pre-built statements, as many however
long the learner's history, and the lesson as the process keeps it, which follows a change
made through another app instance (another process, in effect) at the next report."""

from __future__ import annotations

import itertools
import json

import pytest

from bench.inproc import count
from lms.extensions import db
from lms.models import Course, Lesson, LessonProgress
from tests.conftest import CSRF, Client, course_url, video_lessons_of
from tests.test_watch_credit import fake_video

LEDGER = "INSERT INTO training_time"  # only when a report completes a whole second


class Player:
    """A learner's browser playing videos through one app instance."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.token = CSRF.search(client.get("/").get_data(as_text=True)).group(1)
        self.seqs: dict[str, itertools.count] = {}

    def post(self, url: str, body: dict | None = None):
        return self.client.raw.post(
            url,
            data=json.dumps(body) if body is not None else None,
            headers={"X-CSRFToken": self.token},
            content_type="application/json",
        )

    def open(self, lesson_id: int) -> str:
        answer = self.post(f"/api/lessons/{lesson_id}/playback")
        assert answer.status_code == 201, answer.get_data(as_text=True)
        session_id = answer.get_json()["session_id"]
        self.seqs[session_id] = itertools.count(1)
        return session_id

    def report(self, session_id: str, end: float = 1.0):
        seq = next(self.seqs[session_id])
        body = {"seq": seq, "position": end, "intervals": [[0, end]], "played_seconds": end}
        return self.post(f"/api/playback/{session_id}/progress", body)


@pytest.fixture
def player(app, client, learner, course) -> Player:
    client.login(learner.email)
    assert client.post(course_url(course) + "enroll").status_code == 302
    return Player(client)


@pytest.fixture
def lessons(app, course) -> list[int]:
    """The course's video lessons, each with a ready 60-second video."""
    with app.app_context():
        found = video_lessons_of(course.id)
        for lesson in found:
            lesson.media = fake_video(60.0)
        db.session.commit()
        return [lesson.id for lesson in found]


def report_statements(app, call) -> list[str]:
    """The statements (PostgreSQL: round trips) of one report, the ledger's insert left out."""
    with app.app_context():
        engine = db.engine
    return [statement for statement in count(engine, call) if LEDGER not in statement]


def on_postgresql(app) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def test_a_report_runs_a_few_statements_however_long_the_history(
    make_app, app_config, learner, course, lessons
):
    # The pool as in production: no ping before a checkout (the suite's configuration pings).
    options = dict(app_config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    options.pop("pool_pre_ping", None)
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=options)
    browser = Client(app.test_client())
    browser.login(learner.email)
    assert browser.post(course_url(course) + "enroll").status_code == 302
    player = Player(browser)
    session_id = player.open(lessons[0])
    assert player.report(session_id, 1.0).status_code == 200
    ends = itertools.count(2.0, 0.5)  # each report plays half a second more: credited

    def report():
        assert player.report(session_id, next(ends)).status_code == 200

    before = report_statements(app, report)
    # A longer history: progress in every other lesson, several sessions each.
    for lesson_id in lessons[1:]:
        for _ in range(3):
            assert player.report(player.open(lesson_id), 1.0).status_code == 200
    after = report_statements(app, report)
    assert len(after) == len(before), (before, after)
    # The login, the session with its lesson and enrollment, the clock's lock, the totals
    # with the progress, and the writes of the clock, the session and the progress: no
    # statement for the lesson, its course or camp (kept by the process), nor a second read
    # of the session; PostgreSQL adds BEGIN and COMMIT, and no ping.
    assert len(after) <= (9 if on_postgresql(app) else 7), after
    assert not {"SELECT 1", ";", "ROLLBACK"} & set(after), after


def test_the_kept_lesson_follows_another_instance_at_the_next_report(
    app, make_app, learner, course, lessons
):
    """The reader keeps the lesson (its video, course and camp) between reports; the
    writer's changes count at the reader's next report: a new video, an archived lesson, a
    course back to draft."""
    reader = make_app()
    browser = Client(reader.test_client())
    browser.login(learner.email)
    assert browser.post(course_url(course) + "enroll").status_code == 302
    player = Player(browser)
    session_id = player.open(lessons[0])
    assert player.report(session_id).get_json()["duration"] == 60.0
    assert player.report(session_id).get_json()["duration"] == 60.0  # kept by the reader now
    with app.app_context():
        db.session.get(Lesson, lessons[0]).media = fake_video(30.0)
        db.session.commit()
    assert player.report(session_id).get_json()["duration"] == 30.0
    with app.app_context():
        db.session.get(Lesson, lessons[0]).media = fake_video(30.0, status="processing")
        db.session.commit()
    assert player.report(session_id).status_code == 409
    with app.app_context():
        db.session.get(Lesson, lessons[0]).media = fake_video(30.0)
        db.session.get(Course, course.id).status = "draft"
        db.session.commit()
    assert player.report(session_id).status_code == 404  # a learner sees no draft
    with app.app_context():
        db.session.get(Course, course.id).status = "published"
        db.session.get(Lesson, lessons[0]).archived_at = db.func.now()
        db.session.commit()
    assert player.report(session_id).status_code == 404


def test_a_refused_report_writes_nothing(app, player, lessons):
    session_id = player.open(lessons[0])
    assert player.report(session_id, 2.0).status_code == 200
    with app.app_context():
        before = db.session.scalars(db.select(LessonProgress)).one()
        state = (before.position_seconds, before.covered_seconds, before.updated_at)
    bad = {"seq": 99, "position": 1.0, "intervals": [[5, 1]], "played_seconds": 1.0}
    answer = player.post(f"/api/playback/{session_id}/progress", bad)
    assert answer.status_code == 400
    beyond = {"seq": 99, "position": 1.0, "intervals": [[0, 61]], "played_seconds": 1.0}
    assert player.post(f"/api/playback/{session_id}/progress", beyond).status_code == 400
    with app.app_context():
        after = db.session.scalars(db.select(LessonProgress)).one()
        assert (after.position_seconds, after.covered_seconds, after.updated_at) == state
    assert player.report(session_id, 3.0).get_json()["position"] == 3.0  # seq 2: not lost
