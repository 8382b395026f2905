"""The bundled xAPI plugin: learning events become statements, kept in its own outbox table
(its own migration branch) and delivered off the request to a file or an LRS."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import flask_migrate
import pytest
from sqlalchemy import inspect

from lms.cli import main
from lms.extensions import db
from lms.models import Lesson, Module, User
from lms.services import enrollment, lessons, loading
from plugins.xapi import delivery, outbox, statements
from plugins.xapi.models import XapiStatement
from tests.conftest import Client, course_url
from tests.test_checkin import code, make_session, post_code, register


@pytest.fixture
def xapi_file(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "lrs" / "statements.jsonl"
    monkeypatch.setenv("LMS_PLUGIN_XAPI_ENABLED", "y")
    monkeypatch.setenv("LMS_PLUGIN_XAPI_FILE", str(path))
    return path


def lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def outbox_rows(app) -> list[XapiStatement]:
    with app.app_context():
        return list(db.session.scalars(db.select(XapiStatement).order_by(XapiStatement.created_at)))


def test_enrolling_sends_a_registered_statement_to_the_file(make_app, xapi_file, learner, course):
    app = make_app(JOBS_INLINE=True)
    client = Client(app.test_client())
    client.login(learner.email)
    assert client.post(course_url(course) + "enroll").status_code == 302
    [sent] = lines(xapi_file)
    assert sent["verb"]["id"] == "http://adlnet.gov/expapi/verbs/registered"
    assert sent["object"]["id"] == "urn:camp-lms:course/startup-growth/strategy-toolkit"
    assert sent["object"]["definition"]["name"]["en-US"] == course.title_en
    assert sent["actor"]["account"]["name"] == str(learner.id)
    assert "mbox" not in sent["actor"]  # no e-mail leaves by default
    [parent] = sent["context"]["contextActivities"]["parent"]
    assert parent["id"] == "urn:camp-lms:camp/startup-growth"
    assert sent["version"] == "1.0.3"
    [row] = outbox_rows(app)
    assert row.sent_at is not None and row.id == sent["id"]


@pytest.fixture
def xapi_instance(tmp_path: Path, monkeypatch) -> Path:
    """Switched on with neither an LRS endpoint nor a file: the app's instance folder."""
    monkeypatch.setenv("LMS_PLUGIN_XAPI_ENABLED", "y")
    monkeypatch.delenv("LMS_PLUGIN_XAPI_ENDPOINT", raising=False)
    monkeypatch.delenv("LMS_PLUGIN_XAPI_FILE", raising=False)
    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path / "instance"


def test_without_an_lrs_or_a_file_statements_go_to_the_instance_folder(
    make_app, xapi_instance, learner, course
):
    """The documented default: ``instance/xapi/statements.jsonl``, one statement per line."""
    app = make_app(JOBS_INLINE=True)
    assert Path(app.instance_path) == xapi_instance.resolve()
    client = Client(app.test_client())
    client.login(learner.email)
    assert client.post(course_url(course) + "enroll").status_code == 302
    default = xapi_instance / "xapi" / "statements.jsonl"
    text = default.read_text(encoding="utf-8")
    assert text.endswith("\n") and text.count("\n") == 1
    [sent] = lines(default)
    assert uuid.UUID(sent["id"]).version == 5
    assert sent["version"] == "1.0.3"
    assert sent["actor"]["objectType"] == "Agent"
    assert sent["actor"]["account"] == {"homePage": "http://localhost/", "name": str(learner.id)}
    assert sent["verb"] == {
        "id": "http://adlnet.gov/expapi/verbs/registered",
        "display": statements.VERBS["registered"],
    }
    assert sent["object"]["objectType"] == "Activity"
    assert sent["object"]["id"] == "urn:camp-lms:course/startup-growth/strategy-toolkit"
    assert sent["object"]["definition"]["type"] == statements.ACTIVITY_TYPES["course"]
    assert datetime.fromisoformat(sent["timestamp"]).tzinfo is not None
    [row] = outbox_rows(app)
    assert row.sent_at is not None and row.id == sent["id"]


def test_the_same_event_is_stored_once(make_app, xapi_file, learner, course):
    app = make_app(JOBS_INLINE=True)
    with app.test_request_context():
        user = db.session.get(User, learner.id)
        found, _created = enrollment.enroll(user, db.session.merge(course))
        _held = loading.for_hook(found)  # as the registry hands it to hooks
        assert outbox.emit(statements.enrolled, found) is False  # already recorded
    assert len(outbox_rows(app)) == 1
    assert len(lines(xapi_file)) == 1


def test_completing_lessons_and_courses_and_attending_are_sent(
    make_app, xapi_file, learner, course
):
    app = make_app(JOBS_INLINE=True)
    with app.test_request_context():
        user = db.session.get(User, learner.id)
        enrollment.enroll(user, db.session.merge(course))
        reading = db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course.id)
        ).all()
        for lesson in reading:
            lessons.mark_read(user, lesson)
    session_id = make_session(app)
    register(app, learner.id, session_id)
    client = Client(app.test_client())
    client.login(learner.email)
    post_code(client, session_id, code(app, session_id))
    sent = lines(xapi_file)
    verbs = [(s["verb"]["display"]["en-US"], s["object"]["definition"]["type"]) for s in sent]
    assert verbs[0] == ("registered", statements.ACTIVITY_TYPES["course"])
    assert ("completed", statements.ACTIVITY_TYPES["lesson"]) in verbs
    assert verbs[-1] == ("attended", statements.ACTIVITY_TYPES["meeting"])
    assert ("completed", statements.ACTIVITY_TYPES["course"]) in verbs
    assert len({s["id"] for s in sent}) == len(verbs)


