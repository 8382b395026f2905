"""Error pages and JSON errors: a clear message with the right status, never a traceback."""

from __future__ import annotations

import errno
import logging
from typing import Any

from flask import Flask, g, jsonify, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    ServiceUnavailable,
    default_exceptions,
)
from werkzeug.wrappers import Response

from lms.extensions import db
from lms.services import audit
from lms.services.errors import Conflict, DomainError, Forbidden, NotFound, TooLarge

log = logging.getLogger(__name__)

# "No space left on device" and "disk quota exceeded" (the media store, temporary files).
STORAGE_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13  # SQLITE_FULL: "database or disk is full"
POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


def storage_full(error: BaseException) -> bool:
    """Did ``error`` happen because a disk (the media store's or the database's) is full?"""
    if isinstance(error, OSError):
        return error.errno in STORAGE_FULL_ERRNOS
    orig = getattr(error, "orig", None)
    return (
        getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL
        or "database or disk is full" in str(orig)
        or getattr(orig, "sqlstate", None) == POSTGRES_DISK_FULL
    )


def _storage_full_message() -> str:
    return _("The server has run out of storage space. Nothing was saved; try again later.")


# The one mapping of the services' refusals (lms.services.errors) to HTTP statuses: the
# most specific class first; any other DomainError (Invalid among them) is a 400.
DOMAIN_STATUSES: tuple[tuple[type[DomainError], int], ...] = (
    (TooLarge, 413),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
)


def status_of(error: DomainError) -> int:
    """The HTTP status of a service's refusal, for views that show it in their own page
    (a form with the message next to its field)."""
    for kind, status in DOMAIN_STATUSES:
        if isinstance(error, kind):
            return status
    return 400


def http_error(error: DomainError) -> HTTPException:
    """The refusal as the HTTP error :func:`render_error` answers; without a message, the
    status's usual words."""
    exception = default_exceptions[status_of(error)]()
    if error.message:
        exception.description = error.message
    return exception


# Blueprints that answer every error in JSON, whatever the client accepts.
JSON_BLUEPRINTS = frozenset({"api"})
JSON_PREFIX = "/api/"  # an address there that no route matched is answered in JSON too


def _wants_json() -> bool:
    if request.blueprint in JSON_BLUEPRINTS or request.is_json:
        return True
    if request.url_rule is None and request.path.startswith(JSON_PREFIX):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _titles() -> dict[int, str]:
    return {
        400: _("Bad request"),
        403: _("Forbidden"),
        404: _("Not found"),
        405: _("Method not allowed"),
        409: _("Conflict"),
        413: _("Too large"),
        416: _("Range not satisfiable"),
        429: _("Too many requests"),
        500: _("Something went wrong"),
        503: _("Service unavailable"),
    }


def _default_messages() -> dict[int, str]:
    """Our words for Werkzeug's English default descriptions, so they can be translated."""
    return {
        400: _("The request could not be understood. Check what you sent and try again."),
        403: _("You are not allowed to do this."),
        404: _("There is nothing here. Check the address, or go back to the catalog."),
        405: _("This address does not accept this kind of request."),
        409: _("This conflicts with what is already there."),
        413: _("What you sent is too large."),
        416: _("The requested part of the file is outside it."),
        429: _("Too many requests. Wait a moment and try again."),
        500: _("The error was logged."),
        503: _("The service is not available right now. Try again in a moment."),
    }


def _log_refusal(error: HTTPException, code: int | None) -> None:
    """Refused requests on ``lms.security``: every 403 and every CSRF failure. (404s are
    not logged: they are the normal answer to a mistyped address and would drown the rest.)
    """
    if isinstance(error, CSRFError):
        audit.event("csrf_refused", status=code, reason=error.description)
    elif code == 403:
        audit.event("access_denied", status=code)


def render_error(error: HTTPException) -> ResponseReturnValue:
    _log_refusal(error, error.response.status_code if error.response is not None else error.code)
    if error.response is not None:  # a view built its own answer (the JSON API does)
        return error.response, error.response.status_code
    code = error.code or 500
    title = _titles().get(code, error.name)
    message = error.description
    if code == 500 or message == type(error).description:
        message = _default_messages().get(code, message)
    if isinstance(error, CSRFError):
        message = _("The form expired or came from elsewhere. Reload the page and try again.")
    # The error's own headers: Allow on a 405, Retry-After on a 429, Content-Range on a 416.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if _wants_json():
        answer: dict[str, Any] = {"error": title, "message": str(message), "status": code}
        details = getattr(error, "details", None)
        if details is not None:  # an invalid JSON body: one entry per field
            answer["details"] = details
        return jsonify(answer), code, headers
    return render_template("error.html", code=code, title=title, message=message), code, headers


def out_of_space(error: BaseException) -> ResponseReturnValue:
    """A full disk: 503 saying nothing was saved (the caller rolled back), logged as an error."""
    log.error(
        "out of storage space on %s %s: %s",
        request.method,
        audit.clean(audit.request_path()),
        getattr(error, "orig", None) or error,
    )
    return render_error(ServiceUnavailable(_storage_full_message()))


def domain_error(error: DomainError) -> ResponseReturnValue:
    """A service's refusal no view caught: nothing it began is kept; its status (see
    :data:`DOMAIN_STATUSES`), as a page or as JSON like every other error."""
    db.session.rollback()
    return render_error(http_error(error))


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(DomainError, domain_error)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> tuple[Response | str, int]:
        db.session.rollback()
        if storage_full(error):
            return out_of_space(error)
        log.error("database error: %s", error.orig)
        # Answer as to a visitor: the language, the page's menu and the response headers would
        # ask the database about the logged-in user again. Flask-Login's public logout makes
        # this request anonymous (without the user id it loads nobody, so it asks nothing);
        # the session keeps its login, so the next request has it.
        login = dict(session)
        session.pop("_user_id", None)
        logout_user()
        session.clear()
        session.update(login)
        g.database_unavailable = True  # and plugins' slots would ask which camps are on
        return render_error(ServiceUnavailable(_("The database is not reachable right now.")))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response | str, int]:
        log.exception("unhandled error on %s %s", request.method, audit.clean(audit.request_path()))
        db.session.rollback()
        return render_error(InternalServerError())

    @app.errorhandler(OSError)
    def storage_error(error: OSError) -> ResponseReturnValue:
        if not storage_full(error):
            return unexpected(error)
        db.session.rollback()
        return out_of_space(error)
