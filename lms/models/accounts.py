"""Users, organizations and server-side login sessions."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.extensions import Model
from lms.models._base import Timestamped, utcnow

ROLES = ("learner", "trainer", "organizer")


class Organization(Timestamped, Model):
    """A company of the park that sends staff to train. ``monthly_target_hours`` overrides
    the academy's default target for its staff."""

    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(
            "monthly_target_hours IS NULL OR monthly_target_hours BETWEEN 0 AND 744",
            name="monthly_target_hours",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    monthly_target_hours: Mapped[int | None] = mapped_column(Integer)

    members: Mapped[list[User]] = relationship(back_populates="organization", lazy="raise_on_sql")


class User(UserMixin, Timestamped, Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES!r}", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(20), default="learner")
    locale: Mapped[str | None] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True
    )
    is_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    # In-app notifications not read yet, kept with them (lms/services/notifications/): the
    # header's bell reads it from the user row the request loads anyway.
    unread_notifications: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    organization: Mapped[Organization | None] = relationship(
        back_populates="members", lazy="raise_on_sql"
    )

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        """A loaded user is logged in: the loader only returns live sessions of active
        accounts. (Not reading ``active`` keeps a committed, expired user from reloading.)"""
        return True

    @property
    def is_trainer(self) -> bool:
        return self.role in ("trainer", "organizer")

    @property
    def is_organizer(self) -> bool:
        return self.role == "organizer"


class AuthSession(Model):
    """One login on one device. Logging out revokes it, so a copied cookie stops working."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user_agent: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship(lazy="raise_on_sql")


class StaffGroup(Timestamped, Model):
    """A named group of an organization's staff (a department, the key-talent pool…)."""

    __tablename__ = "staff_groups"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))

    organization: Mapped[Organization] = relationship(lazy="raise_on_sql")
    members: Mapped[list[User]] = relationship(
        secondary="staff_group_members", order_by="User.name", lazy="raise_on_sql"
    )


class StaffGroupMember(Model):
    __tablename__ = "staff_group_members"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("staff_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Invite(Model):
    """A link a manager hands to staff: whoever opens it joins the organization.

    Only a hash of the token is stored. It stops working when it expires, is revoked or
    has been used ``max_uses`` times.
    """

    __tablename__ = "invites"
    __table_args__ = (CheckConstraint("uses >= 0 AND uses <= max_uses", name="uses"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[int | None] = mapped_column(ForeignKey("staff_groups.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    max_uses: Mapped[int] = mapped_column(Integer, default=50)
    uses: Mapped[int] = mapped_column(Integer, default=0)

    organization: Mapped[Organization] = relationship(lazy="raise_on_sql")
    group: Mapped[StaffGroup | None] = relationship(lazy="raise_on_sql")


class AccountToken(Model):
    """A one-time link to set a password: for staff a manager imported, or a reset."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20), default="setup")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(lazy="raise_on_sql")
