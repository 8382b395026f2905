"""One view of every plugin and camp, shared by ``lms camps list`` and the admin page."""

from __future__ import annotations

from typing import Any

from lms.extensions import db
from lms.models import Camp
from lms.services.camps import registry


def plugin_rows() -> list[dict[str, Any]]:
    """Each plugin with its distribution, version, hooks, status, error and camps' state."""
    reg = registry()
    stored = {camp.slug: camp for camp in db.session.scalars(db.select(Camp))}
    rows = []
    for info in sorted(reg.plugins.values(), key=lambda i: i.name):
        row = info.as_dict()
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
