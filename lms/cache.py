"""Caching of data that is the same for every user and cheap to invalidate.

With ``REDIS_URL`` set, values live in Redis through Flask-Caching's ``RedisCache``, shared by
every app process, so a change made in one process is seen by all on their next request.
Without Redis there is no cross-request cache at all (a process-local one would make processes
disagree), only memoization for the current request in :data:`flask.g`.

Invalidation is automatic: a commit that inserted, changed or deleted rows of a watched table
(through the ORM or a Core statement run on the session) invalidates the caches built from it,
in every process. Each cached value carries the version of its name; invalidating increments
the version, so a value computed from data read before a change can never be served after it
(apart from a value written from a snapshot older than the change, which expires after
``CACHE_TIMEOUT`` seconds). Redis being unreachable is logged and the data is read from the
database instead: the cache can slow nothing down for longer than a second and break nothing.

**Per-process caches behind versions** (:func:`versioned`). The row of ``cache_versions``
(:class:`lms.models.CacheVersion`) holds counters, each raised **in the same transaction** as
any write to the tables it stands for (:data:`VERSIONED`; an engine event sees every
``INSERT``/``UPDATE``/``DELETE`` of the ORM, of ``session.execute`` and of bare connections).
Each request reads the counters once, in the login's statement (or alone when nobody is
logged in), and a process re-reads a value it keeps only when its counter moved. So a value
is never older than the request's read of the counters, in any process, with or without
Redis. ``FAST_PATHS = False`` turns these caches off (every value read from the database):
the general path the tests compare the fast one with.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, g, has_app_context, has_request_context, request, session
from flask_caching import Cache
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import Engine, event, inspect, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.dml import UpdateBase

from lms.database import dialect_insert
from lms.i18n import locale_in
from lms.models.versions import CacheVersion

log = logging.getLogger(__name__)
T = TypeVar("T")

# Cached names and the tables they are built from.
DEPENDENCIES: dict[str, frozenset[str]] = {
    "plugins.switched_off": frozenset({"camps", "plugin_states"}),
    "catalog.lesson_totals": frozenset({"courses", "modules", "lessons"}),
}
WATCHED_TABLES = frozenset().union(*DEPENDENCIES.values())
# How long to leave Redis alone after it failed, seconds.
BACKOFF_SECONDS = 5.0
_STALE = "lms_stale_caches"


class SharedCache:
    """One app's Redis-backed cache (Flask-Caching), with a short back-off when Redis fails."""

    def __init__(self, app: Flask, redis_url: str) -> None:
        self.cache = Cache(
            app,
            config={
                "CACHE_TYPE": "RedisCache",
                "CACHE_REDIS_URL": redis_url,
                "CACHE_KEY_PREFIX": key_prefix(app),
                "CACHE_DEFAULT_TIMEOUT": int(app.config["CACHE_TIMEOUT"]),
                "CACHE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            },
        )
        self.app = app
        self.down_until = 0.0

    def _available(self) -> bool:
        return time.monotonic() >= self.down_until

    def _failed(self, action: str, exc: Exception) -> None:
        log.warning("cache: Redis %s failed (%s); reading the database", action, exc)
        self.down_until = time.monotonic() + BACKOFF_SECONDS

    def get(self, name: str, load: Callable[[], T]) -> T:
        if not self._available():
            return load()
        backend = self.cache.cache
        try:
            version, entry = backend.get_many(f"{name}:version", name)
        except Exception as exc:
            self._failed("read", exc)
            return load()
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == version:
            return entry[1]
        value = load()
        try:
            backend.set(name, (version, value))
        except Exception as exc:
            self._failed("write", exc)
        return value

    def invalidate(self, names: Iterable[str]) -> None:
        backend = self.cache.cache
        for name in names:
            try:
                backend.inc(f"{name}:version")
            except Exception as exc:
                # Other processes keep their value until it expires (CACHE_TIMEOUT).
                log.error("cache: could not invalidate %s in Redis: %s", name, exc)
                self.down_until = time.monotonic() + BACKOFF_SECONDS


def key_prefix(app: Flask) -> str:
    """``lms:<digest>:``, the digest naming the database (password left out), so deployments
    or test databases sharing one Redis never read each other's values."""
    explicit = app.config.get("CACHE_KEY_PREFIX")
    if explicit:
        return str(explicit)
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)
    options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("connect_args", {})
    digest = hashlib.sha256(f"{url} {sorted(options.items())}".encode()).hexdigest()[:12]
    return f"lms:{digest}:"


