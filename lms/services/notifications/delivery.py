"""Writing and sending notifications, idempotently.

Services call :func:`later` in the transaction where something happens; once it commits,
the job runs through :mod:`lms.services.jobs` (nothing is queued for a rolled-back
transaction). Jobs deliver with :func:`send`: one transaction per recipient that inserts the
notification under its unique key (``INSERT … ON CONFLICT DO NOTHING``), raises the
recipient's unread count in the same transaction, and sends the e-mail before committing. A
job that runs again — retried, or run by two workers at once — finds the key taken and
writes and sends nothing; a mail that could not be sent rolls its row back, so the retry
sends it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_request_context, request
from flask_babel import force_locale
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session, SessionTransaction

from lms.database import insert_ignoring_conflicts
from lms.extensions import db
from lms.models import Notification, User
from lms.models._base import utcnow
from lms.services import jobs, mail
from lms.services.notifications import kinds, preferences

log = logging.getLogger(__name__)

PENDING = "lms.notifications.pending"


# -- after the commit ----------------------------------------------------------------------


def base_url() -> str | None:
    """Where e-mailed links point: ``BASE_URL``, else the current request's root; None in a
    job without ``BASE_URL`` (its e-mails then carry no link)."""
    configured = current_app.config.get("BASE_URL")
    if configured:
        return str(configured)
    return request.url_root if has_request_context() else None


def later(job: Callable[..., Any], *args: Any) -> None:
    """Run ``job(*args)`` through the job queue once the current transaction commits.

    A model object among ``args`` is replaced by its primary key at the commit (a new row
    has one by then). Nothing runs if the transaction rolls back.
    """
    db.session.info.setdefault(PENDING, []).append((job, args))


def _key_of(value: Any) -> Any:
    if hasattr(value, "__table__"):
        identity = inspect(value).identity
        return identity[0] if identity else None
    return value


def _after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # current_app is typed as the app, not as the proxy that has this method
    for job, args in pending:
        _dispatch(app, job, tuple(_key_of(value) for value in args))


def _dispatch(app: Flask, job: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """Queue the job; in tests (``TESTING`` or ``JOBS_INLINE``) run it now, in an app context
    of its own (the committed session cannot run SQL), so tests see what it did. A job that
    fails there is logged like a worker's: the commit that queued it stands."""
    if app.config.get("JOBS_INLINE") or app.testing:
        with app.app_context():
            try:
                job(*args)
            except Exception:  # the commit stands; the job's failure is logged, as a worker's
                log.exception("job %s%r failed", job.__qualname__, args)
        return
    jobs.enqueue(f"{job.__module__}.{job.__qualname__}", *args)


def _after_rollback(session: Session, previous: SessionTransaction) -> None:
    if not previous.nested:
        session.info.pop(PENDING, None)


