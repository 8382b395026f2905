"""Camp LMS: a Flask learning management system whose camps are pluggy plugins.

Plugins import from :mod:`lms.api` only (``hookimpl``, ``Camp``, ``EnrollmentDecision``, …);
the same names stay importable from ``lms`` for older plugins.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy
from flask import Flask, abort, has_request_context, request, send_from_directory, session
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from lms.camp import Camp, EnrollmentDecision
from lms.models._base import MAX_INTEGER
from lms.services.settings import plugin_settings
from lms.services.text import protect_names
from lms.slots import Fragment, render_fragment

__version__ = "0.1.0"
__all__ = [
    "Camp",
    "EnrollmentDecision",
    "Fragment",
    "__version__",
    "create_app",
    "hookimpl",
    "plugin_settings",
    "render_fragment",
]

hookimpl = pluggy.HookimplMarker("lms")

# Endpoints serving the same bytes to everyone: cacheable even for logged-in users.
PUBLIC_ASSETS = frozenset({"static", "camp_static", "plugin_static", "catalog.camp_colors"})

# Sent with every response that does not set its own, in this order.
SECURITY_HEADERS = tuple(
    (name, name.lower(), value)
    for name, value in (
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        (
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        ),
    )
)

log = logging.getLogger(__name__)


class App(Flask):
    """Flask, with the check of whether a view or hook is ``async`` made once per function:
    Flask makes it (``inspect.iscoroutinefunction``) for each of a dozen hooks on every
    request. ``ensure_sync`` is Flask's documented place to change this."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synchronous: set[Any] = set()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            if func in self._synchronous:
                return func
        except TypeError:  # an unhashable callable: checked every time
            return super().ensure_sync(func)
        checked = super().ensure_sync(func)
        if checked is func and len(self._synchronous) < 4096:  # (registered functions)
            self._synchronous.add(func)
        return checked


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config, extensions, plugins, blueprints. Nothing runs at import time."""
    from lms import cache, config
    from lms.database import configure_postgresql, configure_sqlite
    from lms.extensions import babel, csrf, db, migrate
    from lms.plugins import PluginRegistry
    from lms.services import audit, loading, switches
    from lms.services import plugins as plugin_service
    from lms.web import csrf_tokens, register_blueprints, session_cookie
    from lms.web import request as request_limits
    from lms.web.request import Request

    instance = config.instance_path()
    app = App(
        __name__,
        instance_path=str(instance),
        instance_relative_config=True,
        template_folder=str(config.ROOT / "templates"),
        static_folder=str(config.ROOT / "static"),
    )
    app.request_class = Request
    session_cookie.init_app(app)  # the signed cookie, its verification kept per process
    request_limits.init_app(app)  # body limits: 1 MiB, more for the upload endpoints
    config.load(app.config, test_config)  # raises ConfigurationError when unsafe
    if not app.config.get("SECRET_KEY"):
        log.warning("no SECRET_KEY configured; run `lms init`. Using a temporary key.")
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    hops = config.proxy_hops(app.config.get("PROXY_FIX") or 0)
    if hops:
        # Only behind proxies we run (nginx): the client's address and scheme come from their
        # X-Forwarded-For/-Proto, so rate limits see learners, not the proxy.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]  # Flask's documented way to add WSGI middleware

    registry = PluginRegistry(
        strict=bool(app.config["PLUGINS_STRICT"]),
        only=config.parse_plugin_list(app.config["LOAD_PLUGINS"]),
    )
    registry.disabled_camps = switches.disabled_camps
    registry.disabled_plugins = switches.disabled_plugins
    registry.on_failure = plugin_service.note_failure
    registry.prepare_arguments = loading.for_hook_arguments
    registry.load_entry_points()
    for name, plugin in app.config.get("EXTRA_PLUGINS", {}).items():
        registry.register(name, plugin)
    app.extensions["lms.plugins"] = registry

    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        [str(Path(__file__).parent / "translations")]
        + [str(p) for p in registry.translation_folders()]
    )
    plugin_service.init_app(app)  # before db: its teardown must run after the session's
    db.init_app(app)
    protect_names(db.Model)  # no bidi or invisible characters in stored names
    with app.app_context():
        configure_sqlite(db.engine)
        configure_postgresql(db.engine)
    _init_transactions(app)
    cache.init_app(app)
    _init_static_versions(app)
    migrate.init_app(
        app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True
    )
    csrf.init_app(app)
    csrf_tokens.init_app(app, static_endpoints=PUBLIC_ASSETS)  # one signature a minute
    audit.init_app(app)  # the lms.security log (logins, refusals…) is written
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=lambda: None)
    _init_login(app)
    _init_templates(app, registry)
    app.url_map.converters["int"] = DatabaseId
    register_blueprints(app)
    _register_plugin_blueprints(app, registry)
    for _name, command in registry.collect("lms_cli_commands"):
        app.cli.add_command(command)

    @app.get("/camps-static/<slug>/<path:filename>")
    def camp_static(slug: str, filename: str) -> Any:
        folder = registry.static_folder(slug)
        if folder is None or slug in switches.disabled_camps():
            abort(404)
        return send_from_directory(folder, filename)

    @app.get("/plugins-static/<name>/<path:filename>")
    def plugin_static(name: str, filename: str) -> Any:
        folder = registry.plugin_static_folder(name)
        if folder is None or not registry.is_active(name):
            abort(404)
        return send_from_directory(folder, filename)

    @app.after_request
    def _headers(response: Any) -> Any:
        headers = response.headers
        present = {name.lower() for name, _value in headers.items()}
        for name, lowered, value in SECURITY_HEADERS:  # unless the view set its own
            if lowered not in present:
                headers.add(name, value)
        if (
            request.endpoint not in PUBLIC_ASSETS
            and "no-store" not in response.headers.get("Cache-Control", "")
            and current_user
            and current_user.is_authenticated
        ):  # (already no-store: no need to load the user, which nginx's authorize never does)
            response.headers["Cache-Control"] = "no-store"
        return response

    return app


def _init_transactions(app: Flask) -> None:
    """Tell the SQLite ``begin`` event whether this request's transactions may write."""
    from lms.database import mark_request_transactions

    def _mark() -> None:
        mark_request_transactions(request.method)

    def _unmark(_exc: BaseException | None) -> None:
        from flask import g

        g.pop("lms_read_only", None)

    # First of all before_request functions: they may already query the database.
    app.before_request_funcs.setdefault(None, []).insert(0, _mark)
    app.teardown_request(_unmark)


