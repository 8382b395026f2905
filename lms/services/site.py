"""The site's one name, from the configuration (``SITE_NAME``), in the reader's language.

The header, every page title, mail and PDFs say it, so the academy is called one thing
everywhere (issue 18: the header said "Camp LMS" while titles said "Innovation Academy").
"""

from __future__ import annotations

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _


def site_name() -> str:
    """``SITE_NAME`` as configured (per language when it is a mapping), else the translated
    default, "Innovation Academy" (创新学院)."""
    configured = current_app.config.get("SITE_NAME")
    if isinstance(configured, dict):
        locale = get_locale()
        language = "en" if locale is not None and locale.language == "en" else "zh_CN"
        configured = configured.get(language) or next(iter(configured.values()), None)
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    return _("Innovation Academy")
