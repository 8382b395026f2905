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
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, current_app, g, has_app_context
from flask_caching import Cache
from sqlalchemy import event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

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
    """A shared cache when Redis is configured (``CACHE_REDIS_URL``, default ``REDIS_URL``)."""
    url = app.config.get("CACHE_REDIS_URL", app.config.get("REDIS_URL"))
    app.extensions["lms.cache"] = SharedCache(app, url) if url else None
    _watch_sessions()


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
