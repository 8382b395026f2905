"""Outgoing mail with the standard library: SMTP when ``LMS_SMTP_URL`` is set, otherwise a
``.eml`` file per message in ``instance/mail/`` (``MAIL_DIR``).

The academy may run offline: without an SMTP server an operator opens the ``.eml`` file (any
mail program reads it) and hands the link on. ``LMS_SMTP_URL`` looks like
``smtp://user:password@host:587?starttls=1`` (STARTTLS), ``smtps://user:password@host:465``
(TLS from the start) or ``smtp://host:25`` (no login, no encryption: a local relay only);
user and password are percent-decoded, ``timeout=`` sets seconds (default 10).

Send from a job (:func:`lms.services.jobs.enqueue`), never from a request: a slow or broken
mail server must not hold up a page.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

DEFAULT_FROM = "Camp LMS <noreply@localhost>"


class MailConfigError(ValueError):
    """``LMS_SMTP_URL`` cannot be understood; the message says why."""


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


def build_message(to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text UTF-8 message. Header values with line breaks raise ``ValueError``."""
    message = EmailMessage()
    message["From"] = current_app.config.get("MAIL_FROM") or DEFAULT_FROM
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="camp-lms")
    message.set_content(body)
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


def send(to: str, subject: str, body: str) -> Path | None:
    """Deliver one message: by SMTP when configured (returns None), else into a file (its
    path). Errors (no server, refused login) propagate, for the job runner to log."""
    message = build_message(to, subject, body)
    url = current_app.config.get("SMTP_URL")
    if url:
        _send_smtp(message, parse_smtp_url(url))
        return None
    return _write_file(message)
