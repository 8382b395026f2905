"""gunicorn's workers as deploy/gunicorn.conf.py sets them up: lms/gunicorn_worker.py (a
worker whose threads are all busy leaves a new connection to one with a free thread, and
still takes it when no worker has one), and what loading the app made frozen out of the
garbage collector's sight."""

from __future__ import annotations

import http.client
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests import sleepy_wsgi
from tests.servers import environment, free_port, gunicorn

pytestmark = pytest.mark.engine_independent

# Long enough for an idle worker to wake and take the connection on a loaded machine.
DEFER_MS = "300"


def _serve(tmp_path, workers: int) -> Iterator[int]:
    port = free_port()
    env = environment(
        tmp_path,
        LMS_BIND=f"127.0.0.1:{port}",
        LMS_WORKERS=str(workers),
        LMS_THREADS="1",
        LMS_ACCEPT_DEFER_MS=DEFER_MS,
        LMS_ACCESS_LOG="",
    )
    server = gunicorn(env, "tests.sleepy_wsgi:app", stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _children(server.pid) < workers:
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "gunicorn's workers did not start"
            time.sleep(0.1)
        _get(port, "/")  # a worker answers
        yield port
    finally:
        server.terminate()
        server.communicate(timeout=45)


def _children(pid: int) -> int:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return len(found.split())


def _get(port: int, path: str) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().read().decode()
    finally:
        connection.close()


@pytest.fixture
def two_workers(tmp_path) -> Iterator[int]:
    yield from _serve(tmp_path, workers=2)


@pytest.fixture
def one_worker(tmp_path) -> Iterator[int]:
    yield from _serve(tmp_path, workers=1)


def test_a_busy_worker_leaves_a_new_connection_to_an_idle_one(two_workers):
    """gunicorn's gthread gives the new connection to whichever worker wakes first: about
    half the time the busy one, where it waits for the slow request (each round here)."""
    for _round in range(5):
        slow = http.client.HTTPConnection("127.0.0.1", two_workers, timeout=30)
        slow.request("GET", "/slow")
        time.sleep(0.3)  # its worker has taken it: its only thread sleeps
        started = time.monotonic()
        quick_pid = _get(two_workers, "/")
        waited = time.monotonic() - started
        slow_pid = slow.getresponse().read().decode()
        slow.close()
        assert quick_pid != slow_pid
        assert waited < sleepy_wsgi.SLOW_SECONDS - 0.3


def test_a_new_connection_is_still_taken_when_every_worker_is_busy(one_worker):
    slow = http.client.HTTPConnection("127.0.0.1", one_worker, timeout=30)
    slow.request("GET", "/slow")
    time.sleep(0.3)
    started = time.monotonic()
    assert _get(one_worker, "/").isdigit()  # after the slow one: the thread is free again
    waited = time.monotonic() - started
    assert sleepy_wsgi.SLOW_SECONDS - 0.5 < waited < sleepy_wsgi.SLOW_SECONDS + 5
    slow.getresponse().read()
    slow.close()


def test_a_kept_alive_connection_stays_with_its_worker(two_workers):
    kept = http.client.HTTPConnection("127.0.0.1", two_workers, timeout=30)
    pids = set()
    for _ in range(20):
        kept.request("GET", "/")
        pids.add(kept.getresponse().read().decode())
    kept.close()
    assert len(pids) == 1


def test_a_worker_has_frozen_what_loading_the_app_made(one_worker):
    """gc.freeze() in post_worker_init: full collections no longer walk the loaded app."""
    assert int(_get(one_worker, "/frozen")) > 10_000
