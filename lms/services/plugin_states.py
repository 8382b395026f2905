"""Which plugins are switched off, and the errors plugins raised at run time.

Camps are switched with their own flag (``camps.enabled``); plugins that are not camps with a
``plugin_states`` row. Both are read in one statement, once per request (shared through Redis
when configured, see :mod:`lms.cache`), so a switch takes effect on the next request in every
process.

An exception raised inside a plugin's hook is isolated by the registry (the request goes on
without that plugin's answer). It is also noted here and, once the request's own session is
closed, written to the plugin's row: every process then shows the plugin as failed, with its
error, until an organizer clears it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import false, literal, union_all
from sqlalchemy.exc import SQLAlchemyError

from lms.cache import cached, invalidate
from lms.database import dialect_insert
from lms.extensions import db
from lms.models import Camp, PluginState
from lms.models._base import utcnow

log = logging.getLogger(__name__)

CACHE_NAME = "plugins.switched_off"
MAX_ERROR_CHARS = 2000
# The same error of the same plugin is written at most once a minute by a process: a plugin
# failing on every request must not turn every request into a write.
REWRITE_AFTER_SECONDS = 60.0


@dataclass(frozen=True)
class SwitchedOff:
    """Camps and plugins that organizers disabled."""

    camps: frozenset[str] = frozenset()
    plugins: frozenset[str] = frozenset()


def switched_off() -> SwitchedOff:
    """What is disabled right now, read once per request."""
    return cached(CACHE_NAME, _query_switched_off)


def _query_switched_off() -> SwitchedOff:
    # Core, not ORM, and one statement: this runs on every request that calls a hook.
    camps, states = Camp.__table__, PluginState.__table__
    query = union_all(
        db.select(literal("camp"), camps.c.slug).where(camps.c.enabled.is_(false())),
        db.select(literal("plugin"), states.c.plugin).where(states.c.enabled.is_(false())),
    )
    rows = db.session.connection().execute(query).all()
    return SwitchedOff(
        camps=frozenset(name for kind, name in rows if kind == "camp"),
        plugins=frozenset(name for kind, name in rows if kind == "plugin"),
    )


def disabled_plugins() -> frozenset[str]:
    return switched_off().plugins


def states() -> dict[str, PluginState]:
    """Every stored plugin row, by plugin name (admin page, ``lms camps list``)."""
    return {row.plugin: row for row in db.session.scalars(db.select(PluginState))}


def _row(name: str) -> PluginState:
    row = db.session.get(PluginState, name)
    if row is None:
        row = PluginState(plugin=name, enabled=True)
        db.session.add(row)
    return row


def set_enabled(name: str, enabled: bool) -> PluginState:
    """Enable or disable a plugin that is not a camp; takes effect on the next request."""
    row = _row(name)
    row.enabled = enabled
    row.updated_at = utcnow()
    db.session.commit()
    invalidate(CACHE_NAME)
    return row


def clear_failure(name: str) -> None:
    """Forget a plugin's run-time error (the organizer fixed or upgraded it)."""
    row = db.session.get(PluginState, name)
    if row is not None and row.failed_at is not None:
        row.error, row.failed_at, row.updated_at = None, None, utcnow()
        db.session.commit()
    throttle = current_app.extensions.get("lms.plugin_failures_written", {})
    throttle.pop(name, None)


def note_failure(plugin_name: str, message: str) -> None:
    """Called by the registry when a plugin's hook raised: stored when the context ends."""
    if has_app_context():
        g.setdefault("lms_plugin_failures", {})[plugin_name] = message[:MAX_ERROR_CHARS]


def write_noted_failures(_exc: BaseException | None = None) -> None:
    """Store the failures noted during this app context, on a connection of their own.

    Runs after the request's session was removed, so nothing the request left uncommitted is
    committed with it, and the request's answer never depends on it: a database error here is
    logged, not raised.
    """
    failures = g.pop("lms_plugin_failures", None)
    if not failures:
        return
    written = current_app.extensions.setdefault("lms.plugin_failures_written", {})
    now, clock = utcnow(), time.monotonic()
    due = {
        name: message
        for name, message in failures.items()
        if name not in written
        or written[name][0] != message
        or clock - written[name][1] >= REWRITE_AFTER_SECONDS
    }
    if not due:
        return
    table = PluginState.__table__
    try:
        with db.engine.begin() as connection:
            insert = dialect_insert(connection.dialect.name)
            for name, message in sorted(due.items()):
                values = {"error": message, "failed_at": now, "updated_at": now}
                statement = insert(table).values(plugin=name, enabled=True, **values)
                connection.execute(
                    statement.on_conflict_do_update(index_elements=["plugin"], set_=values)
                )
    except SQLAlchemyError as exc:
        log.error("could not store the run-time error of plugin(s) %s: %s", sorted(due), exc)
        return
    for name, message in due.items():
        written[name] = (message, clock)


def init_app(app: Flask) -> None:
    """Store noted failures when each app context ends. Call before ``db.init_app``:
    teardown functions run in reverse order, so this one runs after the session is removed."""
    app.teardown_appcontext(write_noted_failures)
