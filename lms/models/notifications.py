"""Notifications: one row per (recipient, kind, object, occasion), and each user's choices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lms.extensions import Model
from lms.models._base import utcnow

CHANNELS = ("both", "in_app", "email", "none")


class Notification(Model):
    """Something that happened for one recipient, shown in the app and/or sent by e-mail.

    ``key`` — recipient, kind, object and occasion — is unique: a job that runs again inserts
    nothing and sends nothing (``INSERT … ON CONFLICT DO NOTHING``). ``user_id`` is None only
    for an e-mail to an address without an account (an invite). ``data`` keeps what the
    message needs (both languages of titles), so it is written in whoever reads it's language.
    """

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_listed", "user_id", "in_app", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    in_app: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationPreference(Model):
    """How one user wants one kind: in the app, by e-mail, both or not at all. No row: the
    kind's default."""

    __tablename__ = "notification_preferences"
    __table_args__ = (CheckConstraint(f"channel IN {CHANNELS!r}", name="channel"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
