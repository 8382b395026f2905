"""The CSRF token pages carry: one signature of a session's token, reused for a minute.

Flask-WTF keeps a random token in the session and hands pages a signed copy of it
(``generate_csrf``), signed again on every request that renders a form or the layout: an
HMAC with a key derived again each time, about a twelfth of a catalog page. Any signed
copy of the session's token is as good as another: Flask-WTF checks the signature, that
the copy holds the session's token, and, when ``WTF_CSRF_TIME_LIMIT`` is set, its age.
So a process keeps the copy it signed for each session token and hands it out again for
:data:`REUSE_SECONDS` (a page's token is then at most that much older than the page, which
only matters with a time limit, and then by a minute of it).

Nothing is kept that the browser does not already hold: the cache maps a session token and
the signing key to the signed copy sent with its pages. A new login starts a new session
token (:func:`lms.web.auth.log_in`).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from flask import Flask, current_app, g, request, session
from werkzeug.wrappers import Response

REUSE_SECONDS = 60
PAGE_METHODS = frozenset({"GET", "HEAD"})
# Signed tokens a process keeps; past it, it starts again.
MAX_KEPT = 4096

_signed: dict[tuple[Any, str], tuple[float, str]] = {}


def init_app(app: Flask, static_endpoints: Collection[str] = ()) -> None:
    """Reuse recent signatures (after ``CSRFProtect.init_app``). Requests for
    ``static_endpoints`` (files, the same for everyone) leave the session be."""

    @app.before_request
    def _reuse() -> None:
        # Pages are GETs (a POST that shows its form again signs anew); a JSON call or a
        # file has no token to hand out.
        if (
            request.method in PAGE_METHODS
            and request.endpoint not in static_endpoints
            and session  # (its len(): not an access)
        ):
            reuse_recent_signature()

    @app.after_request
    def _keep(response: Response) -> Response:
        keep_signature()
        return response


def reuse_recent_signature() -> None:
    """Before a request: if this session's token was signed less than a minute ago, the
    request hands out that signature (Flask-WTF's ``generate_csrf`` answers what the request
    holds in ``g`` under the field's name: the layout's token and the views' forms alike)."""
    key = _key()
    if key is None:
        return
    g.lms_csrf_key = key  # what the request started with
    found = _signed.get(key)
    if found is None:
        return
    if time.monotonic() - found[0] >= REUSE_SECONDS:
        _signed.pop(key, None)
        return
    setattr(g, current_app.config["WTF_CSRF_FIELD_NAME"], found[1])
    g.lms_csrf_reused = True


def keep_signature() -> None:
    """After a request that signed its session's token: keep the signature — unless the
    session's token changed during the request (a log-in starts a new one), when what the
    request signed may be of the old one."""
    started_with = g.get("lms_csrf_key")
    if started_with is None or g.get("lms_csrf_reused"):
        return
    token = g.get(current_app.config["WTF_CSRF_FIELD_NAME"])
    if not isinstance(token, str) or _key() != started_with:
        return
    if len(_signed) >= MAX_KEPT:
        _signed.clear()
    _signed[started_with] = (time.monotonic(), token)


def _key() -> tuple[Any, str] | None:
    """The session's CSRF token with the key that signs it, or None before it has one."""
    config = current_app.config
    raw = session.get(config["WTF_CSRF_FIELD_NAME"])
    if not isinstance(raw, str) or not raw:
        return None
    return (config.get("WTF_CSRF_SECRET_KEY") or current_app.secret_key, raw)
