"""A psycopg cursor whose ``description`` describes its columns only when they are read.

psycopg builds ``cursor.description`` afresh on every read: one ``Column`` per column of
the result (its name decoded, its type looked up). SQLAlchemy reads it after every
statement that returns rows, but once a statement's result columns are known (its compiled
form caches them) it only asks whether there is a description. On a page of ORM rows with
their joined relationships that is dozens of ``Column`` objects per statement, made and
thrown away: about a tenth of the dashboard's time on PostgreSQL.

:class:`DescribedOnReadCursor` answers ``description`` with a sequence of the same
``Column`` objects, made the first time one is read. It is what a connection's cursors are
when the application has not chosen another ``cursor_factory`` (:func:`install`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import psycopg
from psycopg.pq import ExecStatus

# Results that have rows (psycopg's own test for returning a description).
ROW_RESULTS = frozenset({ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK})


class ColumnsOnRead(Sequence[psycopg.Column]):
    """``cursor.description`` of one result: its ``Column`` objects made on first read."""

    __slots__ = ("_columns", "_cursor", "_result")

    def __init__(self, cursor: psycopg.Cursor[Any], result: Any) -> None:
        self._cursor, self._result = cursor, result
        self._columns: list[psycopg.Column] | None = None

    def __len__(self) -> int:
        return int(self._result.nfields)

    @overload
    def __getitem__(self, index: int) -> psycopg.Column: ...

    @overload
    def __getitem__(self, index: slice) -> list[psycopg.Column]: ...

    def __getitem__(self, index: int | slice) -> psycopg.Column | list[psycopg.Column]:
        return self.columns()[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ColumnsOnRead):
            other = other.columns()
        return isinstance(other, list | tuple) and list(self.columns()) == list(other)

    __hash__ = None  # type: ignore[assignment]  # compared by value, like psycopg's list

    def __repr__(self) -> str:
        return repr(self.columns())

    def columns(self) -> list[psycopg.Column]:
        """The ``Column`` objects psycopg's own ``description`` would have given."""
        if self._columns is None:
            # Of this result, even if the cursor has run another statement since.
            source = _ResultOf(self._cursor, self._result)
            self._columns = [psycopg.Column(source, i) for i in range(len(self))]  # type: ignore[arg-type]  # the cursor, its result pinned
        return self._columns


class _ResultOf:
    """A cursor as it was when it held ``result`` (what ``psycopg.Column`` reads of it)."""

    def __init__(self, cursor: psycopg.Cursor[Any], result: Any) -> None:
        self._of, self.pgresult = cursor, result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._of, name)


class DescribedOnReadCursor(psycopg.Cursor[Any]):
    """psycopg's cursor, with :class:`ColumnsOnRead` as its ``description``."""

    @property
    def description(self) -> ColumnsOnRead | None:  # type: ignore[override]  # a sequence of the same Columns
        result = self.pgresult
        if result is not None and (result.nfields or result.status in ROW_RESULTS):
            return ColumnsOnRead(self, result)
        return None


def install(dbapi_connection: Any) -> None:
    """Make ``dbapi_connection``'s cursors :class:`DescribedOnReadCursor`, unless the
    application asked for another cursor class (``connect_args={"cursor_factory": …}``)."""
    if (
        isinstance(dbapi_connection, psycopg.Connection)
        and dbapi_connection.cursor_factory is psycopg.Cursor
    ):
        dbapi_connection.cursor_factory = DescribedOnReadCursor
