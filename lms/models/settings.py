"""Plugins' settings, edited by organizers and stored as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms.extensions import Model
from lms.models._base import utcnow


class PluginSetting(Model):
    """The values an organizer saved for one plugin's settings form."""

    __tablename__ = "plugin_settings"

    plugin: Mapped[str] = mapped_column(String(100), primary_key=True)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class PluginState(Model):
    """What organizers decided about a plugin, and the last error it raised at run time.

    Camps are switched through their own flag (:class:`lms.models.Camp`); this row switches
    plugins that are not camps. Every app process reads it, so a plugin disabled or failing
    in one process is shown the same way by all.
    """

    __tablename__ = "plugin_states"

    plugin: Mapped[str] = mapped_column(String(100), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
