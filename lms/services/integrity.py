"""``lms check``: is the database sound, and do the training records keep their invariants?

On SQLite the engine's own checks run first (``PRAGMA integrity_check``,
``PRAGMA foreign_key_check``); on every engine the invariants are checked with SQL:

* no lesson progress covers more than its video lasts;
* no playback session was credited more training time than its wall clock (last report minus
  start) allows, nor more coverage than the highest playback rate a camp may set;
* the training-time ledger never sums below zero for a learner and a live session;
* every completed enrollment has its certificate;
* the database's Alembic revisions are the heads of the installed code and plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import Row, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from lms.extensions import db
from lms.services.progress import MAX_RATE_RANGE

# Seconds of slack for float sums and timestamp rounding (julianday on SQLite).
TOLERANCE = 1.0
EXAMPLES = 5  # offending rows named per failed check


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        status = "OK  " if self.ok else "FAIL"
        return f"{status} {self.name}" + (f": {self.detail}" if self.detail else "")


def _rows(connection: Connection, sql: str, **params: object) -> list[Row[*tuple[Any, ...]]]:
    return list(connection.execute(text(sql), params).all())


def _from_rows(
    name: str, rows: list[Row[*tuple[Any, ...]]], describe: Callable[[Row[*tuple[Any, ...]]], str]
) -> CheckResult:
    if not rows:
        return CheckResult(name, True)
    shown = "; ".join(describe(row) for row in rows[:EXAMPLES])
    more = f" (and {len(rows) - EXAMPLES} more)" if len(rows) > EXAMPLES else ""
    return CheckResult(name, False, f"{len(rows)} row(s): {shown}{more}")


def _sqlite_integrity(connection: Connection) -> CheckResult:
    rows = [row[0] for row in _rows(connection, "PRAGMA integrity_check")]
    ok = rows == ["ok"]
    return CheckResult("sqlite integrity_check", ok, "" if ok else "; ".join(rows[:EXAMPLES]))


def _sqlite_foreign_keys(connection: Connection) -> CheckResult:
    rows = _rows(connection, "PRAGMA foreign_key_check")
    return _from_rows(
        "sqlite foreign_key_check",
        rows,
        lambda row: f"{row[0]} rowid {row[1]} points to a missing {row[2]}",
    )


def _coverage(connection: Connection) -> CheckResult:
    rows = _rows(
        connection,
        """
        SELECT p.id, p.user_id, p.lesson_id, p.covered_seconds, m.duration_seconds
        FROM lesson_progress p
        JOIN lessons l ON l.id = p.lesson_id
        JOIN media_assets m ON m.id = l.media_id
        WHERE m.duration_seconds IS NOT NULL
          AND p.covered_seconds > m.duration_seconds + :tolerance
        ORDER BY p.id
        """,
        tolerance=TOLERANCE,
    )
    return _from_rows(
        "lesson progress within the video's duration",
        rows,
        lambda r: (
            f"lesson_progress {r[0]} (user {r[1]}, lesson {r[2]}) covers {r[3]:g} s "
            f"of a {r[4]:g} s video"
        ),
    )


def _wall_clock(connection: Connection) -> CheckResult:
    if connection.dialect.name == "sqlite":
        elapsed = "(julianday(last_report_at) - julianday(started_at)) * 86400.0"
    else:
        elapsed = "EXTRACT(EPOCH FROM (last_report_at - started_at))"
    # Training time at most the wall clock plus one slack; coverage at most the highest rate
    # a camp may allow times that.
    rows = _rows(
        connection,
        f"""
        SELECT id, user_id, credited_seconds, {elapsed} AS elapsed, training_seconds
        FROM playback_sessions
        WHERE (credited_seconds > 0 OR training_seconds > 0)
          AND (last_report_at IS NULL
               OR credited_seconds > :rate * ({elapsed} + :slack) + :tolerance
               OR training_seconds > {elapsed} + :slack + :tolerance)
        ORDER BY id
        """,  # noqa: S608 - the only interpolation is one of two constant expressions
        tolerance=TOLERANCE,
        rate=MAX_RATE_RANGE[1],
        slack=float(current_app.config["WATCH_SLACK"]),
    )
    return _from_rows(
        "playback credit within the wall clock",
        rows,
        lambda r: (
            f"playback_session {r[0]} (user {r[1]}) credited {r[2]:g} s "
            + (f"in {float(r[3]):.1f} s" if r[3] is not None else "without any report")
            + f" (training time {r[4]:g} s)"
        ),
    )


def _ledger(connection: Connection) -> CheckResult:
    rows = _rows(
        connection,
        """
        SELECT user_id, live_session_id, SUM(seconds) AS total
        FROM training_time
        WHERE live_session_id IS NOT NULL
        GROUP BY user_id, live_session_id
        HAVING SUM(seconds) < 0
        ORDER BY user_id, live_session_id
        """,
    )
    return _from_rows(
        "ledger sums per learner and live session not negative",
        rows,
        lambda r: f"user {r[0]}, live session {r[1]}: {r[2]} s",
    )


def _certificates(connection: Connection) -> CheckResult:
    rows = _rows(
        connection,
        """
        SELECT e.id, e.user_id, e.course_id
        FROM enrollments e
        WHERE e.completed_at IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM certificates c
            WHERE c.user_id = e.user_id AND c.course_id = e.course_id
          )
        ORDER BY e.id
        """,
    )
    return _from_rows(
        "every completed enrollment has a certificate",
        rows,
        lambda r: f"enrollment {r[0]} (user {r[1]}, course {r[2]}) has no certificate",
    )


def expected_heads() -> set[str]:
    """The Alembic heads of the core and of every loaded plugin's branch."""
    config = current_app.extensions["migrate"].migrate.get_config()
    return set(ScriptDirectory.from_config(config).get_heads())


def _revisions(connection: Connection) -> CheckResult:
    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = expected_heads()
    if current == heads:
        return CheckResult("schema at the migration heads", True)
    if not current:
        detail = "the database has no Alembic revision (run `lms db upgrade heads`)"
    else:
        detail = (
            f"database at {', '.join(sorted(current))}; the code's heads are "
            f"{', '.join(sorted(heads))} (run `lms db upgrade heads`)"
        )
    return CheckResult("schema at the migration heads", False, detail)


def run_checks() -> list[CheckResult]:
    """Every check, in order; each runs even when an earlier one failed."""
    checks: list[Callable[[Connection], CheckResult]] = []
    if db.engine.dialect.name == "sqlite":
        checks += [_sqlite_integrity, _sqlite_foreign_keys]
    checks += [_coverage, _wall_clock, _ledger, _certificates, _revisions]
    results = []
    with db.engine.connect() as connection:
        for check in checks:
            try:
                results.append(check(connection))
            except SQLAlchemyError as exc:
                name = check.__name__.strip("_").replace("_", " ")
                results.append(
                    CheckResult(
                        name, False, f"the check failed: {getattr(exc, 'orig', None) or exc}"
                    )
                )
            connection.rollback()
    return results
