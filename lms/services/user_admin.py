"""Organizers' user administration: creating an account by hand (``/admin/users/new``).

The new person either gets a one-time set-password link (the flow imported staff use,
:mod:`lms.services.account_tokens`), or the organizer chooses an initial password that the
password rules accept. A taken e-mail address is a :class:`~lms.services.accounts.EmailTaken`
(a conflict the form shows), never a crash; nothing is written on any refusal.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from lms.extensions import db
from lms.models import ROLES, Organization, User
from lms.models._base import MAX_INTEGER
from lms.services import account_tokens, accounts, audit
from lms.services.errors import Invalid

LOCALES = ("zh_CN", "en")


class AccountInvalid(Invalid):
    """A field of the new account breaks a rule; the message says which."""


@dataclass(frozen=True)
class NewAccount:
    """The account created, and its set-password link when no password was chosen."""

    user: User
    link: account_tokens.SetupLink | None


def get_user(user_id: int) -> User | None:
    """The account with this id, or None (ids beyond the database's integers name none)."""
    if not 0 < user_id <= MAX_INTEGER:
        return None
    return db.session.get(User, user_id)


def organizations() -> list[Organization]:
    """Every organization by name, for the organization field."""
    return list(db.session.scalars(select(Organization).order_by(Organization.name)))


def create_account(
    *,
    by: User,
    email: str,
    name: str,
    role: str,
    locale: str,
    organization_id: int | None = None,
    is_manager: bool = False,
    password: str | None = None,
) -> NewAccount:
    """Create an account for someone. With no ``password`` the account has an unusable one
    and a set-password link is issued (valid ``SETUP_LINK_DAYS``). Raises AccountInvalid or
    EmailTaken before writing anything; commits, and writes ``user_created`` to the audit log.
    """
    if role not in ROLES:
        raise AccountInvalid(_("Choose a role."))
    if locale not in LOCALES:
        raise AccountInvalid(_("Choose a language."))
    if organization_id is not None and (
        not 0 < organization_id <= MAX_INTEGER
        or db.session.get(Organization, organization_id) is None
    ):
        raise AccountInvalid(_("There is no such organization."))
    if is_manager and organization_id is None:
        raise AccountInvalid(_("A manager belongs to an organization."))
    address = accounts.normalise_email(email)
    if db.session.scalar(select(User.id).where(User.email == address)) is not None:
        raise accounts.EmailTaken(_("An account with this e-mail address exists already."))
    chosen = bool(password)
    user = accounts.create_user(
        address,
        name,
        password or secrets.token_urlsafe(32),
        role=role,
        locale=locale,
        organization_id=organization_id,
        is_manager=is_manager,
    )  # commits; a concurrent twin is an EmailTaken and leaves nothing behind
    if not chosen:  # until the link is used, no password opens the account
        user.password_hash = account_tokens.unusable_password()
    link = None if chosen else account_tokens.issue_setup_token(user)
    db.session.commit()
    audit.event("user_created", user=user.id, by=by.id, role=role, link=not chosen)
    return NewAccount(user, link)
