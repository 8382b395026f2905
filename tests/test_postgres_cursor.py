"""PostgreSQL cursors describe their columns when read, as psycopg would (lms.postgres_cursor).

Run in the PostgreSQL pass (``LMS_DATABASE_URL``): the app's connections get the cursor
class, and what it answers for ``description`` is what psycopg's own cursor answers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text

from lms.extensions import db
from lms.postgres_cursor import DescribedOnReadCursor, install

pytestmark = pytest.mark.skipif(
    not os.environ.get("LMS_DATABASE_URL", "").startswith("postgres"),
    reason="PostgreSQL only (LMS_DATABASE_URL)",
)

QUERY = "SELECT 1 AS id, 'x'::text AS name, now() AS at, 2.5::numeric(4, 1) AS score"


@pytest.fixture
def connection() -> Iterator[psycopg.Connection]:
    url = os.environ["LMS_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as connection:
        yield connection


def described(cursor: psycopg.Cursor, query: str) -> list[tuple]:
    cursor.execute(query)
    description = cursor.description
    return None if description is None else [tuple(column) for column in description]


def test_the_description_is_the_one_psycopg_gives(connection):
    plain = connection.cursor()
    install(connection)
    lazy = connection.cursor()
    assert type(lazy) is DescribedOnReadCursor and type(plain) is psycopg.Cursor
    expected = described(plain, QUERY)
    assert described(lazy, QUERY) == expected
    assert [column[0] for column in expected] == ["id", "name", "at", "score"]
    lazy.execute(QUERY)
    description = lazy.description
    assert len(description) == 4
    assert description[1].name == "name" and description[-1][5] == 1  # scale of numeric(4, 1)
    assert [column.name for column in description[1:3]] == ["name", "at"]
    assert [column.type_code for column in description] == [23, 25, 1184, 1700]


def test_statements_without_rows_have_none_and_an_empty_select_has_no_columns(connection):
    install(connection)
    cursor = connection.cursor()
    assert described(cursor, "CREATE TEMPORARY TABLE t (x integer)") is None
    assert described(cursor, "INSERT INTO t VALUES (1)") is None
    assert described(cursor, "SELECT") == []
    assert described(cursor, "INSERT INTO t VALUES (2) RETURNING x") == [
        tuple(psycopg_column) for psycopg_column in _plain(connection, "SELECT 2 AS x")
    ]


def _plain(connection: psycopg.Connection, query: str) -> list:
    cursor = psycopg.Cursor(connection)
    cursor.execute(query)
    return list(cursor.description)


def test_a_description_kept_past_the_next_statement_still_describes_its_own(connection):
    install(connection)
    cursor = connection.cursor()
    cursor.execute(QUERY)
    kept = cursor.description
    cursor.execute("SELECT 'later' AS other")
    assert [column.name for column in kept] == ["id", "name", "at", "score"]
    assert [column.name for column in cursor.description] == ["other"]


def test_a_cursor_class_the_application_chose_is_kept(connection):
    connection.cursor_factory = psycopg.ClientCursor
    install(connection)
    assert type(connection.cursor()) is psycopg.ClientCursor


def test_the_apps_connections_use_it_and_sqlalchemy_reads_rows_by_name(app):
    with app.app_context():
        raw = db.session.connection().connection.dbapi_connection
        assert raw.cursor_factory is DescribedOnReadCursor
        for _ in range(2):  # the second time from the compiled statement's cached columns
            row = db.session.execute(text(QUERY)).one()
            assert (row.id, row.name, float(row.score)) == (1, "x", 2.5)
        assert db.session.execute(text("SELECT 1 WHERE false")).first() is None