def init_app(app: Flask) -> None:
    """A shared cache when Redis is configured (``CACHE_REDIS_URL``, default ``REDIS_URL``);
    this app's per-process caches, and the versions raised by its engine's writes."""
    from lms.extensions import db

    url = app.config.get("CACHE_REDIS_URL", app.config.get("REDIS_URL"))
    app.extensions["lms.cache"] = SharedCache(app, url) if url else None
    app.extensions["lms.versioned"] = {}
    app.extensions["lms.layout"] = {}
    app.add_template_global(fragment, "fragment")
    app.add_template_global(layout_fragment, "layout_fragment")
    app.add_template_global(fixed_url, "fixed_url")
    _watch_sessions()
    with app.app_context():
        watch_engine(db.engine)


def shared_cache() -> SharedCache | None:
    return current_app.extensions.get("lms.cache")


def cached(name: str, load: Callable[[], T]) -> T:
    """The value of ``name`` for this request: from Redis when configured, else ``load()``.

    Memoized for the rest of the request (or app context) either way.
    """
    memo = g.setdefault("lms_cache", {})
    if name not in memo:
        shared = shared_cache()
        memo[name] = shared.get(name, load) if shared is not None else load()
    return memo[name]


def invalidate(*names: str) -> None:
    """Forget ``names`` here and, with Redis, in every process (their next read reloads)."""
    if not has_app_context():
        return
    memo = g.get("lms_cache")
    for name in names:
        if memo is not None:
            memo.pop(name, None)
    shared = shared_cache()
    if shared is not None:
        shared.invalidate(names)


def names_for_tables(tables: Iterable[str]) -> set[str]:
    touched = set(tables)
    return {name for name, sources in DEPENDENCIES.items() if sources & touched}


# Session events: note which watched tables a transaction changed; invalidate after commit.


def _note(session: Session, tables: Iterable[str]) -> None:
    names = names_for_tables(tables)
    if names:
        session.info.setdefault(_STALE, set()).update(names)


def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    tables = set()
    changed = [obj for obj in session.dirty if session.is_modified(obj, include_collections=False)]
    for obj in (*session.new, *changed, *session.deleted):
        table = getattr(inspect(obj).mapper.local_table, "name", None)
        if table in WATCHED_TABLES:
            tables.add(table)
    _note(session, tables)


def _orm_execute(state: ORMExecuteState) -> None:
    if state.is_select:
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name in WATCHED_TABLES:
        _note(state.session, {name})


def _after_commit(session: Session) -> None:
    names = session.info.pop(_STALE, None)
    if names:
        invalidate(*names)


# No clearing on rollback: a rolled-back change only costs one needless invalidation later.
_LISTENERS: list[tuple[str, Any]] = [
    ("before_flush", _before_flush),
    ("do_orm_execute", _orm_execute),
    ("after_commit", _after_commit),
]


def _watch_sessions() -> None:
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


# Per-process caches behind the versions of ``cache_versions``.

# Each counter of the row and the tables whose writes raise it.
VERSIONED: dict[str, frozenset[str]] = {
    "switches": frozenset({"camps", "plugin_states"}),
    "content": frozenset({"camps", "courses", "modules", "lessons", "media_assets", "captions"}),
}
COUNTERS_OF: dict[str, frozenset[str]] = {
    table: frozenset(counter for counter, tables in VERSIONED.items() if table in tables)
    for table in frozenset().union(*VERSIONED.values())
}
# A process keeps at most this many values; past it, it starts again from nothing.
MAX_VALUES = 20_000
_RAISED = "lms_raised_versions"  # on a connection: counters raised in its transaction
_RAISED_ANY = "lms_raised_any"  # …and whether any was, savepoints rolled back or not
_VERSIONS = CacheVersion.__table__
READ_VERSIONS = select(_VERSIONS.c.switches, _VERSIONS.c.content).where(_VERSIONS.c.id == 1)


@dataclass(frozen=True)
class Versions:
    """The counters as this request read them (None: no row, nothing is cached)."""

    switches: int | None = None
    content: int | None = None


NO_VERSIONS = Versions()


def fast_paths() -> bool:
    """Are the per-process caches and the fast paths on (``FAST_PATHS``, default True)?"""
    return bool(current_app.config.get("FAST_PATHS", True))


def shared_objects() -> bool:
    """May this request use ORM objects the process keeps (:func:`detached`)? Only with the
    fast paths on, in a read-only (GET, HEAD) request that wrote nothing: nothing there
    attaches, changes or commits an object, which other threads read at the same time."""
    from lms.database import read_only_transaction

    return fast_paths() and read_only_transaction() and not g.get("lms_versions_raised")


def detached(load: Callable[[Session], T]) -> T:
    """``load(session)`` run in a private session on the request's own connection (and
    transaction), closed afterwards: the objects it returns are fully loaded and detached,
    fit to be kept by the process and read by any request. ``load`` must load eagerly all
    that readers use (and set the back-references), as a detached object loads nothing."""
    from lms.extensions import db

    private = Session(bind=db.session.connection(), autoflush=False)
    try:
        return load(private)
    finally:
        private.close()