def _init_static_versions(app: Flask) -> None:
    """``url_for('static', …)`` adds ``?v=<content hash>``, so nginx may cache for good."""
    import hashlib

    hashes: dict[tuple[str, int], str] = {}
    released: dict[str, str] = {}  # filename: hash, outside debug mode
    folder = Path(app.static_folder or "")

    @app.url_defaults
    def _static_version(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint != "static" or "v" in values or "filename" not in values:
            return
        filename = values["filename"]
        if not app.debug and filename in released:
            # Static files, like templates, change with a release (a restart): a running
            # process hashes each once. In debug mode they are checked on every link.
            values["v"] = released[filename]
            return
        path = folder / filename
        try:
            key = (str(path), path.stat().st_mtime_ns)
            if key not in hashes:
                hashes[key] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        except OSError:  # no such file: the URL stays as it is
            return
        values["v"] = released[filename] = hashes[key]


class DatabaseId(IntegerConverter):
    """``<int:…>`` in URLs, bounded to the database's integer keys: bigger numbers are 404."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_INTEGER)
        super().__init__(url_map, *args, **kwargs)


def format_duration(seconds: float) -> str:
    """``754.2`` → ``"12:34"``; an hour or more → ``"1:02:03"``."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _select_locale() -> str | None:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # the CLI, jobs: the academy's default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("locale") in languages:
        return session["locale"]
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    if best is None:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return "zh_CN" if best.startswith("zh") else best


def _init_login(app: Flask) -> None:
    from flask_babel import lazy_gettext

    from lms.extensions import login_manager
    from lms.web.auth import load_user, session_identifier

    login_manager.init_app(app)
    login_manager._session_identifier_generator = session_identifier  # type: ignore[attr-defined]  # Flask-Login's own hook for it, kept per address and agent
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)  # live logins only: revoked, idle, too old are out


