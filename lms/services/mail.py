"""Outgoing mail: the one path every message of the app takes (password resets, invite and
set-password links, later notifications).

:func:`send` delivers one message through the configured backend; :func:`send_template`
renders one of ``templates/mail/`` in the recipient's language first. Send from a job
(:func:`lms.services.jobs.enqueue`), never from a request: a slow or broken mail server must
not hold up a page. Pass ids to the job, not links: job arguments go to Redis and into the
log line of a failed job.

Backends (``MAIL_BACKEND``, ``LMS_MAIL_BACKEND``):

* ``smtp`` — :mod:`smtplib` to ``SMTP_URL`` (``LMS_SMTP_URL``), which looks like
  ``smtp://user:password@host:587?starttls=1`` (STARTTLS), ``smtps://user:password@host:465``
  (TLS from the start) or ``smtp://host:25`` (no login, no encryption: a local relay only);
  user and password are percent-decoded, ``timeout=`` sets seconds (default 10).
* ``file`` — a ``.eml`` file per message in ``MAIL_DIR`` (``instance/mail/``), readable by its
  owner only: an academy without a mail server opens it with any mail program and hands the
  link on.
* ``log`` — the whole message as a warning on the ``lms.mail`` logger (the console of
  ``lms run``): for development only, refused in production (it would log one-time links).
* ``memory`` — kept in :func:`outbox`, for tests; refused in production.

Unset, the backend is ``smtp`` when ``SMTP_URL`` is set, else ``file`` in production or when
``MAIL_DIR`` is set, else ``memory`` under ``TESTING``, else ``log``.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_request_context, request
from flask_babel import force_locale
from jinja2 import TemplateNotFound

from lms.services.site import site_name

DEFAULT_SENDER_ADDRESS = "noreply@localhost"
BACKENDS = ("smtp", "file", "log", "memory")
DEVELOPMENT_BACKENDS = ("log", "memory")  # refused in production
OUTBOX = "lms.mail.outbox"
_WHITESPACE = re.compile(r"\s+")

log = logging.getLogger("lms.mail")


class MailConfigError(ValueError):
    """The mail settings cannot be understood; the message says why."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool  # TLS from the first byte (smtps)
    starttls: bool
    timeout: float


def _flag(query: dict[str, list[str]], name: str) -> bool:
    value = (query.get(name) or [""])[-1].strip().lower()
    return value in ("1", "true", "yes", "on")


