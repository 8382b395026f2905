"""Flask's signed session cookie, with the checking of a cookie kept per process.

Flask builds a serializer (its HMAC key derived again) and checks a cookie's signature, then
decompresses and parses it, on every request — a sixth of what a logged-in ``/healthz``
costs. A browser sends the same cookie until its session changes, so this interface keeps
the serializer per set of secret keys and, per serializer, what each cookie it verified held
and when it was signed. A cookie seen before is checked again only for its age (the same
``max_age`` rule as itsdangerous'); any other string is verified in full. Only cookies whose
values are all immutable (strings, numbers, booleans, ``None``) are kept, so a request that
changes its session in place cannot change what the next one reads.

What a cookie *means* is not kept: the login behind it is checked against the database on
every request (:func:`lms.services.accounts.user_for_session`), so a cookie copied before
logout still dies at once in every process.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

# How many verified cookies a process keeps per set of keys; past it, it starts again.
MAX_COOKIES = 4096
# Longer cookies are verified every time (sessions here are a few hundred bytes).
MAX_KEPT_LENGTH = 2048
_IMMUTABLE = (str, int, float, bool, type(None))


class SessionCookies(SecureCookieSessionInterface):
    """:class:`flask.sessions.SecureCookieSessionInterface` with its serializers and verified
    cookies kept (see the module's docstring); cookies are read and written the same way."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}
        self._verified: dict[int, dict[str, tuple[int, dict[str, Any]]]] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        found = self._serializers.get(keys)
        if found is None:
            found = super().get_signing_serializer(app)
            if found is None:  # pragma: no cover - a secret key is set above
                return None
            if len(self._serializers) >= 16:  # keys changed again and again (tests)
                self._serializers.clear()
                self._verified.clear()
            self._serializers[keys] = found
            self._verified[id(found)] = {}
        return found

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        verified = self._verified.get(id(serializer))
        kept = verified.get(value) if verified is not None else None
        if kept is not None:
            age = int(time.time()) - kept[0]
            if 0 <= age <= max_age:  # itsdangerous' rule: expired past max_age, or if < 0
                return self.session_class(kept[1])
        try:
            data, signed = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if (
            verified is not None
            and len(value) <= MAX_KEPT_LENGTH
            and isinstance(data, dict)
            and all(isinstance(item, _IMMUTABLE) for item in data.values())
        ):
            if len(verified) >= MAX_COOKIES:
                verified.clear()
            verified[value] = (int(signed.timestamp()), data)
        return self.session_class(data)


def init_app(app: Flask) -> None:
    app.session_interface = SessionCookies()
