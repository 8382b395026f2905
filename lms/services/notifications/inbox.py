"""The in-app side: a user's notifications, newest first, and marking them read. The unread
count lives on the user row (``users.unread_notifications``) and changes in the same
transaction as the rows it counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, update

from lms.database import rowcount
from lms.extensions import db
from lms.models import Notification, User
from lms.models._base import academy_timezone, aware, utcnow
from lms.services.notifications import kinds
from lms.services.paging import Paginated

PER_PAGE = 20


@dataclass
class Item:
    """One notification as the page shows it, in the page's language."""

    id: int
    kind: str
    title: str
    text: str
    created_at: datetime
    unread: bool

    @property
    def iso(self) -> str:
        return aware(self.created_at).isoformat(timespec="seconds")

    @property
    def when(self) -> str:
        """When it came, in the academy's time zone."""
        local = aware(self.created_at).astimezone(ZoneInfo(academy_timezone()))
        return f"{local:%Y-%m-%d %H:%M}"


@dataclass
class Page(Paginated):
    items: list[Item]
    page: int
    per_page: int
    total: int


def _mine(user: User) -> tuple[ColumnElement[bool], ...]:
    return (Notification.user_id == user.id, Notification.in_app.is_(True))


def _item(row: Notification) -> Item:
    title, text = kinds.get(row.kind).message(row.data or {})
    return Item(row.id, row.kind, title, text, row.created_at, row.read_at is None)


def page_of(user: User, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The user's in-app notifications, newest first; a page past the end is the last."""
    total = db.session.scalar(db.select(func.count(Notification.id)).where(*_mine(user))) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = db.session.scalars(
        db.select(Notification)
        .where(*_mine(user), Notification.kind.in_(kinds.all_kinds()))
        .order_by(Notification.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page([_item(row) for row in rows], page, per_page, total)


def _decrease(user_id: int, by: int) -> None:
    if by:
        db.session.execute(
            db.update(User)
            .where(User.id == user_id)
            .values(
                unread_notifications=case(
                    (User.unread_notifications > by, User.unread_notifications - by), else_=0
                )
            )
            .execution_options(synchronize_session=False)
        )


def open_one(user: User, notification_id: int) -> tuple[str, dict[str, Any]] | None:
    """Mark the user's notification read and answer where it leads (endpoint, values); None
    when it is not theirs or not shown in the app. Commits."""
    row = db.session.scalar(
        db.select(Notification).where(Notification.id == notification_id, *_mine(user))
    )
    if row is None or row.kind not in kinds.all_kinds():
        return None
    marked = rowcount(
        db.session.execute(
            update(Notification)
            .where(Notification.id == row.id, Notification.read_at.is_(None))
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    _decrease(user.id, marked)
    target = kinds.get(row.kind).link(row.data or {})
    db.session.commit()
    return target


def read_all(user: User) -> int:
    """Mark all the user's notifications read; how many were unread. Commits."""
    marked = rowcount(
        db.session.execute(
            update(Notification)
            .where(*_mine(user), Notification.read_at.is_(None))
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    _decrease(user.id, marked)
    db.session.commit()
    return marked
