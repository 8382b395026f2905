"""Camps in the database: created from the plugins, enabled or disabled at runtime."""

from __future__ import annotations

from flask import current_app

from lms.cache import invalidate
from lms.camp import Camp as CampSpec
from lms.extensions import db
from lms.models import Camp
from lms.plugins import PluginRegistry
from lms.services import switches
from lms.services.curriculum import SyncReport, sync_camp


def registry() -> PluginRegistry:
    """The current app's plugin registry."""
    return current_app.extensions["lms.plugins"]


def visible_camps() -> list[Camp]:
    """Enabled camps whose plugin is loaded, in display order."""
    loaded = set(registry().camps)
    camps = db.session.scalars(
        db.select(Camp).where(Camp.enabled.is_(True)).order_by(Camp.position, Camp.slug)
    )
    return [camp for camp in camps if camp.slug in loaded]


def get_visible_camp(slug: str) -> Camp | None:
    camp = db.session.scalar(db.select(Camp).filter_by(slug=slug))
    if camp is None or not camp.enabled or camp.slug not in registry().camps:
        return None
    return camp


def ensure_camp(spec: CampSpec, plugin_name: str) -> Camp:
    """The camp's row, created on first sight; its titles always follow the plugin."""
    camp = db.session.scalar(db.select(Camp).filter_by(slug=spec.slug))
    if camp is None:
        camp = Camp(slug=spec.slug, enabled=spec.enabled_by_default)
        db.session.add(camp)
    camp.plugin = plugin_name
    camp.title_zh, camp.title_en = spec.title_zh, spec.title_en
    camp.summary_zh, camp.summary_en = spec.summary_zh, spec.summary_en
    camp.audience_zh, camp.audience_en = spec.audience_zh, spec.audience_en
    camp.position = spec.order
    db.session.flush()
    return camp


def sync(slugs: list[str] | None = None) -> dict[str, SyncReport]:
    """Sync the curriculum of the given camps (default: every loaded camp)."""
    reg = registry()
    reports = {}
    for slug in slugs if slugs is not None else sorted(reg.camps):
        if slug not in reg.camps:
            raise LookupError(f"no loaded camp {slug!r}")
        camp = ensure_camp(reg.camps[slug], reg.camp_plugin[slug])
        curriculum = reg.curricula.get(slug)
        if curriculum is None:
            db.session.commit()
            reports[slug] = SyncReport()
            continue
        reports[slug] = sync_camp(camp, curriculum)
    return reports


def set_enabled(slug: str, enabled: bool) -> Camp:
    """Enable or disable a camp; takes effect on the next request, no restart.

    Enabling a camp whose curriculum was never synced (a camp just installed) syncs it first,
    so its courses are in the catalog right away.
    """
    camp = db.session.scalar(db.select(Camp).filter_by(slug=slug))
    if camp is None or (enabled and camp.synced_at is None):
        if slug not in registry().camps:
            raise LookupError(f"no camp {slug!r}")
        if enabled:
            sync([slug])
        camp = db.session.scalar(db.select(Camp).filter_by(slug=slug))
        if camp is None:
            camp = ensure_camp(registry().camps[slug], registry().camp_plugin[slug])
    camp.enabled = enabled
    db.session.commit()
    invalidate(switches.CACHE_NAME)  # the commit did too, unless the flag did not change
    return camp
