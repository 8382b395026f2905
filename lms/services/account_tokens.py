"""One-time account links: set-password links for imported staff (purpose "setup") and
forgotten-password links (purpose "reset", :mod:`lms.services.password_reset`), and the
unusable password an imported account has until it uses its link.

Only the SHA-256 of a link's token is stored (``account_tokens``). A link works once, until
it expires, for an active account; setting a password through it spends it and the
account's other unused links (atomically) and ends the account's sessions.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import contains_eager

from lms.database import rowcount
from lms.extensions import db
from lms.models import AccountToken, User
from lms.models._base import utcnow
from lms.services import accounts, audit

SETUP_LINK_DAYS = 14

# Never a Werkzeug hash ("method$salt$hash"), so no password matches it.
UNUSABLE_PASSWORD_PREFIX = "!"  # noqa: S105 - a marker, not a password


def unusable_password() -> str:
    """A password hash no password matches, for accounts that set theirs through a link."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(16)


def has_password(user: User) -> bool:
    """Has the account chosen a password (imported accounts have none until they use their
    set-password link)?"""
    return not user.password_hash.startswith(UNUSABLE_PASSWORD_PREFIX)


@dataclass(frozen=True)
class SetupLink:
    user_id: int
    email: str
    name: str
    token: str
    expires_at: datetime


def issue_setup_token(
    user: User,
    days: int = SETUP_LINK_DAYS,
    *,
    purpose: str = "setup",
    lifetime: timedelta | None = None,
) -> SetupLink:
    """A one-time link for ``user`` to set a password (only its SHA-256 is kept). No commit.

    ``purpose`` is "setup" (imported staff) or "reset" (a forgotten password, see
    :mod:`lms.services.password_reset`); ``lifetime``, when given, replaces ``days``.
    """
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + (lifetime if lifetime is not None else timedelta(days=days))
    db.session.add(
        AccountToken(
            token_hash=accounts.token_digest(token),
            user=user,
            purpose=purpose,
            expires_at=expires_at,
        )
    )
    return SetupLink(user.id, user.email, user.name, token, expires_at)


def _token_usable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (AccountToken.used_at.is_(None), AccountToken.expires_at > now)


def find_setup_token(token: str, purpose: str = "setup") -> AccountToken | None:
    """The unused, unexpired link (for ``purpose``) of an active account; None otherwise."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(AccountToken)
        .join(User, User.id == AccountToken.user_id)
        .where(
            AccountToken.token_hash == accounts.token_digest(token),
            AccountToken.purpose == purpose,
            User.active.is_(True),
            *_token_usable(utcnow()),
        )
        .options(contains_eager(AccountToken.user))  # the page checks the password against it
    )


def set_password_with_token(token: str, password: str, purpose: str = "setup") -> User | None:
    """Set the password through a one-time link; the link is spent (atomically), so are the
    account's other unused links, and the account's sessions end. None when the link is not
    usable. Commits."""
    found = find_setup_token(token, purpose)
    if found is None:
        return None
    password_hash = accounts.hash_password(password)
    spent = db.session.execute(
        update(AccountToken)
        .where(AccountToken.id == found.id, *_token_usable(utcnow()))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if rowcount(spent) != 1:
        db.session.rollback()
        return None
    user = db.session.get_one(User, found.user_id)
    user.password_hash = password_hash
    accounts.end_all_sessions(user)
    accounts.spend_account_tokens(user)
    db.session.commit()
    audit.event("password_set_by_link", user=found.user_id, purpose=purpose)
    return user
