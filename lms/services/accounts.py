"""Accounts: registration, password checks and server-side login sessions.

A login is an ``auth_sessions`` row; the browser's signed cookie holds its random token and
the time it was last used. A login ends when it is revoked (log-out, a new log-in in the same
browser, a password, role or account change), after ``SESSION_IDLE_LIFETIME`` without a
request, and ``SESSION_ABSOLUTE_LIFETIME`` after the log-in however active it is. Rows that
can no longer be used are deleted by the scheduled task ``prune login sessions``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Row, bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict
from werkzeug.security import check_password_hash, generate_password_hash

from lms.cache import note_versions
from lms.database import rowcount
from lms.extensions import db
from lms.models import ROLES, AccountToken, AuthSession, CacheVersion, Organization, User
from lms.models._base import aware, utcnow
from lms.services import audit, loading, schedule
from lms.services.errors import Conflict


class EmailTaken(Conflict):
    """An account with this e-mail address exists already."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def create_user(
    email: str,
    name: str,
    password: str,
    *,
    role: str = "learner",
    locale: str | None = None,
    organization_id: int | None = None,
    is_manager: bool = False,
) -> User:
    """Create an account. Raises :class:`EmailTaken`; writes nothing in that case."""
    user = User(
        email=normalise_email(email),
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        locale=locale,
        organization_id=organization_id,
        is_manager=is_manager,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise EmailTaken(email) from exc
    return user


_DUMMY_HASH: dict[str, str] = {}


def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None. Unknown e-mails cost the same time."""
    user = db.session.scalar(select(User).filter_by(email=normalise_email(email)))
    if user is None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        dummy = _DUMMY_HASH.setdefault(method, generate_password_hash("x", method=method))
        check_password_hash(dummy, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def token_digest(token: str) -> str:
    """What is stored of a login token: its SHA-256, never the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def lifetime(key: str) -> timedelta:
    """A session lifetime setting (seconds, or a timedelta) as a timedelta."""
    value = current_app.config[key]
    return value if isinstance(value, timedelta) else timedelta(seconds=int(value))


def start_session(user: User, user_agent: str = "", replacing: str | None = None) -> str:
    """Record a new login and return its secret token (kept in the signed session cookie).

    ``replacing``: the token this browser held before, revoked in the same transaction (a
    log-in over another never leaves the old one usable). The user's logins that can no
    longer be used are deleted at the same time.
    """
    now = utcnow()
    if replacing:
        _revoke(replacing)
    _prune(now, AuthSession.user_id == user.id)
    token = secrets.token_urlsafe(32)
    row = AuthSession(
        token_hash=token_digest(token), user=user, created_at=now, user_agent=user_agent[:200]
    )
    db.session.add(row)
    db.session.commit()
    return token


def _revoke(token: str) -> None:
    db.session.execute(
        db.update(AuthSession)
        .where(AuthSession.token_hash == token_digest(token), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def end_session(token: str | None) -> None:
    """Revoke one login: any copy of its cookie stops working."""
    if not token:
        return
    _revoke(token)
    db.session.commit()


def idle_expired(last_seen: float | None, now: datetime | None = None) -> bool:
    """Has a login last used at ``last_seen`` (a Unix time) been idle too long?"""
    if last_seen is None:
        return True
    now = now or utcnow()
    return now.timestamp() - last_seen > lifetime("SESSION_IDLE_LIFETIME").total_seconds()


def organization_of(user: User) -> Organization | None:
    """The user's organization, loaded on the user (pages then read ``user.organization``):
    from the identity map, or one statement."""
    organization: Organization | None = loading.load(user, "organization")
    return organization


def user_for_session(
    user_id: str, token: str | None, last_seen: float | None, now: datetime | None = None
) -> User | None:
    """The user of a live login, or None: revoked, idle since ``last_seen`` (Unix time) for
    longer than ``SESSION_IDLE_LIFETIME``, older than ``SESSION_ABSOLUTE_LIFETIME``, or the
    user disabled.

    One pre-built Core statement reads the user's columns and, with them, the versions of
    the per-process caches (:func:`lms.cache.note_versions`): a page needs no other
    statement to know its cached camps and plugin flags are current."""
    now = now or utcnow()
    if not token or not user_id.isdigit() or idle_expired(last_seen, now):
        return None
    params = {
        "user_id": int(user_id),
        "token_hash": token_digest(token),
        "born_after": now - lifetime("SESSION_ABSOLUTE_LIFETIME"),
    }
    row = db.session.connection().execute(LIVE_LOGIN, params).first()
    if row is None:
        return None
    note_versions(row[0], row[1])
    return _attached_user(row)


_USERS, _LOGINS, _VERSIONS = User.__table__, AuthSession.__table__, CacheVersion.__table__
# The user of a live login, every column of the row (whatever columns users gets), and the
# cache versions: built once per process, as every request runs it.
LIVE_LOGIN = (
    select(
        select(_VERSIONS.c.switches).where(_VERSIONS.c.id == 1).scalar_subquery(),
        select(_VERSIONS.c.content).where(_VERSIONS.c.id == 1).scalar_subquery(),
        *_USERS.c,
    )
    .join_from(_USERS, _LOGINS, _LOGINS.c.user_id == _USERS.c.id)
    .where(
        _USERS.c.id == bindparam("user_id"),
        _USERS.c.active.is_(True),
        _LOGINS.c.token_hash == bindparam("token_hash"),
        _LOGINS.c.revoked_at.is_(None),
        _LOGINS.c.created_at > bindparam("born_after"),
    )
)
# (position in LIVE_LOGIN's row, attribute of User) for each column.
_USER_ATTRIBUTES = [
    (2 + position, User.__mapper__.get_property_by_column(column).key)
    for position, column in enumerate(_USERS.c)
]


def _attached_user(row: Row[*tuple[Any, ...]]) -> User:
    """A persistent ``User`` from the row's columns, in the session as if the ORM had loaded
    it (relationships load lazily as usual); the session's own instance if it has one."""
    key = User.__mapper__.identity_key_from_primary_key((row[2 + _USER_ID],))
    known = db.session.identity_map.get(key)
    if isinstance(known, User):
        return known
    user: User = User.__mapper__.class_manager.new_instance()
    values = instance_dict(user)
    for position, attribute in _USER_ATTRIBUTES:
        values[attribute] = row[position]
    make_transient_to_detached(user)
    db.session.add(user)
    return user


_USER_ID = list(_USERS.c).index(_USERS.c.id)


def _prune(now: datetime, *where: ColumnElement[bool]) -> int:
    """Delete logins that can never be used again: revoked, or past the absolute lifetime."""
    dead = (AuthSession.revoked_at.is_not(None)) | (
        AuthSession.created_at <= now - lifetime("SESSION_ABSOLUTE_LIFETIME")
    )
    result = db.session.execute(
        delete(AuthSession).where(dead, *where).execution_options(synchronize_session=False)
    )
    return rowcount(result) or 0


@schedule.register("prune login sessions", every=timedelta(hours=1))
def prune_sessions(now: datetime) -> int:
    """The scheduled task: delete every login that can no longer be used; how many."""
    count = _prune(aware(now))
    db.session.commit()
    return count


def verify_password(user: User, password: str) -> bool:
    """Is ``password`` the user's current password?"""
    return check_password_hash(user.password_hash, password)


def spend_account_tokens(user: User) -> None:
    """Spend every unused one-time link of ``user`` (reset or setup). No commit."""
    db.session.execute(
        db.update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def set_password(user: User, password: str) -> None:
    """A new password: every login of the user ends (the caller starts a new one for the
    browser that asked) and every unused reset or setup link is spent. Commits."""
    password_hash = hash_password(password)  # slow: before any write lock
    user.password_hash = password_hash
    end_all_sessions(user)
    spend_account_tokens(user)
    db.session.commit()


def set_locale(user: User, locale: str) -> None:
    user.locale = locale
    db.session.commit()


def end_all_sessions(user: User) -> None:
    """Revoke every login of ``user`` (role change, disabling, password change). No commit."""
    db.session.execute(
        db.update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def set_role(user: User, role: str, *, by: User) -> None:
    """An organizer changes a role; the user logs in again with the new rights. Commits."""
    if role not in ROLES:
        raise ValueError(role)
    if user.id == by.id:
        raise PermissionError("organizers cannot change their own role")
    if user.role != role:
        user_id, by_id, old = user.id, by.id, user.role
        user.role = role
        end_all_sessions(user)
        db.session.commit()
        audit.event("role_changed", user=user_id, by=by_id, old=old, new=role)
        return
    db.session.commit()


def set_active(user: User, active: bool, *, by: User) -> None:
    """Disable or re-enable an account; disabling ends its sessions at once. Commits."""
    if user.id == by.id:
        raise PermissionError("organizers cannot disable themselves")
    changed, user_id, by_id = user.active != active, user.id, by.id
    user.active = active
    if not active:
        end_all_sessions(user)
    db.session.commit()
    if changed:
        audit.event("account_enabled" if active else "account_disabled", user=user_id, by=by_id)


def search_users(query: str = "", page: int = 1, per_page: int = 50) -> list[User]:
    statement = db.select(User).order_by(User.created_at.desc(), User.id.desc())
    if query:
        like = f"%{query.strip().lower()}%"
        statement = statement.where(
            db.func.lower(User.email).like(like) | db.func.lower(User.name).like(like)
        )
    return list(
        db.session.scalars(
            statement.limit(per_page)
            .offset((max(page, 1) - 1) * per_page)
            .options(db.joinedload(User.organization))
        )
    )
