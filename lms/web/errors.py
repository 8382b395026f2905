"""Error pages and JSON errors: a clear message with the right status, never a traceback."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.wrappers import Response

from lms.extensions import db
from lms.services import audit

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    if request.path.startswith("/api/") or request.is_json:
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


def render_error(error: HTTPException) -> tuple[Response | str, int]:
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
    if _wants_json():
        return jsonify({"error": title, "message": str(message), "status": code}), code
    return render_template("error.html", code=code, title=title, message=message), code


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, render_error)

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> tuple[Response | str, int]:
        log.error("database error: %s", error.orig)
        db.session.rollback()
        return render_error(ServiceUnavailable(_("The database is not reachable right now.")))

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> tuple[Response | str, int]:
        log.exception("unhandled error on %s %s", request.method, audit.clean(audit.request_path()))
        db.session.rollback()
        return render_error(InternalServerError())
