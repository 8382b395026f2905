"""One view of every plugin and camp, shared by ``lms camps list`` and the admin page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lms.extensions import db
from lms.models import Camp
from lms.services.camps import registry


def _files(folder: Path | None) -> list[str]:
    """The files under ``folder``, relative to it (sorted), for the admin page and JSON."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def plugin_rows() -> list[dict[str, Any]]:
    """Each plugin with its distribution, version, hooks, status, error, the templates and
    static files it ships, whether it has settings, and its camps' state."""
    reg = registry()
    stored = {camp.slug: camp for camp in db.session.scalars(db.select(Camp))}
    settings = reg.settings_forms()
    rows = []
    for info in sorted(reg.plugins.values(), key=lambda i: i.name):
        row = info.as_dict()
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
