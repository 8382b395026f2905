"""Work that should not hold up a request (probing videos, posters).

Without Redis, jobs run in a small in-process thread pool (or inline when
``JOBS_INLINE`` is set, as in tests). With ``REDIS_URL`` they go to an RQ queue and
``lms worker`` runs them. A job is named by its import path and runs in an app context.
"""

from __future__ import annotations

import importlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app

log = logging.getLogger(__name__)

QUEUE_NAME = "lms"
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lms-job")
_worker_app: Flask | None = None


def _resolve(path: str) -> Any:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _run_in(app: Flask, path: str, args: tuple[Any, ...]) -> None:
    with app.app_context():
        try:
            _resolve(path)(*args)
        except Exception:
            log.exception("job %s%r failed", path, args)
            raise


def enqueue(path: str, *args: Any) -> None:
    """Run ``path(*args)`` off the request: RQ when Redis is configured, else a thread."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # current_app is typed as the app, not as the proxy that has this method
    if app.config.get("JOBS_INLINE"):
        _resolve(path)(*args)
        return
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        queue(redis_url).enqueue(run_job, path, args, job_timeout=600)
        return
    _pool.submit(_run_in, app, path, args)


def queue(redis_url: str) -> Any:
    from redis import Redis
    from rq import Queue

    return Queue(QUEUE_NAME, connection=Redis.from_url(redis_url))


def use_app(app: Flask) -> None:
    """Let RQ jobs run in ``app`` (``lms worker``): the work horses RQ forks for each job
    inherit it instead of building the app again. The database pool is emptied first, so no
    connection is shared across the fork."""
    global _worker_app
    from lms.extensions import db

    with app.app_context():
        db.engine.dispose()
    _worker_app = app


def run_job(path: str, args: tuple[Any, ...]) -> None:
    """The RQ entry point: builds the app once per worker process (unless given one)."""
    global _worker_app
    if _worker_app is None:
        from lms import create_app

        _worker_app = create_app()
    _run_in(_worker_app, path, tuple(args))
