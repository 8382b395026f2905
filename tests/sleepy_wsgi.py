"""A WSGI app for tests/test_gunicorn_worker.py: ``/slow`` holds its thread for a while,
``/frozen`` tells how many objects the garbage collector leaves out (gc.freeze), every other
path answers with the process that served it."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable

SLOW_SECONDS = 1.5


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/slow":
        time.sleep(SLOW_SECONDS)
    answer = gc.get_freeze_count() if environ["PATH_INFO"] == "/frozen" else os.getpid()
    body = str(answer).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
