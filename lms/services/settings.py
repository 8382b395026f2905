"""Plugin settings: a plugin's WTForms form declares them, organizers edit them, JSON keeps them.

A value comes from, in order of precedence: the environment (``LMS_PLUGIN_<NAME>_<FIELD>``,
upper case — where secrets belong), the values an organizer saved, the field's default.
"""

from __future__ import annotations

import os
from typing import Any

import wtforms
from flask import current_app, g
from werkzeug.datastructures import MultiDict

SECRET_FIELDS = (wtforms.PasswordField,)


def form_class(plugin_name: str) -> type[wtforms.Form] | None:
    """The settings form a plugin declares, if any. ``plugin_name`` is its entry-point name:
    another name raises :class:`lms.plugins.UnknownPlugin` (a :class:`LookupError`)."""
    registry = current_app.extensions["lms.plugins"]
    registry.info(plugin_name)
    form: type[wtforms.Form] | None = registry.settings_forms().get(plugin_name)
    return form


def environment_name(plugin_name: str, field_name: str) -> str:
    return f"LMS_PLUGIN_{plugin_name}_{field_name}".upper().replace("-", "_")


def locked_fields(plugin_name: str, form: wtforms.Form) -> set[str]:
    """Fields whose value the environment sets (shown read-only to organizers)."""
    return {field.name for field in form if environment_name(plugin_name, field.name) in os.environ}


def _stored(plugin_name: str) -> dict[str, Any]:
    from lms.extensions import db
    from lms.models import PluginSetting

    row = db.session.get(PluginSetting, plugin_name)
    return dict(row.values or {}) if row is not None else {}


def plugin_settings(plugin_name: str) -> dict[str, Any]:
    """The effective settings of the plugin named ``plugin_name`` by its entry point (empty
    when it declares none; :class:`lms.plugins.UnknownPlugin` for a name no plugin has, a
    camp's slug say).

    Read once per request or job and cached in ``g``.
    """
    cache: dict[str, dict[str, Any]] = g.setdefault("_lms_plugin_settings", {})
    if plugin_name in cache:
        return cache[plugin_name]
    cls = form_class(plugin_name)
    if cls is None:
        return {}
    stored = _stored(plugin_name)
    form = cls()
    values: dict[str, Any] = {}
    for field in form:
        env = os.environ.get(environment_name(plugin_name, field.name))
        if env is not None:
            field.process(MultiDict({field.name: env}))
            values[field.name] = field.data
        elif field.name in stored:
            values[field.name] = stored[field.name]
        else:
            values[field.name] = field.data
    cache[plugin_name] = values
    return values


def save_settings(plugin_name: str, form: wtforms.Form, by_id: int | None) -> None:
    """Store a validated form's values. Locked fields are never stored; an empty secret
    keeps the saved one. Commits."""
    from lms.extensions import db
    from lms.models import PluginSetting
    from lms.models._base import utcnow

    locked = locked_fields(plugin_name, form)
    stored = _stored(plugin_name)
    values = {}
    for field in form:
        if field.name in locked:
            continue
        if isinstance(field, SECRET_FIELDS) and not field.data:
            if field.name in stored:
                values[field.name] = stored[field.name]
            continue
        values[field.name] = _jsonable(field.data)
    row = db.session.get(PluginSetting, plugin_name)
    if row is None:
        row = PluginSetting(plugin=plugin_name)
        db.session.add(row)
    row.values, row.updated_at, row.updated_by_id = values, utcnow(), by_id
    db.session.commit()
    g.pop("_lms_plugin_settings", None)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)  # dates, decimals: stored as text, parsed again by the field