def _init_templates(app: Flask, registry: Any) -> None:
    from flask_babel import get_locale
    from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader

    from lms.models._base import academy_timezone
    from lms.services.catalog import can_edit, level_label
    from lms.services.lessons import render_markdown
    from lms.services.live import local as local_time
    from lms.services.live import place_label
    from lms.services.site import site_name
    from lms.slots import render_slot

    if registry.template_folders():
        loaders: list[BaseLoader] = [FileSystemLoader(str(p)) for p in registry.template_folders()]
        if app.jinja_loader is not None:  # the core's templates/ first
            loaders.insert(0, app.jinja_loader)
        app.jinja_loader = ChoiceLoader(loaders)

    _install_translations_lookup(app)
    app.add_template_filter(format_duration, "duration")
    app.add_template_filter(level_label, "level")
    app.add_template_filter(render_markdown, "markdown")  # lessons' text, sanitized
    app.add_template_global(site_name, "site_name")
    app.add_template_filter(place_label, "place")
    app.add_template_global(render_slot, "slot")

    app.add_template_global(local_time, "local")

    @app.template_global("can_edit")
    def _can_edit(course: Any) -> bool:
        return can_edit(current_user, course)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        locale = get_locale()
        return {
            "current_language": "en" if locale and locale.language == "en" else "zh",
            "academy_timezone": academy_timezone(),
        }


def _install_translations_lookup(app: Flask) -> None:
    """Templates' ``_()``, ``gettext()``, ``ngettext()``… find the catalog once per request
    and locale, and cost one call each.

    Flask-Babel's own callables look the domain, the locale and the catalog up again for every
    string of a page, and Jinja's newstyle wrappers add two calls more. Here the catalog is
    kept in ``g`` with the locale it is for, so a ``force_locale`` block (a mail in its
    reader's language) still gets its own; each function does what Jinja's newstyle ones do
    (the result ``Markup`` when autoescaping, always ``%``-formatted with its variables).
    """
    from flask import g, has_app_context
    from flask_babel import get_translations
    from jinja2 import pass_context
    from jinja2.runtime import Context
    from markupsafe import Markup

    from lms.i18n import locale_in

    def translations() -> Any:
        if not has_app_context():
            return get_translations()
        kept = g._get_current_object()
        locale = locale_in(kept)
        found = kept.get("lms_translations")
        if found is None or found[0] is not locale:
            found = kept.lms_translations = (locale, get_translations())
        return found[1]

    @pass_context
    def gettext(context: Context, string: str, /, **variables: Any) -> str:
        text = translations().ugettext(string)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - as Jinja's newstyle gettext
        return text % variables

    @pass_context
    def ngettext(
        context: Context, singular: str, plural: str, num: int, /, **variables: Any
    ) -> str:
        variables.setdefault("num", num)
        text = translations().ungettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - as Jinja's newstyle ngettext
        return text % variables

    @pass_context
    def pgettext(context: Context, string_context: str, string: str, /, **variables: Any) -> str:
        variables.setdefault("context", string_context)
        text = translations().upgettext(string_context, string)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - as Jinja's newstyle pgettext
        return text % variables

    @pass_context
    def npgettext(
        context: Context,
        string_context: str,
        singular: str,
        plural: str,
        num: int,
        /,
        **variables: Any,
    ) -> str:
        variables.setdefault("context", string_context)
        variables.setdefault("num", num)
        text = translations().unpgettext(string_context, singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup(text)  # noqa: S704 - as Jinja's newstyle npgettext
        return text % variables

    env = app.jinja_env
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by Jinja's i18n extension
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
    # …then the same callables without Jinja's wrappers (``_`` was an alias of ``gettext``).
    env.globals.update(
        _=gettext, gettext=gettext, ngettext=ngettext, pgettext=pgettext, npgettext=npgettext
    )


def _register_plugin_blueprints(app: Flask, registry: Any) -> None:
    for plugin_name, blueprint in registry.collect("lms_blueprints"):
        try:
            app.register_blueprint(blueprint)
        except (ValueError, AssertionError) as exc:
            registry.record_failure(plugin_name, f"blueprint {blueprint.name!r}: {exc}")
            continue
        registry.blueprint_plugin[blueprint.name] = plugin_name

    @app.before_request
    def _disabled_plugin_pages_404() -> None:
        plugin_name = registry.blueprint_plugin.get(request.blueprint or "")
        if plugin_name is not None and not registry.is_active(plugin_name):
            abort(404)
