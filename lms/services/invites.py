"""Invite links: an organization's link (only the token's SHA-256 is stored) that lets
people sign up into it, or join it with their account, and into a staff group; each link
expires, can be revoked, and counts its uses up to ``max_uses`` atomically.

The functions take an organization already found for the viewer; an invite or group of
another organization is :class:`~lms.services.errors.NotFound`, like an unknown one.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from lms.database import rowcount
from lms.extensions import db
from lms.models import Invite, Organization, User
from lms.models._base import utcnow
from lms.services import accounts
from lms.services.errors import Conflict, Invalid, NotFound
from lms.services.organizations import join
from lms.services.staff_groups import find_group, join_group

INVITE_DAYS = (1, 90, 14)  # min, max, default
INVITE_USES = (1, 500, 50)


def _usable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (Invite.revoked_at.is_(None), Invite.expires_at > now, Invite.uses < Invite.max_uses)


def create_invite(
    organization: Organization,
    *,
    by: User,
    group_id: int | None = None,
    days: int = INVITE_DAYS[2],
    max_uses: int = INVITE_USES[2],
) -> tuple[Invite, str]:
    """A new invite link and its token (shown once: only its SHA-256 is stored).

    ``group_id`` must be a group of the organization (else :class:`NotFound`). Commits.
    """
    invite, token = add_invite(
        organization, by_id=by.id, group_id=group_id, days=days, max_uses=max_uses
    )
    db.session.commit()
    return invite, token


def check_invite_days(days: int) -> None:
    if not INVITE_DAYS[0] <= days <= INVITE_DAYS[1]:
        raise Invalid(_("Choose from 1 to 90 days."))


def add_invite(
    organization: Organization,
    *,
    by_id: int | None,
    group_id: int | None,
    days: int,
    max_uses: int,
) -> tuple[Invite, str]:
    """:func:`create_invite` without the commit (flushed: the invite has its id)."""
    check_invite_days(days)
    if not INVITE_USES[0] <= max_uses <= INVITE_USES[1]:
        raise Invalid(_("Choose from 1 to 500 uses."))
    group = find_group(organization, group_id) if group_id is not None else None
    token = secrets.token_urlsafe(32)
    invite = Invite(
        token_hash=accounts.token_digest(token),
        organization_id=organization.id,
        group_id=group.id if group else None,
        created_by_id=by_id,
        expires_at=utcnow() + timedelta(days=days),
        max_uses=max_uses,
        uses=0,
    )
    db.session.add(invite)
    db.session.flush()
    return invite, token


def active_invites(organization: Organization) -> list[Invite]:
    """Links that still work, newest first."""
    return list(
        db.session.scalars(
            db.select(Invite)
            .where(Invite.organization_id == organization.id, *_usable(utcnow()))
            .order_by(Invite.created_at.desc(), Invite.id.desc())
            .options(db.joinedload(Invite.group))
        )
    )


def revoke_invite(organization: Organization, invite_id: int) -> None:
    """Stop a link of the organization at once. Commits."""
    invite = db.session.scalar(
        db.select(Invite).where(
            Invite.id == invite_id,
            Invite.organization_id == organization.id,
            Invite.revoked_at.is_(None),
        )
    )
    if invite is None:
        raise NotFound()
    invite.revoked_at = utcnow()
    db.session.commit()


def find_invite(token: str) -> Invite | None:
    """The usable invite with this token; None when unknown, expired, revoked or used up."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(Invite)
        .where(Invite.token_hash == accounts.token_digest(token), *_usable(utcnow()))
        .options(joinedload(Invite.organization))
    )


def _use(invite: Invite) -> None:
    """Count one use, atomically: ``UPDATE … WHERE uses < max_uses`` (and still valid), so
    parallel accepts never exceed ``max_uses``. The first write of the transaction."""
    counted = db.session.execute(
        db.update(Invite)
        .where(Invite.id == invite.id, *_usable(utcnow()))
        .values(uses=Invite.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if rowcount(counted) != 1:
        db.session.rollback()
        raise NotFound()


def accept_invite(token: str, user: User) -> tuple[Organization, bool]:
    """``user`` (logged in) joins the invite's organization and group; returns the
    organization and whether a use was counted.

    A member of the same organization only joins the group (no use is counted); a member
    of another organization gets :class:`Conflict`; an unusable link :class:`NotFound`.
    Commits.
    """
    invite = find_invite(token)
    if invite is None:
        raise NotFound()
    organization, group_id = invite.organization, invite.group_id
    if user.organization_id == organization.id:
        join_group(group_id, user.id)
        db.session.commit()
        return organization, False
    if user.organization_id is not None:
        raise Conflict(_("Your account belongs to another organization."))
    _use(invite)
    join(organization, user.id, _("Your account belongs to another organization."))
    join_group(group_id, user.id)
    db.session.commit()
    return organization, True


def register_with_invite(
    token: str, *, email: str, name: str, password: str, locale: str | None = None
) -> User:
    """A new account that joins the invite's organization (and group) in one transaction.

    Raises :class:`NotFound` for an unusable link and :class:`accounts.EmailTaken`. Commits.
    """
    invite = find_invite(token)
    if invite is None:
        raise NotFound()
    email = accounts.normalise_email(email)
    if db.session.scalar(db.select(User.id).filter_by(email=email)) is not None:
        raise accounts.EmailTaken(email)
    organization_id, group_id = invite.organization_id, invite.group_id
    password_hash = accounts.hash_password(password)  # slow: before the write lock
    _use(invite)
    user = User(
        email=email,
        name=name.strip(),
        password_hash=password_hash,
        role="learner",
        locale=locale,
        organization_id=organization_id,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise accounts.EmailTaken(email) from exc
    join_group(group_id, user.id)
    db.session.commit()
    return user
