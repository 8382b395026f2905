"""The versions behind the per-process caches (:mod:`lms.cache`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Connection, Integer, Table, event, insert
from sqlalchemy.orm import Mapped, mapped_column

from lms.extensions import Model


class CacheVersion(Model):
    """One row (id 1) of counters, each raised in the same transaction as any write to the
    tables it stands for: ``switches`` (camps' and plugins' on/off flags), ``content``
    (camps, courses, modules, lessons, media and captions: what every learner sees alike).

    Every request reads the row (with the login, in the same statement); a process re-reads
    what it cached only when a counter moved.
    """

    __tablename__ = "cache_versions"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    switches: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    content: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


@event.listens_for(CacheVersion.__table__, "after_create")
def _the_row(target: Table, connection: Connection, **_kw: Any) -> None:
    """A database made with ``create_all`` starts with the row (the migration inserts it)."""
    connection.execute(insert(target).values(id=1, switches=0, content=0))
