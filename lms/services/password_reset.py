"""Forgotten passwords: a one-time link by e-mail, valid for an hour.

The "Forgot your password?" page only queues :func:`send_link` with the address typed in
(:func:`request_link`). Finding the account, creating the link and sending the mail all
happen in that job, off the request: the page does the same work, takes the same time and
gives the same answer whether or not an account has the address.

The link is an ``AccountToken`` with purpose "reset" (only its SHA-256 is stored); it works
once, for :data:`LINK_LIFETIME`, and setting a password through it — or any other way —
spends it and ends every session of the account (:mod:`lms.services.account_tokens` has the
token functions, shared with the set-password links of imported staff).
"""

from __future__ import annotations

from datetime import timedelta

from flask_babel import force_locale
from flask_babel import gettext as _

from lms.extensions import db
from lms.models import AccountToken, User
from lms.services import accounts, audit, jobs, mail
from lms.services.account_tokens import find_setup_token, issue_setup_token, set_password_with_token
from lms.services.site import site_name

PURPOSE = "reset"
LINK_LIFETIME = timedelta(hours=1)


def request_link(email: str) -> None:
    """From the request: queue the job that mails a link if an account has ``email``."""
    jobs.enqueue(f"{__name__}.send_link", accounts.normalise_email(email), mail.base_url())


def reset_url(base: str, token: str) -> str:
    """The reset page of ``token`` under ``base`` (``https://host/prefix/``), without a request."""
    return mail.link(base, "auth.reset_password", token=token)


def message(name: str, url: str) -> tuple[str, str]:
    """The mail's subject and plain-text body, in the current locale."""
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    paragraphs = [
        _("Hello %(name)s,", name=name),
        _(
            "Someone, hopefully you, asked to choose a new password for your %(site)s "
            "account. Open this link within %(minutes)d minutes to do it:",
            minutes=minutes,
            site=site_name(),
        ),
        url,
        _(
            "The link works once. If you did not ask for it, ignore this message: your "
            "password stays as it is."
        ),
    ]
    return _("Choose a new password for %(site)s", site=site_name()), "\n\n".join(paragraphs) + "\n"


def send_link(email: str, base: str) -> None:
    """The job: for an active account with ``email``, a new link and a mail with it."""
    user = db.session.scalar(db.select(User).filter_by(email=email, active=True))
    if user is None:
        audit.event("password_reset_no_account", email=email)
        return
    link = issue_setup_token(user, purpose=PURPOSE, lifetime=LINK_LIFETIME)
    db.session.commit()
    locale = mail.recipient_locale(user.locale)
    with force_locale(locale):
        subject, body = message(user.name, reset_url(base, link.token))
    mail.send(user.email, subject, body, locale=locale)
    audit.event("password_reset_mailed", user=user.id)


def find_link(token: str) -> AccountToken | None:
    """The usable reset link ``token`` (unknown, expired, used and disabled are all None)."""
    return find_setup_token(token, PURPOSE)


def reset(token: str, password: str) -> User | None:
    """Set the password through the link; None when the link is not usable. Commits."""
    return set_password_with_token(token, password, PURPOSE)