def _watch_sessions() -> None:
    for name, listener in (
        ("after_commit", _after_commit),
        ("after_soft_rollback", _after_rollback),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


_watch_sessions()


# -- delivering ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """An account, or (for an invite) an address without one."""

    user_id: int | None
    address: str
    locale: str

    @property
    def key(self) -> str:
        if self.user_id is not None:
            return f"user:{self.user_id}"
        return "mail:" + hashlib.sha256(self.address.encode()).hexdigest()[:40]


def key_for(recipient: Recipient, kind: str, object_id: int | None, occasion: str) -> str:
    """The unique key of one notification: recipient, kind, object, occasion."""
    return f"{recipient.key}|{kind}|{object_id if object_id is not None else '-'}|{occasion}"[:255]


def of_account(user: User) -> Recipient:
    """The account as a recipient (read before any commit: it keeps no ORM object)."""
    return Recipient(user.id, user.email, mail.recipient_locale(user.locale))


def active_users(user_ids: list[int] | set[int]) -> list[User]:
    """The active accounts among ``user_ids``, by id (disabled accounts get nothing)."""
    if not user_ids:
        return []
    return list(
        db.session.scalars(
            select(User).where(User.id.in_(set(user_ids)), User.active.is_(True)).order_by(User.id)
        )
    )


def render_mail(
    kind: kinds.Kind, locale: str, data: dict[str, Any], base: str | None
) -> tuple[str, str, str | None]:
    """Subject, text and HTML of the kind's e-mail in ``locale`` (``data`` may carry a
    one-time token for the link; it is not stored)."""
    with force_locale(locale):
        title, text = kind.message(data)
        url = None
        if base:
            endpoint, values = kind.link(data)
            url = mail.link(base, endpoint, **values)
    return mail.render(
        kind.mail_template, locale, **{**data, "title": title, "text": text, "url": url}
    )


def deliver(
    recipient: Recipient,
    kind_name: str,
    channel: str,
    object_id: int | None,
    occasion: str,
    data: dict[str, Any],
    base: str | None,
    make_secret: Callable[[], dict[str, Any]] | None = None,
) -> bool:
    """Notify one recipient once: the row, the unread count and the e-mail in one
    transaction, committed only when the e-mail is handed over. False when the channel is
    "none" or the key is taken (already delivered). ``make_secret`` (one-time links) runs
    inside the transaction and adds values to the e-mail only."""
    kind = kinds.get(kind_name)
    in_app = (
        channel in ("both", "in_app")
        and "in_app" in kind.channels
        and recipient.user_id is not None
    )
    email = channel in ("both", "email")
    if not (in_app or email):
        return False
    now = utcnow()
    try:
        inserted = insert_ignoring_conflicts(
            Notification,
            ["key"],
            key=key_for(recipient, kind_name, object_id, occasion),
            user_id=recipient.user_id,
            kind=kind_name,
            object_id=object_id,
            data=data,
            in_app=in_app,
            email=email,
            created_at=now,
            emailed_at=now if email else None,
        )
        if not inserted:
            db.session.rollback()
            return False
        if in_app:
            db.session.execute(
                update(User)
                .where(User.id == recipient.user_id)
                .values(unread_notifications=User.unread_notifications + 1)
                .execution_options(synchronize_session=False)
            )
        if email:
            secret = make_secret() if make_secret is not None else {}
            subject, text, html = render_mail(kind, recipient.locale, {**data, **secret}, base)
            mail.send(recipient.address, subject, text, html, recipient.locale)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return True


def send(
    kind_name: str,
    user_ids: list[int] | set[int],
    object_id: int | None,
    occasion: str,
    data: dict[str, Any],
    base: str | None,
) -> int:
    """Notify the active accounts among ``user_ids`` as each chose for the kind; how many
    were notified now. A recipient whose e-mail fails does not stop the others: the first
    error is raised at the end, for the job runner to log (and retry)."""
    recipients = {person.id: of_account(person) for person in active_users(user_ids)}
    chosen = preferences.channels(recipients, kind_name)
    sent, failure = 0, None
    for user_id, each in recipients.items():
        try:
            sent += deliver(each, kind_name, chosen[user_id], object_id, occasion, data, base)
        except Exception as error:
            log.exception("notification %s to user %s failed", kind_name, user_id)
            failure = failure or error
    if failure is not None:
        raise failure
    return sent


def send_link(
    kind_name: str,
    address: str,
    account: User | None,
    locale: str,
    object_id: int | None,
    occasion: str,
    data: dict[str, Any],
    base: str | None,
    make_secret: Callable[[], dict[str, Any]],
) -> bool:
    """Mail a one-time link (an invite, a set-password link) under the same rules: a
    disabled account gets nothing, an account's choice for the kind holds, and the key makes
    a retried job send nothing. An address without an account gets the e-mail. The link is
    made by ``make_secret`` in the same transaction, never stored. Commits; False when
    nothing was sent."""
    if account is None:
        recipient, channel = Recipient(None, address, mail.recipient_locale(locale)), "email"
    elif not account.active:
        return False
    else:
        recipient = Recipient(account.id, address, mail.recipient_locale(account.locale or locale))
        channel = preferences.channels([account.id], kind_name)[account.id]
    return deliver(recipient, kind_name, channel, object_id, occasion, data, base, make_secret)


def notify(
    kind_name: str,
    user_ids: list[int] | set[int],
    object_id: int | None,
    occasion: str,
    data: dict[str, Any],
) -> None:
    """Notify ``user_ids`` of an event of the current transaction, once it commits (the
    job :func:`send`: active accounts only, as each chose, once per key). For plugins
    (``lms.api.notify``) and any service without an ``on_…`` function of its own."""
    later(send, kind_name, sorted(set(user_ids)), object_id, occasion, dict(data), base_url())