def note_versions(switches: int | None, content: int | None) -> None:
    """The counters, read by the login's statement: this request's versions."""
    if "lms_versions" not in g:
        g.lms_versions = Versions(switches, content)


def current_versions() -> Versions:
    """The counters for this request, read once: with the login when someone is logged in
    (one statement for both), else alone."""
    found = g.get("lms_versions")
    if found is not None:
        return found
    if has_request_context() and "_user_id" in session and "_login_user" not in g:
        current_user._get_current_object()  # the user loader reads the versions too
        found = g.get("lms_versions")
        if found is not None:
            return found
    from lms.extensions import db

    row = db.session.connection().execute(READ_VERSIONS).first()
    g.lms_versions = Versions(*row) if row is not None else NO_VERSIONS
    return g.lms_versions


def versioned(name: str, counter: str, load: Callable[[], T], key: Any = None) -> T:
    """``load()``'s value, kept by this process while ``counter`` (a key of
    :data:`VERSIONED`) stays where this request read it; memoized for the request.

    Read from the database every time when ``FAST_PATHS`` is off, when there is no versions
    row, and in a transaction that already wrote what the counter stands for (until it ends).
    """
    glob = g._get_current_object()  # (pages call this often: each proxy costs)
    memo = glob.setdefault("lms_cache", {})
    slot = (name, key)
    if slot in memo:
        return memo[slot]
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one look-up
    if not app.config.get("FAST_PATHS", True) or glob.get("lms_versions_raised"):
        value = memo[slot] = load()
        return value
    version = getattr(glob.get("lms_versions") or current_versions(), counter)
    if version is None:
        value = memo[slot] = load()
        return value
    store: dict[tuple[str, Any], tuple[tuple[str, int], Any]] = app.extensions["lms.versioned"]
    kept = store.get(slot)
    if kept is not None and kept[0] == (counter, version):
        memo[slot] = kept[1]
        return kept[1]
    value = load()
    if len(store) >= MAX_VALUES:
        store.clear()
    store[slot] = ((counter, version), value)
    memo[slot] = value
    return value


class _Rendering:
    """What kept blocks need, found once per request (:func:`_rendering`)."""

    __slots__ = ("globals", "keep", "language", "layout", "locale", "root")

    def __init__(self, globals_: Any, keep: bool, root: str, layout: dict[Any, Any]) -> None:
        self.globals, self.keep, self.root, self.layout = globals_, keep, root, layout
        self.locale: object = None
        self.language = ""

    def current_language(self) -> str:
        """The request's locale as a string, worked out again only when the locale changed
        (``force_locale``)."""
        locale = locale_in(self.globals)
        if locale is not self.locale:
            self.locale, self.language = locale, str(locale)
        return self.language


def _rendering() -> _Rendering:
    """This request's rendering: whether rendered blocks are kept (the fast paths on, and not
    in debug mode, where templates and static files change under a running app), the app's
    root URL and the layout's store."""
    glob = g._get_current_object()
    found: _Rendering | None = glob.get("lms_rendering")
    if found is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # one look-up
        found = glob.lms_rendering = _Rendering(
            glob,
            bool(app.config.get("FAST_PATHS", True)) and not app.debug,
            request.script_root if has_request_context() else "",
            app.extensions["lms.layout"],
        )
    return found


# Marks a hole while a fragment with holes renders (a process's own: no text holds it).
_HOLE = f"<!--hole-{secrets.token_hex(8)}-->"


def fragment(
    name: str,
    *key: Any,
    caller: Callable[..., Markup],
    holes: Callable[[Any], Markup] | None = None,
) -> Markup:
    """A template's ``{% call fragment("name", key…) %}…{% endcall %}``: the block's HTML,
    rendered once per process for ``key``, the reader's language and the app's root URL while
    the ``content`` version stays; render only what every reader sees alike inside it (each
    learner's progress goes after it: a hole in the fragment).

    With ``holes``, the holes are inside: ``{% call(hole) fragment("name", key…,
    holes=fill) %}…{{ hole(x) }}…{% endcall %}`` keeps the HTML around each ``hole(x)``,
    and every request fills the holes with ``fill(x)`` (a macro: a learner's progress on a
    card among many). ``x`` is kept with the HTML: it must say nothing of the reader (an
    index, an id), and ``fill`` finds the reader's part from it. Fragments with holes do not
    nest other fragments."""
    rendering = _rendering()
    if not rendering.keep:
        return caller() if holes is None else caller(holes)
    slot = (key, rendering.current_language(), rendering.root)
    if holes is None:
        # The caller is the template's block: it returns Markup, escaped as the template says.
        return versioned(f"fragment:{name}", "content", caller, key=slot)
    first, filled = versioned(f"fragment:{name}", "content", lambda: _with_holes(caller), key=slot)
    parts = [first]
    for argument, after in filled:
        parts.append(holes(argument))
        parts.append(after)
    return Markup("".join(parts))  # noqa: S704 - the template's own escaped output


