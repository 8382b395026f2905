"""One view of every plugin and camp, shared by ``lms camps list`` and the admin page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lms.extensions import db
from lms.models import Camp
from lms.services import camps as camp_service
from lms.services import plugin_states
from lms.services.camps import registry


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
    states = plugin_states.states()
    settings = reg.settings_forms()
    rows = []
    for info in sorted(reg.plugins.values(), key=lambda i: i.name):
        row = info.as_dict()
        state = states.get(info.name)
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
    if name in reg.camps:
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
    plugin_states.set_enabled(name, enabled)
