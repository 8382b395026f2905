"""Security events on the ``lms.security`` logger: logins, logouts, password changes and
resets, rate limits, role changes, disabled accounts, refused requests.

One line per event, ``key=value`` pairs after the event name::

    login_failed email=3f1c2a9d0b7e ip=10.0.0.7 path=/login method=POST

Never logged: passwords, tokens, session ids, full e-mail addresses. An e-mail is logged as
the first 12 hex digits of the SHA-256 of the normalised address (:func:`email_id`), so an
operator can check whether a given address was involved without the log holding addresses.
Every value is passed through :func:`clean`: control characters (CR, LF, the other C0 and
C1 characters, Unicode line and paragraph separators, format characters such as bidi
overrides) are written as escapes, so a value a visitor chose (a path, a name) cannot start
a forged log line or hide text; values with spaces, quotes or ``=`` are quoted.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from typing import Any

from flask import Flask, has_request_context, request

log = logging.getLogger("lms.security")

MAX_VALUE = 300  # characters of one value kept in the log
SECRET_ARGS = frozenset({"token", "code"})  # URL parts that are credentials: never logged
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if unicodedata.category(char) in _UNSAFE_CATEGORIES:
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def clean(value: object, limit: int = MAX_VALUE) -> str:
    """``value`` as text fit for one log line: control characters and backslashes escaped,
    cut to ``limit`` characters (marked with ``…``)."""
    text = "" if value is None else str(value)
    cut = len(text) > limit
    escaped = "".join(_escape(char) for char in text[:limit])
    return escaped + "…" if cut else escaped


def _field(value: object) -> str:
    text = clean(value)
    if text == "" or any(char in text for char in ' "='):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def init_app(app: Flask) -> None:
    """Let security events be written: the logger passes INFO and up (unless logging was
    configured for it), and Flask's handler on the ``lms`` logger writes them to standard
    error (gunicorn's error log) unless logging was configured elsewhere."""
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
    app.logger  # noqa: B018 - creating it installs Flask's default handler where none is set


def email_id(email: str | None) -> str:
    """A short fingerprint of an e-mail address (normalised) for the log; "" for none."""
    if not email:
        return ""
    normalised = email.strip().lower()
    return hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def request_path() -> str:
    """The request's path with secret parts (a link's ``token``, a certificate ``code``)
    replaced by their names: ``/reset/<token>``."""
    path = request.path
    args = request.view_args or {}
    for name in SECRET_ARGS & set(args):
        value = str(args[name])
        if value:
            path = path.replace(value, f"<{name}>")
    return path


def _current_user_id() -> int | None:
    """The logged-in user's id; None for visitors, or when it cannot be known (the database
    is down): logging never breaks a request."""
    from flask_login import current_user

    try:
        return current_user.id if current_user and current_user.is_authenticated else None
    except Exception:
        return None


def event(name: str, *, user: Any = None, email: str | None = None, **fields: object) -> None:
    """Log security event ``name`` with the user's id, the e-mail's fingerprint, and the
    client's address, path and method when there is a request. Failures and refusals are
    warnings, the rest info (``level`` overrides)."""
    level: Any = fields.pop("level", None)
    if level is None:
        failed = any(word in name for word in ("failed", "denied", "limited", "refused"))
        level = logging.WARNING if failed else logging.INFO
    values: dict[str, object] = {}
    user_id = getattr(user, "id", user)
    if user_id is not None:
        values["user"] = user_id
    if email is not None:
        values["email"] = email_id(email)
    values.update({key: value for key, value in fields.items() if value is not None})
    if has_request_context():
        actor = _current_user_id()
        if "user" not in values and actor is not None:
            values["user"] = actor
        elif actor is not None and actor != user_id:
            values.setdefault("by", actor)
        values.setdefault("ip", request.remote_addr or "")
        values.setdefault("path", request_path())
        values.setdefault("method", request.method)
    line = " ".join([clean(name), *(f"{key}={_field(value)}" for key, value in values.items())])
    log.log(int(level), "%s", line, extra={"security_event": clean(name)})
