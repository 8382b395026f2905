"""Database set-up that differs by engine: SQLite pragmas and transactions, PostgreSQL's
read-only requests without a transaction, and portable insert-or-ignore."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import g, has_app_context
from sqlalchemy import event, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Engine, Result

from lms.extensions import Model, db

log = logging.getLogger(__name__)

# Requests with these methods only read: their SQLite transactions start deferred.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The key of a connection's ``info`` saying whether its transaction began read-only (SQLite).
READ_ONLY = "lms_read_only"


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys and our own transaction control for SQLite.

    pysqlite's transaction handling is replaced (SQLAlchemy's documented recipe): connections
    run with ``isolation_level=None`` and we emit the BEGINs.

    * Read-only requests (GET, HEAD, OPTIONS) get a plain deferred ``BEGIN`` at their first
      statement: one consistent snapshot for the whole page, no lock that blocks anyone.
    * Everything else (POST/PUT/PATCH/DELETE requests, the CLI, jobs) starts its transaction
      with ``BEGIN IMMEDIATE`` right before its first write. Reads before it run on their own
      and see the latest commit (as PostgreSQL's READ COMMITTED would); from the first write
      to the commit the transaction holds the write lock, so what it reads then is current.

    Why: a deferred transaction that read first cannot take the write lock once another
    connection has committed (SQLITE_BUSY_SNAPSHOT, "database is locked", which the busy
    timeout does not retry). ``BEGIN IMMEDIATE`` waits for the write lock under the busy
    timeout, so concurrent writers queue instead of failing; taking it at the first write
    rather than the first read keeps slow work before it (checking a password, hashing an
    upload, probing a video) from holding up every other writer.

    In-memory databases (one connection each) keep pysqlite's defaults.
    """
    if engine.dialect.name != "sqlite":
        return
    file_database = engine.url.database not in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        if file_database:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        dbapi_connection.create_function("lms_local_date", 2, local_date, deterministic=True)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if file_database:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if not file_database:
        return

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        read_only = connection.info[READ_ONLY] = read_only_transaction()
        if read_only:
            # Straight to the driver, like BEGIN IMMEDIATE below: through SQLAlchemy's
            # execution it cost a twentieth of a logged-in request.
            dbapi_connection = connection.connection.dbapi_connection
            if dbapi_connection is not None:
                dbapi_connection.execute("BEGIN")
        # Otherwise nothing yet: BEGIN IMMEDIATE comes before the first write (below).

    @event.listens_for(engine, "before_cursor_execute")
    def _immediate_before_first_write(
        connection: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        if dbapi_connection is None or not is_write(statement, context):
            return
        if dbapi_connection.in_transaction:
            if connection.info.get(READ_ONLY):  # (as the transaction began)
                # It may fail with "database is locked" under load: writes belong in POSTs.
                log.warning("a read-only (GET) request writes: %s", statement.split("\n")[0])
            return
        if connection.in_transaction():
            dbapi_connection.execute("BEGIN IMMEDIATE")


def configure_postgresql(engine: Engine) -> None:
    """PostgreSQL: read-only requests without a transaction, cursors described on read.

    A GET, HEAD or OPTIONS request's connection is put in autocommit mode when its
    transaction begins, so psycopg sends no ``BEGIN`` (and the end of the request no
    ``ROLLBACK``): two round trips fewer per page. Each statement sees the latest commits, as
    under READ COMMITTED. Should such a request write, or lock rows (``FOR UPDATE``), a real
    transaction starts right before that statement and ends with the session's commit or
    rollback, as in any other request. The connection leaves autocommit when it goes back to
    the pool.

    Its cursors describe their result's columns only when something reads them
    (:mod:`lms.postgres_cursor`).
    """
    if engine.dialect.name != "postgresql":
        return
    import psycopg
    from psycopg.pq import TransactionStatus

    from lms import postgres_cursor

    @event.listens_for(engine, "connect")
    def _cursors_described_on_read(dbapi_connection: Any, _record: Any) -> None:
        postgres_cursor.install(dbapi_connection)

    @event.listens_for(engine, "begin")
    def _no_transaction_for_reads(connection: Connection) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        if read_only_transaction() and isinstance(dbapi_connection, psycopg.Connection):
            dbapi_connection.autocommit = True

    @event.listens_for(engine, "before_cursor_execute")
    def _transaction_before_first_write(
        connection: Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        if not (dbapi_connection is not None and dbapi_connection.autocommit):
            return
        if (
            connection.in_transaction()
            and dbapi_connection.info.transaction_status == TransactionStatus.IDLE
            and (is_write(statement, context) or locks(statement))
        ):
            dbapi_connection.execute("BEGIN")

    @event.listens_for(engine, "checkin")
    def _leave_autocommit(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None and dbapi_connection.autocommit:
            dbapi_connection.autocommit = False


def locks(statement: str) -> bool:
    """Does this SELECT lock rows (``FOR UPDATE``/``FOR SHARE``…), which needs a transaction?"""
    tail = statement[-200:].upper()
    return " FOR UPDATE" in tail or " FOR SHARE" in tail or " FOR NO KEY UPDATE" in tail


def local_date(stored: str | None, timezone: str) -> str | None:
    """SQLite's ``lms_local_date(timestamp, zone)``: the day a stored UTC time falls on in a
    time zone (daylight-saving time included), as ``YYYY-MM-DD``."""
    if stored is None:
        return None
    moment = datetime.fromisoformat(stored)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).date().isoformat()


WRITE_KEYWORDS = frozenset(
    {"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER", "SAVEPOINT"}
)


def is_write(statement: str, context: Any = None) -> bool:
    """Does this SQL statement write (or open a savepoint)?"""
    if context is not None and (
        context.isinsert or context.isupdate or context.isdelete or context.isddl
    ):
        return True
    words = statement[:40].lstrip(" \t\r\n(").split(None, 1)  # text() and driver SQL
    return bool(words) and words[0].upper() in WRITE_KEYWORDS


def read_only_transaction() -> bool:
    """Does the current unit of work only read? True in GET/HEAD/OPTIONS requests.

    Set by :func:`mark_request_transactions`; the CLI, jobs and anything outside a request
    (no flag) may write.
    """
    return has_app_context() and bool(g.get("lms_read_only", False))


def mark_request_transactions(method: str) -> None:
    """Called first thing in every request: may this request's transactions write?"""
    g.lms_read_only = method in READ_METHODS


def dialect_insert(dialect_name: str) -> Callable[..., Any]:
    """The ``insert()`` with ``ON CONFLICT`` clauses for this engine (PostgreSQL or SQLite)."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def insert_ignoring_conflicts(
    model: type[Model], conflict_columns: list[str], **values: Any
) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``; True when a row was inserted.

    Concurrent callers racing for the same unique key all succeed and exactly one inserts.
    """
    insert = dialect_insert(db.session.get_bind().dialect.name)
    # RETURNING, not rowcount: psycopg reports rowcount -1 for the implicit RETURNING insert.
    statement = (
        insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(*inspect(model).primary_key)
    )
    return db.session.execute(statement).first() is not None


def upsert_returning(model: type, key_columns: list[str], **values: Any) -> Any:
    """Insert a row, or touch the existing one, and return it — locked for this transaction.

    ``INSERT … ON CONFLICT DO UPDATE … RETURNING``: one statement that takes the row's
    write lock on PostgreSQL (and the database's on SQLite) whether the row existed or not.
    """
    insert = dialect_insert(db.session.get_bind().dialect.name)
    statement = insert(model).values(**values)
    touch = {key_columns[0]: getattr(statement.excluded, key_columns[0])}
    statement = statement.on_conflict_do_update(index_elements=key_columns, set_=touch).returning(
        model
    )
    return db.session.scalars(statement, execution_options={"populate_existing": True}).one()


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """The rows an UPDATE or DELETE run through the session matched.

    Such a statement's result is a ``CursorResult``, which counts them; ``Session.execute``
    is typed to return any ``Result``.
    """
    if not isinstance(result, CursorResult):
        raise TypeError(f"not the result of an UPDATE or DELETE: {result!r}")
    return result.rowcount


def lock_row(model: type[Model], row_id: int) -> None:
    """Lock one row for the rest of the transaction, on both engines.

    A no-op UPDATE takes the row lock on PostgreSQL and the database write lock on SQLite
    (where a write is the only way to serialize), so concurrent callers queue here.
    """
    key = inspect(model).primary_key[0]
    db.session.execute(update(key.table).where(key == row_id).values({key.name: key}))
