"""Which camps and plugins organizers switched off.

Camps are switched with their own flag (``camps.enabled``); plugins that are not camps with a
``plugin_states`` row. Both are read in one statement and kept by each process behind the
``switches`` version (:func:`lms.cache.versioned`): every request reads the version with its
login, and a process reads the flags again only when a switch changed (the change raised the
version in its own transaction), so a switch takes effect on the next request in every process.
With ``FAST_PATHS`` off they are read once per request (shared through Redis when configured).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, literal, union_all

from lms.cache import cached, fast_paths, invalidate, versioned
from lms.extensions import db
from lms.models import Camp, PluginState
from lms.models._base import utcnow

CACHE_NAME = "plugins.switched_off"


@dataclass(frozen=True)
class SwitchedOff:
    """Camps and plugins that organizers disabled."""

    camps: frozenset[str] = frozenset()
    plugins: frozenset[str] = frozenset()


def switched_off() -> SwitchedOff:
    """What is disabled right now: as of this request's read of the versions."""
    if fast_paths():
        return versioned(CACHE_NAME, "switches", _query_switched_off)
    return cached(CACHE_NAME, _query_switched_off)


_CAMPS, _STATES = Camp.__table__, PluginState.__table__
# Core, not ORM, one statement, built once.
SWITCHED_OFF = union_all(
    db.select(literal("camp"), _CAMPS.c.slug).where(_CAMPS.c.enabled.is_(false())),
    db.select(literal("plugin"), _STATES.c.plugin).where(_STATES.c.enabled.is_(false())),
)


def _query_switched_off() -> SwitchedOff:
    rows = db.session.connection().execute(SWITCHED_OFF).all()
    return SwitchedOff(
        camps=frozenset(name for kind, name in rows if kind == "camp"),
        plugins=frozenset(name for kind, name in rows if kind == "plugin"),
    )


def disabled_camps() -> frozenset[str]:
    return switched_off().camps


def disabled_plugins() -> frozenset[str]:
    return switched_off().plugins


def plugin_row(name: str) -> PluginState:
    """The plugin's ``plugin_states`` row, added to the session when it has none yet."""
    row = db.session.get(PluginState, name)
    if row is None:
        row = PluginState(plugin=name, enabled=True)
        db.session.add(row)
    return row


def set_plugin_enabled(name: str, enabled: bool) -> PluginState:
    """Enable or disable a plugin that is not a camp; takes effect on the next request."""
    row = plugin_row(name)
    row.enabled = enabled
    row.updated_at = utcnow()
    db.session.commit()
    invalidate(CACHE_NAME)
    return row
