"""Everything a plugin may import from Camp LMS, and nothing else.

A plugin imports only this module (``from lms.api import hookimpl, Camp, …``); the core may
change behind it. ``make lint`` enforces it for the bundled plugins (import-linter contracts
in ``.importlinter``). What it offers:

* writing hooks: ``hookimpl``, ``Camp``, ``EnrollmentDecision``, ``Fragment``,
  ``render_fragment``, ``plugin_settings`` (by the plugin's entry-point name);
* the database, for a plugin's own tables and its queries: ``db`` (Flask-SQLAlchemy),
  ``models`` (the core's models: ``models.Enrollment``, ``models.User``, …), ``utcnow``,
  ``aware`` (a stored time made timezone-aware) and ``insert_ignoring_conflicts``;
* background work: ``enqueue("package.module.function", *args)`` runs a function off the
  request (a Redis queue when configured, else a thread);
* notifications: ``NotificationKind`` (returned by ``lms_notification_kinds``) and
  ``notify(kind, user_ids, object_id, occasion, data)``, which notifies once the current
  transaction commits (docs/notifications.md).
"""

from __future__ import annotations

from lms import hookimpl, models
from lms.camp import Camp, EnrollmentDecision
from lms.database import insert_ignoring_conflicts
from lms.extensions import db
from lms.models._base import aware, utcnow
from lms.services.jobs import enqueue
from lms.services.notifications.delivery import notify
from lms.services.notifications.kinds import Kind as NotificationKind
from lms.services.settings import plugin_settings
from lms.slots import Fragment, render_fragment

__all__ = [
    "Camp",
    "EnrollmentDecision",
    "Fragment",
    "NotificationKind",
    "aware",
    "db",
    "enqueue",
    "hookimpl",
    "insert_ignoring_conflicts",
    "models",
    "notify",
    "plugin_settings",
    "render_fragment",
    "utcnow",
]