def test_nothing_is_recorded_while_the_plugin_is_switched_off(make_app, learner, course):
    app = make_app(JOBS_INLINE=True)  # the suite's default: LMS_PLUGIN_XAPI_ENABLED is empty
    client = Client(app.test_client())
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    assert outbox_rows(app) == []


class FakeLRS:
    """A tiny LRS on 127.0.0.1 that records what it receives and answers ``status``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, list]] = []
        self.status = 200
        self.release = threading.Event()
        self.release.set()
        lrs = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                lrs.release.wait(timeout=30)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                lrs.received.append(
                    ({k.lower(): v for k, v in self.headers.items()}, json.loads(body))
                )
                self.send_response(lrs.status)
                self.end_headers()
                self.wfile.write(b"[]")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/xapi/"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def lrs(monkeypatch):
    server = FakeLRS()
    monkeypatch.setenv("LMS_PLUGIN_XAPI_ENABLED", "y")
    monkeypatch.setenv("LMS_PLUGIN_XAPI_ENDPOINT", server.url)
    monkeypatch.setenv("LMS_PLUGIN_XAPI_USERNAME", "key")
    monkeypatch.setenv("LMS_PLUGIN_XAPI_PASSWORD", "secret")
    yield server
    server.close()


def test_statements_go_to_the_lrs_with_version_and_auth(make_app, lrs, learner, course):
    app = make_app(JOBS_INLINE=True)
    client = Client(app.test_client())
    client.login(learner.email)
    client.post(course_url(course) + "enroll")
    [(headers, body)] = lrs.received
    assert headers["x-experience-api-version"] == "1.0.3"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"key:secret").decode()
    assert body[0]["verb"]["display"]["en-US"] == "registered"


def test_a_failing_lrs_keeps_the_statements_for_a_retry(make_app, lrs, learner, course):
    lrs.status = 503
    app = make_app(JOBS_INLINE=True)
    client = Client(app.test_client())
    client.login(learner.email)
    assert client.post(course_url(course) + "enroll").status_code == 302  # the learner is fine
    [row] = outbox_rows(app)
    assert row.sent_at is None and row.attempts == 1 and "503" in row.last_error
    runner = app.test_cli_runner()
    assert "waiting 1" in runner.invoke(main, ["xapi", "status"]).output
    lrs.status = 200
    result = runner.invoke(main, ["xapi", "flush"])
    assert result.exit_code == 0 and "delivered 1" in result.output
    [row] = outbox_rows(app)
    assert row.sent_at is not None and row.last_error is None


def test_the_request_does_not_wait_for_the_lrs(make_app, lrs, learner, course):
    lrs.release.clear()  # the LRS hangs until released
    app = make_app()  # deliveries in the background thread pool
    client = Client(app.test_client())
    client.login(learner.email)
    assert client.post(course_url(course) + "enroll").status_code == 302
    assert lrs.received == []  # answered while the delivery is still waiting on the LRS
    lrs.release.set()
    for _ in range(200):
        if outbox_rows(app)[0].sent_at is not None:
            break
        threading.Event().wait(0.05)
    assert len(lrs.received) == 1


def test_parallel_deliveries_send_each_statement_once(make_app, xapi_file, learner):
    app = make_app()
    with app.test_request_context():
        for number in range(40):
            db.session.add(
                XapiStatement(id=f"{number:036d}", verb="registered", statement={"n": number})
            )
        db.session.commit()

    def deliver() -> None:
        with app.app_context():
            delivery.deliver_pending(limit=7)
            delivery.deliver_pending(limit=7)
            db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.test_request_context():
        delivery.deliver_all()
    numbers = [line["n"] for line in lines(xapi_file)]
    assert sorted(numbers) == list(range(40))


def test_the_outbox_is_a_migration_branch_of_its_own(app_config):
    """``lms_migrations`` gives Alembic the plugin's versions folder; ``heads`` applies it."""
    from lms import create_app
    from tests.conftest import _postgres_schema

    schema = _postgres_schema(app_config)
    next(schema)
    app = create_app(app_config)
    registry = app.extensions["lms.plugins"]
    versions = Path(statements.__file__).parent / "migrations" / "versions"
    assert ("xapi", versions) in registry.collect("lms_migrations")  # the plugin's hookimpl
    assert versions in registry.migration_folders()
    with app.app_context():
        flask_migrate.upgrade(revision="heads")
        assert "xapi_statements" in inspect(db.engine).get_table_names()
        flask_migrate.downgrade(revision="xapi@base")
        assert "xapi_statements" not in inspect(db.engine).get_table_names()
        assert "users" in inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()
    next(schema, None)
