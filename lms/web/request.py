"""The app's request class: the WTForms message catalog loaded once per locale.

Flask-WTF translates WTForms' own messages ("This field is required.") with a catalog it
reads from disk on every request that uses a form (it keeps it on the request only). The
catalogs never change while the app runs, so this request class hands Flask-WTF one loaded
catalog per locale for the life of the process.
"""

from __future__ import annotations

from functools import cache

from babel import support
from flask import Request as FlaskRequest
from flask_babel import get_locale
from werkzeug.utils import cached_property
from wtforms.i18n import messages_path


@cache
def wtforms_catalog(locale: str) -> support.Translations | support.NullTranslations:
    """WTForms' messages for ``locale`` (a Babel locale name), read from disk once."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class Request(FlaskRequest):
    @cached_property
    def wtforms_translations(self) -> support.Translations | support.NullTranslations:
        """Read by ``flask_wtf.i18n`` before it would load the catalog itself."""
        return wtforms_catalog(str(get_locale()))
