"""The app's request class and the request body limits.

**Body limits**: ``MAX_CONTENT_LENGTH`` is small (1 MiB); the endpoints in
:data:`BODY_ALLOWANCES` (video, caption and CSV uploads) raise it for themselves through
Flask's ``request.max_content_length``. A larger body is a 413 before it is read.

**Form parsing for form bodies only**: a JSON body's ``request.form`` is empty at once.

**The WTForms message catalog, loaded once per locale**.
Flask-WTF translates WTForms' own messages ("This field is required.") with a catalog it
reads from disk on every request that uses a form (it keeps it on the request only). The
catalogs never change while the app runs, so this request class hands Flask-WTF one loaded
catalog per locale for the life of the process.
"""

from __future__ import annotations

from functools import cache

from babel import support
from flask import Flask, current_app, request
from flask import Request as FlaskRequest
from flask_babel import get_locale
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.utils import cached_property
from wtforms.i18n import messages_path


@cache
def wtforms_catalog(locale: str) -> support.Translations | support.NullTranslations:
    """WTForms' messages for ``locale`` (a Babel locale name), read from disk once."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


# The bodies Werkzeug's form parser reads; any other (JSON) is left to ``get_data``.
FORM_MIMETYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


class Request(FlaskRequest):
    @property
    def want_form_data_parsed(self) -> bool:
        """Only form bodies are parsed for ``request.form``: for JSON, Werkzeug would build
        a parser to learn that it has no fields (Flask-WTF looks there for the CSRF token of
        every API call). Either way the form is then empty and the body left to read."""
        return self.mimetype in FORM_MIMETYPES

    @cached_property
    def wtforms_translations(self) -> support.Translations | support.NullTranslations:
        """Read by ``flask_wtf.i18n`` before it would load the catalog itself."""
        return wtforms_catalog(str(get_locale()))


# Endpoints whose requests may be larger than ``MAX_CONTENT_LENGTH``, with the config key of
# their own limit. Everything else (forms, the JSON API, log-in) gets the small global limit,
# so no anonymous request can make the app spool a large body to disk.
BODY_ALLOWANCES: dict[str, str] = {
    "teach.upload_video": "MAX_VIDEO_UPLOAD_LENGTH",
    "teach.library": "MAX_VIDEO_UPLOAD_LENGTH",
    "teach.add_captions": "MAX_FILE_UPLOAD_LENGTH",
    "organizations.import_staff": "MAX_FILE_UPLOAD_LENGTH",
    "organizations.confirm_import": "MAX_FILE_UPLOAD_LENGTH",
    "organizations.import_links": "MAX_FILE_UPLOAD_LENGTH",
}


def body_limit(endpoint: str | None) -> int | None:
    """The most bytes a request to ``endpoint`` may send: its allowance, else the global
    ``MAX_CONTENT_LENGTH`` (None: no limit)."""
    key = BODY_ALLOWANCES.get(endpoint or "")
    return current_app.config[key] if key else current_app.config["MAX_CONTENT_LENGTH"]


def limit_body() -> None:
    """Before anything reads the body: apply this endpoint's limit, and refuse a declared
    ``Content-Length`` above it with 413 at once. A chunked body without a length is cut by
    Werkzeug when it passes the limit (413 too)."""
    limit = body_limit(request.endpoint)
    request.max_content_length = limit
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def refuse_nul_in_query() -> None:
    """A NUL character in the query string is a 400: PostgreSQL stores no NUL in text, so a
    search for one would otherwise fail in the database (found by tests/test_sweep_get.py)."""
    if b"%00" in request.query_string or b"\x00" in request.query_string:
        raise BadRequest()


def init_app(app: Flask) -> None:
    """Run :func:`limit_body` first of all ``before_request`` functions (CSRF reads the form),
    then :func:`refuse_nul_in_query`."""
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_nul_in_query)
    app.before_request_funcs[None].insert(0, limit_body)
