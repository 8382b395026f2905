"""Template slots: named places in the core pages where plugins add HTML.

A core template calls ``{{ slot("course_sidebar", course=course) }}``; every active plugin's
``lms_template_slot`` implementation is asked for a fragment. Each call is isolated (an
exception is logged against its plugin and that fragment is left out) and the fragments are
ordered by priority, then plugin name, so the page is the same on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, g, render_template
from flask_login import current_user
from markupsafe import Markup, escape

SLOTS = frozenset({"nav_items", "dashboard_panels", "course_sidebar", "lesson_footer"})
DEFAULT_PRIORITY = 100


@dataclass(frozen=True)
class Fragment:
    """A plugin's contribution to a slot: ``html`` (``Markup`` as is, ``str`` escaped) and
    where it goes among the others (lower ``priority`` first)."""

    html: Markup | str
    priority: int = DEFAULT_PRIORITY


def render_fragment(template_name: str, **context: Any) -> Markup:
    """Render a plugin's template (autoescaped) for a slot."""
    return Markup(render_template(template_name, **context))  # noqa: S704 - rendered by Jinja


def _as_fragment(result: object) -> Fragment | None:
    if isinstance(result, Fragment):
        html = result.html if isinstance(result.html, Markup) else escape(result.html)
        return Fragment(html, int(result.priority))
    if isinstance(result, Markup):
        return Fragment(result)
    if isinstance(result, str):
        return Fragment(escape(result))
    return None


def render_slot(name: str, **context: Any) -> Markup:
    """Every active plugin's fragment for slot ``name``, in a stable order."""
    if name not in SLOTS:
        raise ValueError(f"unknown template slot {name!r}")
    if g.get("database_unavailable"):  # the 503 page: no plugin can be asked (lms.web.errors)
        return Markup("")
    registry = current_app.extensions["lms.plugins"]
    context.setdefault("user", current_user)
    found = []
    for plugin_name, result in registry.call_each("lms_template_slot", slot=name, context=context):
        fragment = _as_fragment(result)
        if fragment is None:
            registry.record_failure(
                plugin_name, f"lms_template_slot({name!r}) returned {type(result).__name__}"
            )
            continue
        found.append((fragment.priority, plugin_name, fragment.html))
    found.sort(key=lambda item: (item[0], item[1]))
    return Markup("").join(html for _priority, _plugin, html in found)
