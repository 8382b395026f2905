"""Plugins' settings, edited by organizers and stored as JSON."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from lms.extensions import db
from lms.models._base import utcnow


class PluginSetting(db.Model):
    """The values an organizer saved for one plugin's settings form."""

    __tablename__ = "plugin_settings"

    plugin: Mapped[str] = mapped_column(String(100), primary_key=True)
    values: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
