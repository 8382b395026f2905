"""Database set-up that differs by engine: SQLite pragmas, and portable insert-or-ignore."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from lms.extensions import db


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and foreign keys for every SQLite connection."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def insert_ignoring_conflicts(model: type, conflict_columns: list[str], **values: Any) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``; True when a row was inserted.

    Concurrent callers racing for the same unique key all succeed and exactly one inserts.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING, not rowcount: psycopg reports rowcount -1 for the implicit RETURNING insert.
    table = model.__table__
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_columns)
        .returning(*table.primary_key.columns)
    )
    return db.session.execute(statement).first() is not None


def upsert_returning(model: type, key_columns: list[str], **values: Any) -> Any:
    """Insert a row, or touch the existing one, and return it — locked for this transaction.

    ``INSERT … ON CONFLICT DO UPDATE … RETURNING``: one statement that takes the row's
    write lock on PostgreSQL (and the database's on SQLite) whether the row existed or not.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).values(**values)
    touch = {key_columns[0]: getattr(statement.excluded, key_columns[0])}
    statement = statement.on_conflict_do_update(index_elements=key_columns, set_=touch).returning(
        model
    )
    return db.session.scalars(statement, execution_options={"populate_existing": True}).one()


def lock_row(model: type, row_id: int) -> None:
    """Lock one row for the rest of the transaction, on both engines.

    A no-op UPDATE takes the row lock on PostgreSQL and the database write lock on SQLite
    (where a write is the only way to serialize), so concurrent callers queue here.
    """
    table = model.__table__
    key = next(iter(table.primary_key.columns))
    db.session.execute(table.update().where(key == row_id).values({key.name: key}))
