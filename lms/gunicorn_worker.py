"""gunicorn's threaded worker, leaving a new connection to a worker that can serve it now.

With the stock ``gthread`` worker, every worker process waits on the same listening socket,
and whichever wakes first takes the connection, busy or not. A connection then stays with
the worker that took it for as long as it is kept alive: a browser's, or one of nginx's
upstream keep-alive connections (deploy/nginx.conf). When many arrive at once, one worker
often takes most of them. Its requests then queue behind its few threads while another
worker has nothing to do.

Measured with ``bench http``: 32 keep-alive connections on 2 workers split 28/4 in one run,
16/16 in another. The pages' 99th percentile followed the split: 55–69 ms at 16/16, 91 ms at
23/9, 109 ms at 28/4.

:class:`BalancedThreadWorker` takes a new connection at once only while one of its threads
is free. When they are all busy it steps back from the socket for :data:`ACCEPT_DEFER`
seconds, so a worker with a free thread takes the connection. If none has, it takes the
connection itself when that time is up, so nothing waits more than a few milliseconds longer
than with ``gthread``. Connections it already holds are served as before. deploy/gunicorn.conf.py
selects it. It relies on gunicorn 27's ``ThreadWorker`` (setup.cfg pins the major version,
and tests/test_gunicorn_worker.py checks the behaviour against a real gunicorn).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future
from typing import Any

from gunicorn.workers.gthread import ThreadWorker  # type: ignore[import-untyped]

# How long a worker whose threads are all busy leaves a new connection to the others
# (LMS_ACCEPT_DEFER_MS, milliseconds; 0 behaves as gthread).
ACCEPT_DEFER = float(os.environ.get("LMS_ACCEPT_DEFER_MS") or 5) / 1000


class BalancedThreadWorker(ThreadWorker):
    """``gthread``, except that a worker with no free thread lets another take new
    connections first (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight = 0  # requests handed to the thread pool and not finished
        self.deferred_until = 0.0  # monotonic time; 0: not stepping back from the socket
        self.may_accept_busy = False  # the step back is over: take the next one anyway

    def _all_threads_busy(self) -> bool:
        return self.in_flight >= self.cfg.threads

    def _accept_again(self) -> None:
        self.deferred_until = 0.0
        if self.alive:  # a stopping worker takes no new connection (gthread's own rule)
            super().set_accept_enabled(self.nr_conns < self.worker_connections)

    def enqueue_req(self, conn: Any) -> None:
        self.in_flight += 1
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Future[Any]) -> None:
        self.in_flight -= 1
        super().finish_request(conn, fs)  # may hand the connection's next request on
        if self.deferred_until and not self._all_threads_busy():
            self._accept_again()

    def accept(self, listener: Any) -> None:
        if self._all_threads_busy() and not self.may_accept_busy and ACCEPT_DEFER > 0:
            self.deferred_until = time.monotonic() + ACCEPT_DEFER
            super().set_accept_enabled(False)
            return
        self.may_accept_busy = False
        super().accept(listener)

    def set_accept_enabled(self, enabled: bool) -> None:
        # The main loop turns accepting back on whenever it is off and the worker is below
        # worker_connections; while stepping back, it stays off. When gthread itself turns
        # it off (worker_connections reached, or stopping), the step back is over.
        if enabled and self.deferred_until:
            return
        if not enabled:
            self.deferred_until = 0.0
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self.deferred_until:
            remaining = self.deferred_until - time.monotonic()
            if remaining <= 0:
                self.may_accept_busy = True
                self._accept_again()
            else:
                timeout = min(timeout, remaining)
        super().wait_for_and_dispatch_events(timeout)
