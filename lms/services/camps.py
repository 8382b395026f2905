"""Camps in the database: created from the plugins, enabled or disabled at runtime."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from lms.cache import detached, invalidate, shared_objects, versioned
from lms.camp import Camp as CampSpec
from lms.extensions import db
from lms.models import Camp, Course
from lms.models._base import utcnow
from lms.plugins import PluginRegistry
from lms.services import switches
from lms.services.curriculum import SyncReport, load_curriculum, sync_camp


def registry() -> PluginRegistry:
    """The current app's plugin registry."""
    found: PluginRegistry = current_app.extensions["lms.plugins"]
    return found


ENABLED_CAMPS = select(Camp).where(Camp.enabled.is_(True)).order_by(Camp.position, Camp.slug)


def visible_camps() -> list[Camp]:
    """Enabled camps whose plugin is loaded, in display order.

    In a read-only request: the process's own detached copies, kept while the ``content``
    version stays (:func:`lms.cache.shared_objects`); read them, never change them."""
    loaded = set(registry().camps)
    if shared_objects():
        kept = versioned("camps.enabled", "content", _detached_enabled_camps)
        return [camp for camp in kept if camp.slug in loaded]
    return [camp for camp in db.session.scalars(ENABLED_CAMPS) if camp.slug in loaded]


def _detached_enabled_camps() -> tuple[Camp, ...]:
    return detached(lambda session: tuple(session.scalars(ENABLED_CAMPS)))


def get_camp(slug: str) -> Camp | None:
    """The camp with this slug, enabled or not (organizers' pages)."""
    return db.session.scalar(select(Camp).filter_by(slug=slug))


def get_visible_camp(slug: str) -> Camp | None:
    if shared_objects():
        return next((camp for camp in visible_camps() if camp.slug == slug), None)
    camp = db.session.scalar(select(Camp).filter_by(slug=slug))
    if camp is None or not camp.enabled or camp.slug not in registry().camps:
        return None
    return camp


def ensure_camp(spec: CampSpec, plugin_name: str) -> Camp:
    """The camp's row, created on first sight; its titles always follow the plugin."""
    camp = db.session.scalar(select(Camp).filter_by(slug=spec.slug))
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


REMOVED = "_archived_by_removal"  # a key of a course's ``synced``, never a column


def missing_camps() -> list[Camp]:
    """Camps in the database whose plugin is not loaded (uninstalled, or failed to load)."""
    loaded = set(registry().camps)
    camps = db.session.scalars(select(Camp).order_by(Camp.position, Camp.slug))
    return [camp for camp in camps if camp.slug not in loaded]


def remove(slug: str) -> int:
    """Take a camp out of service before or after its package is uninstalled: it is disabled
    and its courses are archived, never deleted, so learners keep their enrollments,
    completions, certificates, hours and archive, and trainers see no course whose pages
    would answer 404. Installing it again and syncing (or enabling) brings the courses back.
    Returns how many courses were archived. Commits."""
    camp = db.session.scalar(select(Camp).filter_by(slug=slug))
    if camp is None:
        raise LookupError(f"no camp {slug!r}")
    camp.enabled = False
    courses = db.session.scalars(
        select(Course).where(Course.camp_id == camp.id, Course.archived_at.is_(None))
    ).all()
    for course in courses:
        course.archived_at = utcnow()
        course.synced = {**(course.synced or {}), REMOVED: True}
    db.session.commit()
    invalidate(switches.CACHE_NAME)
    return len(courses)


def _restore_removed(camp: Camp) -> None:
    """Bring back the courses :func:`remove` archived (the camp is installed again)."""
    courses = db.session.scalars(
        select(Course).where(Course.camp_id == camp.id, Course.archived_at.is_not(None))
    )
    for course in courses:
        if course.synced and course.synced.get(REMOVED):
            rest = {key: value for key, value in course.synced.items() if key != REMOVED}
            course.archived_at, course.synced = None, rest or None


def sync(slugs: list[str] | None = None) -> dict[str, SyncReport]:
    """Sync the curriculum of the given camps (default: every loaded camp).

    Each camp's curriculum file is read again, as installed now, so the button on
    ``/admin/camps`` and ``lms camps sync`` see the same file; an invalid file raises
    :class:`~lms.services.curriculum.CurriculumError` before anything of that camp is written.
    """
    reg = registry()
    reports = {}
    for slug in slugs if slugs is not None else sorted(reg.camps):
        if slug not in reg.camps:
            raise LookupError(f"no loaded camp {slug!r}")
        spec = reg.camps[slug]
        curriculum = load_curriculum(spec.curriculum, slug) if spec.curriculum else None
        reg.curricula[slug] = curriculum
        camp = ensure_camp(spec, reg.camp_plugin[slug])
        _restore_removed(camp)
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
    camp = db.session.scalar(select(Camp).filter_by(slug=slug))
    if camp is None or (enabled and camp.synced_at is None):
        if slug not in registry().camps:
            raise LookupError(f"no camp {slug!r}")
        if enabled:
            sync([slug])
        camp = db.session.scalar(select(Camp).filter_by(slug=slug))
        if camp is None:
            camp = ensure_camp(registry().camps[slug], registry().camp_plugin[slug])
    if enabled:
        _restore_removed(camp)
    camp.enabled = enabled
    db.session.commit()
    invalidate(switches.CACHE_NAME)  # the commit did too, unless the flag did not change
    return camp
