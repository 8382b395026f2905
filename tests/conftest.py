"""Fixtures: an app on a fresh database (SQLite, or PostgreSQL via LMS_DATABASE_URL),
a test client with a CSRF-aware helper, and users of each role."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload
from sqlalchemy.pool import NullPool

from lms import create_app
from lms.config import normalise_database_url
from lms.extensions import db
from lms.models import Course, Lesson, Module, Organization, User
from lms.models.search import engine_specific
from lms.services import accounts
from lms.services import camps as camp_service
from lms.services.loading import load
from tests import synced

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
CSRF_VALUES = re.compile(rb'(name="csrf[-_]token"[^>]*?(?:content|value)=")[^"]*')


def without_csrf(body: bytes) -> bytes:
    """A page without its CSRF token values, which carry a timestamp: two answers given in
    different seconds are otherwise the same page."""
    return CSRF_VALUES.sub(rb"\1", body)


def redis_test_url(slot: int) -> str:
    """A Redis database (of 16) for one test module, ``slot`` 0 or 1, in this xdist worker:
    modules running at once in two workers never flush, empty or drain each other's keys and
    job queues (an RQ worker in one ran the other's jobs)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    return f"redis://127.0.0.1:6379/{15 - (2 * index + slot) % 12}"


def database_url(tmp_path: Path) -> str:
    """PostgreSQL when LMS_DATABASE_URL says so (a private schema per test), else SQLite."""
    url = os.environ.get("LMS_DATABASE_URL")
    if url:
        return normalise_database_url(url)
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture(autouse=True)
def _xapi_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled xAPI plugin records nothing unless a test turns it on (tests/test_xapi.py)."""
    monkeypatch.setenv("LMS_PLUGIN_XAPI_ENABLED", "")


@pytest.fixture
def app_config(tmp_path: Path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": secrets.token_hex(16),
        "SQLALCHEMY_DATABASE_URI": database_url(tmp_path),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "PLUGINS_STRICT": False,
    }


# Emptied schemas this process may hand out again (see _postgres_schema).
_SCHEMA_POOL: list[str] = []


def _postgres_schema(config: dict, reuse: bool = False) -> Iterator[None]:
    """Give each test its own PostgreSQL schema so tests never see each other's rows.

    Creating the tables and dropping the schema cost about a second a test, so a schema
    whose tables are still exactly the models' is emptied (rows deleted, sequences
    restarted) and, with ``reuse``, handed to the next test of this process that creates
    its tables with ``create_all`` (make_app); any other (migrated, altered, extended) is
    dropped. Without ``reuse`` the schema is a new, empty one (migration tests need that).
    """
    url = config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        yield
        return
    admin = create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
        connect_args={"options": "-csynchronous_commit=off"},
    )
    if reuse and _SCHEMA_POOL:
        schema = _SCHEMA_POOL.pop()
    else:
        schema = f"t_{secrets.token_hex(6)}"
        with admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "pool_pre_ping": True,
        # The suite does not need its commits on disk before it goes on.
        "connect_args": {"options": f"-csearch_path={schema} -csynchronous_commit=off"},
    }
    try:
        yield
    finally:
        with admin.connect() as connection:
            if _empty_for_reuse(connection, schema):
                _SCHEMA_POOL.append(schema)
            else:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _empty_for_reuse(connection, schema: str) -> bool:
    """Empty ``schema`` if its tables and columns are exactly the models'; else False."""
    found: dict[str, str] = {}
    for table, columns in connection.execute(
        text(
            "SELECT table_name, array_agg(column_name::text) "
            "FROM information_schema.columns WHERE table_schema = :schema GROUP BY table_name"
        ),
        {"schema": schema},
    ):
        # leave out what the engine adds to the models (the search vector, see ENGINE_DDL)
        found[table] = ",".join(sorted(c for c in columns if not engine_specific(c, "column")))
    expected = {
        table.name: ",".join(sorted(column.name for column in table.columns))
        for table in db.metadata.tables.values()
    }
    if not found or found != expected:
        return False
    # DELETE, not TRUNCATE: these tables hold a few hundred rows, and TRUNCATE's new files
    # for each of them cost more than dropping the schema.
    # Our own names only: the schema is t_<hex>, the tables are the models'.
    sequences = (
        "SELECT setval(quote_ident(sequence_schema) || '.' || quote_ident(sequence_name), 1, false)"  # noqa: S608
        f" FROM information_schema.sequences WHERE sequence_schema = '{schema}'"
    )
    statements = [
        "SET lock_timeout = '10s'",
        "SET session_replication_role = replica",  # no foreign-key order to follow
        *(f'DELETE FROM {schema}."{name}"' for name in sorted(found)),  # noqa: S608
        "SET session_replication_role = DEFAULT",
        sequences,
    ]
    try:
        connection.exec_driver_sql(";\n".join(statements))
    except DBAPIError:
        return False
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, leave out the tests that use no database: the SQLite pass runs them."""
    if not os.environ.get("LMS_DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="uses no database: run in the SQLite pass")
    for item in items:
        if item.get_closest_marker("engine_independent"):
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the schemas left in this process's pool and its synced templates."""
    url = os.environ.get("LMS_DATABASE_URL")
    schemas = [*_SCHEMA_POOL, *synced.postgres_schemas()]
    if not (schemas and url):
        return
    admin = create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for schema in schemas:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    admin.dispose()
    _SCHEMA_POOL.clear()


