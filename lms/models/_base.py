"""Shared column helpers for the models."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, has_app_context
from flask_babel import get_locale
from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from lms.config import DEFAULTS

# Ids and integer columns are 32-bit INTEGER on PostgreSQL: a larger number names nothing,
# and must not reach the database, which would refuse it as out of range.
MAX_INTEGER = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; every time we store is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def academy_timezone() -> str:
    """The name of the academy's time zone: the ``TIMEZONE`` setting (``LMS_TIMEZONE``)."""
    if has_app_context():
        return str(current_app.config["TIMEZONE"])
    return str(DEFAULTS["TIMEZONE"])


def current_language() -> str:
    """``"zh"`` or ``"en"``, from the request's locale (Chinese outside a request)."""
    try:
        locale = get_locale()
    except RuntimeError:
        locale = None
    return "en" if locale is not None and locale.language == "en" else "zh"


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Bilingual:
    """Chinese and English titles and summaries; ``title``/``summary`` pick the request's."""

    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    summary_zh: Mapped[str] = mapped_column(String(2000), default="")
    summary_en: Mapped[str] = mapped_column(String(2000), default="")

    def localized(self, field: str) -> str:
        primary, fallback = ("en", "zh") if current_language() == "en" else ("zh", "en")
        text: str = getattr(self, f"{field}_{primary}") or getattr(self, f"{field}_{fallback}")
        return text

    @property
    def title(self) -> str:
        return self.localized("title")

    @property
    def summary(self) -> str:
        return self.localized("summary")