def _with_holes(caller: Callable[..., Markup]) -> tuple[str, tuple[tuple[Any, str], ...]]:
    """The block's HTML cut at its holes: the part before the first, then each hole's
    argument with the part after it."""
    arguments: list[Any] = []

    def hole(argument: Any) -> Markup:
        arguments.append(argument)
        return Markup(_HOLE)  # noqa: S704 - a constant comment

    first, *after = str(caller(hole)).split(_HOLE)
    return first, tuple(zip(arguments, after, strict=True))


def layout_fragment(name: str, *key: Any, caller: Callable[[], Markup]) -> Markup:
    """``{% call layout_fragment("name", key…) %}``: a block of the layout that reads no
    database (links, menus, translated words), rendered once per process for ``key``, the
    language and the root URL. ``key`` must hold everything the block depends on."""
    rendering = _rendering()
    if not rendering.keep:
        return caller()
    store: dict[Any, Markup] = rendering.layout
    slot = (name, key, rendering.current_language(), rendering.root)
    found = store.get(slot)
    if found is None:
        if len(store) >= MAX_VALUES:
            store.clear()
        found = store[slot] = caller()
    return found


def fixed_url(endpoint: str, **values: Any) -> str:
    """``url_for(endpoint, **values)`` for a link that depends on nothing but its arguments
    and the app's root URL (a stylesheet, the log-out form's action): built once per process
    (with the fast paths on, outside debug mode, as :func:`layout_fragment`)."""
    from flask import url_for

    rendering = _rendering()
    if not rendering.keep:
        return url_for(endpoint, **values)
    store: dict[Any, str] = rendering.layout
    slot = ("url", endpoint, tuple(sorted(values.items())), rendering.root)
    found = store.get(slot)
    if found is None:
        if len(store) >= MAX_VALUES:
            store.clear()
        found = store[slot] = url_for(endpoint, **values)
    return found


def _raise_statement(dialect: str, counters: frozenset[str]) -> Any:
    """Raise ``counters`` by one; the row is created if a database lost it (emptied)."""
    first = {"id": 1, "switches": 0, "content": 0} | {counter: 1 for counter in counters}
    insert = dialect_insert(dialect)(_VERSIONS).values(first)
    return insert.on_conflict_do_update(
        index_elements=["id"],
        set_={counter: _VERSIONS.c[counter] + 1 for counter in sorted(counters)},
    )


_RAISE = {
    (dialect, frozenset(combination)): _raise_statement(dialect, frozenset(combination))
    for dialect in ("sqlite", "postgresql")
    for combination in ({"switches"}, {"content"}, {"switches", "content"})
}


def _before_execute(
    connection: Connection, statement: Any, _multiparams: Any, _params: Any, _options: Any
) -> None:
    """A write to a versioned table raises its counters first, in the same transaction
    (once per transaction and counter)."""
    if not isinstance(statement, UpdateBase):
        return
    table_name = getattr(getattr(statement, "table", None), "name", None)
    counters = COUNTERS_OF.get(table_name) if isinstance(table_name, str) else None
    if not counters:
        return
    raised = connection.info.setdefault(_RAISED, set())
    due = counters - raised
    if not due:
        return
    raised.update(due)
    connection.info[_RAISED_ANY] = True
    connection.execute(_RAISE[connection.dialect.name, frozenset(due)])
    if has_app_context():
        g.lms_versions_raised = True  # this request's cached values are older than its writes


def _transaction_ended(connection: Connection) -> None:
    """After a commit or rollback: the next request (or statement) reads the counters again."""
    if connection.invalidated:  # lost (its info with it); what it raised was rolled back
        return
    connection.info.pop(_RAISED, None)
    if connection.info.pop(_RAISED_ANY, False) and has_app_context():
        g.pop("lms_versions", None)
        g.pop("lms_versions_raised", None)
        g.pop("lms_cache", None)


def _savepoint_rolled_back(connection: Connection, _name: Any, _context: Any) -> None:
    connection.info.pop(_RAISED, None)  # the raise may be undone: the next write raises again


def watch_engine(engine: Engine) -> None:
    """Raise the versions with every write through ``engine``."""
    for name, listener in (
        ("before_execute", _before_execute),
        ("commit", _transaction_ended),
        ("rollback", _transaction_ended),
        ("rollback_savepoint", _savepoint_rolled_back),
    ):
        if not event.contains(engine, name, listener):
            event.listen(engine, name, listener)
