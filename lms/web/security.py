"""Small request-level safety helpers."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.exceptions import SecurityError


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not target or len(target) > 2000:
        return default
    target = target.strip()
    if any(ord(ch) < 32 for ch in target) or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


# URL arguments that are secrets: a page whose address holds one is never stored by a cache.
SECRET_URL_ARGUMENTS = frozenset({"token"})


def no_store_for_secret_urls(response: Response) -> Response:
    """``Cache-Control: no-store`` on every answer to an address carrying a token (reset,
    set-password and invite links, calendar feeds), whatever its status: no browser or proxy
    cache keeps the page, so nobody finds the link in one later."""
    if request.view_args and SECRET_URL_ARGUMENTS.intersection(request.view_args):
        response.headers["Cache-Control"] = "no-store"
    return response


def untrusted_host(_error: SecurityError) -> Response:
    """A Host header outside ``TRUSTED_HOSTS``: a plain 400. No page is rendered, since no
    URL can be built for a host the app does not serve."""
    return Response("Bad request: unknown host name.\n", 400, mimetype="text/plain")


def init_app(app: Flask) -> None:
    app.after_request(no_store_for_secret_urls)
    app.register_error_handler(SecurityError, untrusted_host)