@pytest.fixture
def make_app(app_config: dict) -> Iterator:
    """Build apps on one fresh database; the schema is created and the camps synced."""
    created: list[Flask] = []
    url = app_config["SQLALCHEMY_DATABASE_URI"]
    schema = _postgres_schema(app_config, reuse=True)
    next(schema)

    def factory(sync: bool = True, **overrides: object) -> Flask:
        app = create_app({**app_config, **overrides})
        # the test's own database, new: it may be copied from an earlier test's (tests/synced.py)
        fresh = not created and overrides.get("SQLALCHEMY_DATABASE_URI") in (None, url)
        with app.app_context():
            if not (sync and fresh and synced.restore()):
                db.create_all()
                if sync:
                    camp_service.sync()
                    if fresh:
                        synced.keep()
        created.append(app)
        return app

    yield factory
    for app in created:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    next(schema, None)


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


class Client:
    """The test client, plus the CSRF token a real browser would have from the page.

    Requests ask for English (``Accept-Language: en``) unless a test sends other headers.
    """

    def __init__(self, client: FlaskClient) -> None:
        self.raw = client
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"

    def csrf(self) -> str:
        page = self.raw.get("/login").get_data(as_text=True)
        match = CSRF.search(page)
        assert match, "no CSRF token on /login"
        return match.group(1)

    def get(self, *args, **kwargs):
        return self.raw.get(*args, **kwargs)

    def post(self, url: str, data: dict | None = None, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.csrf())
        return self.raw.post(url, data=data, **kwargs)

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        return self.post("/login", {"email": email, "password": password}, **kwargs)

    def logout(self):
        return self.post("/logout")


@pytest.fixture
def client(app: Flask) -> Client:
    return Client(app.test_client())


@pytest.fixture
def make_user(app: Flask):
    def factory(
        email: str, role: str = "learner", organization: str | None = None, **kwargs
    ) -> User:
        with app.app_context():
            organization_id = None
            if organization is not None:
                org = db.session.scalar(db.select(Organization).filter_by(name=organization))
                if org is None:
                    org = Organization(name=organization)
                    db.session.add(org)
                    db.session.commit()
                organization_id = org.id
            user = accounts.create_user(
                email,
                email.split("@")[0],
                PASSWORD,
                role=role,
                organization_id=organization_id,
                **kwargs,
            )
            db.session.refresh(user)
            db.session.expunge(user)
            return user

    return factory


@pytest.fixture
def learner(make_user) -> User:
    return make_user("learner@example.com")


@pytest.fixture
def other_learner(make_user) -> User:
    return make_user("other@example.com")


@pytest.fixture
def trainer(make_user) -> User:
    return make_user("trainer@example.com", role="trainer")


@pytest.fixture
def organizer(make_user) -> User:
    return make_user("organizer@example.com", role="organizer")


def video_lessons_of(course_id: int) -> list[Lesson]:
    """The course's video lessons in course order (module, then lesson). In an app context."""
    return db.session.scalars(
        db.select(Lesson)
        .join(Module)
        .where(Module.course_id == course_id, Lesson.kind == "video")
        .order_by(Module.position, Lesson.position)
    ).all()


def course_url(course: Course) -> str:
    return f"/camps/{load(course, 'camp').slug}/{course.slug}/"


@pytest.fixture
def course(app: Flask) -> Course:
    """A published course of the Startup Growth camp (no enrollment policy)."""
    with app.app_context():
        found = db.session.scalar(
            db.select(Course)
            .where(Course.status == "published", Course.slug == "strategy-toolkit")
            .options(joinedload(Course.camp))  # read after leaving the session
        )
        assert found is not None
        db.session.expunge_all()
        return found


@pytest.fixture(scope="session")
def demo_video(tmp_path_factory) -> Path:
    """A real 3-second VP8/Opus WebM made with PyAV, shared by the session."""
    from lms.services.demo_media import generate_demo_video

    path = tmp_path_factory.mktemp("media") / "demo.webm"
    return generate_demo_video(path, seconds=3, color="#336699")
