import threading
import time

import pytest

from lms import create_app
from lms.database import mark_request_transactions
from lms.extensions import db
from lms.models import Camp, Course, Enrollment, User
from tests.conftest import Client, course_url


def test_twenty_concurrent_enrollments_give_one_row_and_no_error(app, client, learner, course):
    client.login(learner.email)
    token = client.csrf()
    cookie = client.raw.get_cookie("session").value
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def enroll() -> None:
        browser = Client(app.test_client())
        browser.raw.set_cookie("session", cookie)
        barrier.wait()
        response = browser.post(course_url(course) + "enroll", {"csrf_token": token})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=enroll) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 20
    with app.app_context():
        rows = db.session.scalars(db.select(Enrollment)).all()
    assert [(row.user_id, row.course_id) for row in rows] == [(learner.id, course.id)]


# -- SQLite: transactions that read first and write later ----------------------------------


def sqlite_only(app) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's locking; PostgreSQL has row locks")


def test_many_learners_enrolling_while_others_browse_get_no_error(app, make_user):
    """Enrolling reads (the user, the course, an existing enrollment) before it writes; with
    twelve learners enrolling in three courses each at once and readers browsing the catalog,
    nobody gets "database is locked" (a 503) or any other error."""
    with app.app_context():
        camp = db.session.scalar(db.select(Camp).filter_by(slug="startup-growth"))
        courses = db.session.scalars(
            db.select(Course)
            .where(Course.camp_id == camp.id, Course.status == "published")
            .order_by(Course.id)
            .limit(3)
        ).all()
        urls = [f"/camps/{camp.slug}/{item.slug}/enroll" for item in courses]
    assert len(urls) == 3
    browsers = []
    for number in range(12):
        user = make_user(f"hammer{number}@example.com")
        browser = Client(app.test_client())
        browser.login(user.email)
        browsers.append((browser, browser.csrf()))
    barrier = threading.Barrier(len(browsers) + 4)
    statuses: list[int] = []
    pages: list[int] = []

    def learner(browser: Client, token: str) -> None:
        barrier.wait()
        for url in urls:
            statuses.append(browser.post(url, {"csrf_token": token}).status_code)

    def reader() -> None:
        visitor = app.test_client()
        barrier.wait()
        for _ in range(6):
            pages.append(visitor.get("/").status_code)

    threads = [threading.Thread(target=learner, args=pair) for pair in browsers]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302] * 36
    assert pages == [200] * 24
    with app.app_context():
        count = db.session.scalar(
            db.select(db.func.count(Enrollment.id)).where(
                Enrollment.course_id.in_([item.id for item in courses])
            )
        )
    assert count == 36


@pytest.mark.parametrize("method", ["POST", None])
def test_reading_first_then_writing_after_another_commit_works(app, learner, other_learner, method):
    """The case SQLite cannot do in a deferred transaction (SQLITE_BUSY_SNAPSHOT): read, let
    another connection commit, then write. In a write request or outside any (CLI, jobs)."""
    read_done, committed = threading.Event(), threading.Event()

    def other() -> None:
        with app.app_context():
            read_done.wait(10)
            db.session.get(User, other_learner.id).name = "changed meanwhile"
            db.session.commit()
            committed.set()

    thread = threading.Thread(target=other)
    thread.start()
    context = app.test_request_context("/", method=method) if method else app.app_context()
    with context:
        if method:
            mark_request_transactions(method)
        user = db.session.get(User, learner.id)  # read first
        read_done.set()
        assert committed.wait(10)
        user.name = "renamed"  # then write
        db.session.commit()
    thread.join()
    with app.app_context():
        assert db.session.get(User, learner.id).name == "renamed"
        assert db.session.get(User, other_learner.id).name == "changed meanwhile"


def test_a_writer_waits_for_the_lock_instead_of_failing(app, learner, other_learner):
    sqlite_only(app)
    holding = threading.Event()

    def holder() -> None:
        with app.app_context():
            db.session.get(User, learner.id).name = "first"
            db.session.flush()  # BEGIN IMMEDIATE + UPDATE: the write lock is ours
            holding.set()
            time.sleep(0.5)
            db.session.commit()

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    with app.app_context():
        db.session.get(User, other_learner.id).name = "second"
        db.session.commit()
    waited = time.monotonic() - started
    thread.join()
    assert waited >= 0.3


def test_a_read_only_request_sees_one_snapshot(app, make_user):
    sqlite_only(app)
    count = db.select(db.func.count(User.id))
    with app.test_request_context("/", method="GET"):
        mark_request_transactions("GET")
        before = db.session.scalar(count)
        writer = threading.Thread(target=make_user, args=("meanwhile@example.com",))
        writer.start()
        writer.join()  # a reader does not block a writer (WAL)
        assert db.session.scalar(count) == before  # still the snapshot of its first read
    with app.app_context():
        assert db.session.scalar(count) == before + 1


def test_transaction_control_is_ours_on_files_only(app, app_config):
    sqlite_only(app)
    with app.app_context():
        raw = db.session.connection().connection.dbapi_connection
        assert raw.isolation_level is None  # no pysqlite BEGINs: ours
    memory = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SQLALCHEMY_ENGINE_OPTIONS": {}}
    )
    with memory.app_context():
        raw = db.session.connection().connection.dbapi_connection
        assert raw.isolation_level == ""  # in memory: pysqlite's defaults, unchanged
        db.session.remove()


def test_a_get_request_that_writes_is_reported(app, learner, caplog):
    sqlite_only(app)
    with app.test_request_context("/", method="GET"):
        mark_request_transactions("GET")
        db.session.get(User, learner.id).name = "written by a GET"
        db.session.commit()
    assert "a read-only (GET) request writes: UPDATE users" in caplog.text
