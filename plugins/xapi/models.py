"""The xAPI plugin's own table: an outbox of statements waiting to be delivered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lms.api import db, utcnow


class XapiStatement(db.Model):
    """One statement. ``id`` is the statement's own UUID, derived from the event, so an
    event recorded twice is stored (and sent) once."""

    __tablename__ = "xapi_statements"
    __table_args__ = (Index("ix_xapi_statements_pending", "sent_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    verb: Mapped[str] = mapped_column(String(40))
    statement: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
