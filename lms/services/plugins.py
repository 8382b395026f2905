"""Plugins as organizers see them: the errors they raised at run time, and the one list of
plugins and camps shown by ``lms camps list`` and ``/admin/camps`` (switches:
:mod:`lms.services.switches`; settings: :mod:`lms.services.settings`).

An exception raised inside a plugin's hook is isolated by the registry (the request goes on
without that plugin's answer). It is also noted here and, once the request's own session is
closed, written to the plugin's row: every process then shows the plugin as failed, with its
error, until an organizer clears it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_app_context
from sqlalchemy.exc import SQLAlchemyError

from lms.database import dialect_insert
from lms.extensions import db
from lms.models import Camp, PluginState
from lms.models._base import utcnow
from lms.services import camps as camp_service
from lms.services import switches
from lms.services.camps import registry

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000
# The same error of the same plugin is written at most once a minute by a process: a plugin
# failing on every request must not turn every request into a write.
REWRITE_AFTER_SECONDS = 60.0


def states() -> dict[str, PluginState]:
    """Every stored plugin row, by plugin name (admin page, ``lms camps list``)."""
    return {row.plugin: row for row in db.session.scalars(db.select(PluginState))}


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


# -- what the admin page and the CLI list ---------------------------------------------


def _files(folder: Path | None) -> list[str]:
    """The files under ``folder``, relative to it (sorted), for the admin page and JSON."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def plugin_rows() -> list[dict[str, Any]]:
    """Each plugin with its distribution, version, hooks, status, error, the templates and
    static files it ships, whether it has settings, and its camps' state.

    ``status`` is ``failed`` when the plugin could not be loaded (``error`` says why) or when
    one of its hooks raised since an organizer last cleared it (``error`` and ``failed_at``,
    recorded by any app process); ``disabled`` when an organizer switched off a plugin that is
    not a camp (camps are switched one by one); ``loaded`` otherwise.
    """
    reg = registry()
    stored = {camp.slug: camp for camp in db.session.scalars(db.select(Camp))}
    stored_states = states()
    settings = reg.settings_forms()
    rows = []
    for info in sorted(reg.plugins.values(), key=lambda i: i.name):
        row = info.as_dict()
        state = stored_states.get(info.name)
        row["loaded"] = info.status == "loaded"
        row["enabled"] = state is None or state.enabled
        row["failed_at"] = None
        if info.status == "loaded" and state is not None and state.failed_at is not None:
            row["status"], row["error"] = "failed", state.error
            row["failed_at"] = state.failed_at.isoformat()
        elif info.status == "loaded" and not row["enabled"] and not info.camps:
            row["status"] = "disabled"
        package = info.package_dir if info.status == "loaded" else None
        row["templates"] = _files(package / "templates" if package else None)
        row["static"] = _files(package / "static" if package else None)
        row["settings"] = info.name in settings
        row["camps"] = [
            {
                "slug": slug,
                "title_en": reg.camps[slug].title_en,
                "title_zh": reg.camps[slug].title_zh,
                "enabled": stored[slug].enabled if slug in stored else None,
                "synced_at": (
                    stored[slug].synced_at.isoformat()
                    if slug in stored and stored[slug].synced_at
                    else None
                ),
            }
            for slug in info.camps
        ]
        rows.append(row)
    return rows


def switch(name: str, enabled: bool) -> None:
    """Enable or disable a camp (by slug) or a plugin that is not a camp (by name)."""
    reg = registry()
    missing = {camp.slug for camp in camp_service.missing_camps()}
    if name in reg.camps or (not enabled and name in missing):  # a camp whose code is gone
        camp_service.set_enabled(name, enabled)
    elif name in reg.plugins:
        switch_plugin(name, enabled)
    else:
        raise LookupError(f"no camp or plugin {name!r}")


def switch_plugin(name: str, enabled: bool) -> None:
    """Enable or disable a plugin that is not a camp (camps are switched one by one).

    Raises :class:`LookupError` for an unknown plugin and for one that provides camps.
    """
    info = registry().plugins.get(name)
    if info is None:
        raise LookupError(f"no plugin {name!r}")
    if info.camps:
        raise LookupError(f"{name!r} provides camps: switch them ({', '.join(info.camps)})")
    switches.set_plugin_enabled(name, enabled)