def parse_smtp_url(url: str) -> SmtpSettings:
    """``smtp://user:pass@host:587?starttls=1`` → settings. Raises :class:`MailConfigError`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise MailConfigError("LMS_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise MailConfigError("LMS_SMTP_URL has no host name")
    query = parse_qs(parts.query)
    tls = parts.scheme == "smtps"
    starttls = _flag(query, "starttls")
    if tls and starttls:
        raise MailConfigError("LMS_SMTP_URL: smtps:// already encrypts; drop starttls=1")
    try:
        port = parts.port or (465 if tls else 587 if starttls else 25)
        timeout = float((query.get("timeout") or ["10"])[-1])
    except ValueError as exc:
        raise MailConfigError(f"LMS_SMTP_URL: {exc}") from None
    if not 0 < timeout <= 300:
        raise MailConfigError("LMS_SMTP_URL: timeout must be from 1 to 300 seconds")
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
        starttls=starttls,
        timeout=timeout,
    )


def backend_name(config: Mapping[str, Any]) -> str:
    """The backend ``config`` chooses (see the module's docstring). Raises
    :class:`MailConfigError` for an unknown name."""
    chosen = str(config.get("MAIL_BACKEND") or "").strip().lower()
    if chosen:
        if chosen not in BACKENDS:
            raise MailConfigError(
                f"LMS_MAIL_BACKEND must be one of {', '.join(BACKENDS)}, not {chosen!r}"
            )
        return chosen
    if config.get("SMTP_URL"):
        return "smtp"
    if config.get("PRODUCTION") or config.get("MAIL_DIR"):
        return "file"
    return "memory" if config.get("TESTING") else "log"


def problems(config: Mapping[str, Any]) -> list[str]:
    """Why the mail settings must not serve in production (empty when they may)."""
    try:
        name = backend_name(config)
        if name == "smtp":
            if not config.get("SMTP_URL"):
                return ["LMS_MAIL_BACKEND is smtp but LMS_SMTP_URL is not set."]
            parse_smtp_url(str(config["SMTP_URL"]))
    except MailConfigError as exc:
        return [str(exc)]
    if name in DEVELOPMENT_BACKENDS:
        return [
            f"LMS_MAIL_BACKEND={name} is for development and tests (it would write one-time "
            "links to the log, or keep mail in memory); use smtp or file."
        ]
    return []


def is_address(text: str) -> bool:
    """Is ``text`` an e-mail address in form (no DNS lookup)?"""
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def sender(locale: str | None = None) -> str | Address:
    """``MAIL_FROM`` when configured, else the site's name in ``locale`` (the default
    language when None) at ``noreply@localhost``."""
    configured = current_app.config.get("MAIL_FROM")
    if configured:
        return str(configured)
    with force_locale(locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        name = site_name()
    return Address(display_name=name, addr_spec=DEFAULT_SENDER_ADDRESS)


def build_message(
    to: str, subject: str, text: str, html: str | None = None, locale: str | None = None
) -> EmailMessage:
    """A UTF-8 message: plain text, and an HTML alternative when given, from
    :func:`sender` in ``locale``. Header values with line breaks raise ``ValueError``."""
    message = EmailMessage()
    message["From"] = sender(locale)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="camp-lms")
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def mail_dir() -> Path:
    configured = current_app.config.get("MAIL_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "mail"


def _write_file(message: EmailMessage) -> Path:
    """Write the message as ``<UTC time>-<random>.eml``, readable by the owner only."""
    folder = mail_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = folder / f"{stamp}-{secrets.token_hex(4)}.eml"
    partial = path.with_suffix(".part")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(message.as_bytes())
    os.replace(partial, path)  # a reader never sees half a message
    return path


def _send_smtp(message: EmailMessage, settings: SmtpSettings) -> None:
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if settings.tls:
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=context
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.starttls:
            client.starttls(context=context)
        if settings.username:
            client.login(settings.username, settings.password or "")
        client.send_message(message)


def _print(message: EmailMessage) -> None:
    """The ``log`` backend: headers and every text part, as one log record."""
    parts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts += ["", part.get_content().rstrip("\n")]
    log.warning("mail not sent (LMS_MAIL_BACKEND=log):\n%s", "\n".join(parts))


def outbox() -> list[EmailMessage]:
    """The messages the ``memory`` backend kept for this app, oldest first."""
    box: list[EmailMessage] = current_app.extensions.setdefault(OUTBOX, [])
    return box


def send(
    to: str, subject: str, text: str, html: str | None = None, locale: str | None = None
) -> Path | None:
    """Deliver one message (from :func:`sender` in ``locale``) through the configured backend;
    the ``file`` backend returns the file's path, the others None. Errors (no server, refused
    login) propagate, for the job runner to log."""
    message = build_message(to, subject, text, html, locale)
    name = backend_name(current_app.config)
    if name == "smtp":
        _send_smtp(message, parse_smtp_url(str(current_app.config.get("SMTP_URL") or "")))
    elif name == "file":
        return _write_file(message)
    elif name == "log":
        _print(message)
    else:
        outbox().append(message)
    return None


def render(template: str, locale: str, **context: Any) -> tuple[str, str, str | None]:
    """Subject, text and HTML (None when there is no HTML template) of the message
    ``templates/mail/<template>``, in ``locale``.

    ``<template>_subject.txt`` and ``<template>.txt`` are required, ``<template>.html`` is
    optional. They are rendered without a request (jobs have none): only ``context`` and the
    translation functions are known to them. The subject is one line.
    """
    env = current_app.jinja_env
    with force_locale(locale):
        subject = env.get_template(f"mail/{template}_subject.txt").render(context)
        text = env.get_template(f"mail/{template}.txt").render(context)
        try:
            html: str | None = env.get_template(f"mail/{template}.html").render(context)
        except TemplateNotFound:
            html = None
    return _WHITESPACE.sub(" ", subject).strip(), text.strip("\n") + "\n", html


def send_template(to: str, template: str, locale: str, **context: Any) -> Path | None:
    """Render the message ``template`` in ``locale`` (see :func:`render`) and :func:`send`
    it."""
    subject, text, html = render(template, locale, **context)
    return send(to, subject, text, html, locale)


def recipient_locale(locale: str | None) -> str:
    """A language the app speaks for a recipient: theirs when known, else the academy's."""
    if locale is not None and locale in current_app.config["LANGUAGES"]:
        return locale
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def base_url() -> str:
    """Where links in mail point: ``BASE_URL`` (``LMS_BASE_URL``) when configured, else the
    address of the current request (outside a request, a configured one is required)."""
    configured = current_app.config.get("BASE_URL")
    if configured:
        return str(configured)
    if not has_request_context():
        raise MailConfigError("links in mail need LMS_BASE_URL outside a request")
    return request.url_root


def link(base: str, endpoint: str, **values: Any) -> str:
    """The external URL of ``endpoint`` under ``base`` (``https://host/prefix/``), built
    without a request, so a job can write it into a message."""
    parts = urlsplit(base)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "http"
    )
    return adapter.build(endpoint, values, force_external=True)
