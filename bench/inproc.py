"""``python -m bench inproc``: what each hot page costs, in one process, against "hello".

The WSGI app is called directly (no server, no sockets, no load generator), with a learner's
session cookie, on the catalog at park scale (:func:`bench.setup_data.build`: 4 camps, 200
courses, 5,000 lessons, 10,000 learners; PostgreSQL's schema ANALYZEd after loading). Each
round calls every endpoint once, in turn, and the bare Flask "hello" of
:mod:`bench.baseline` in the same process: the endpoints are interleaved, so a busy moment
of the machine falls on all of them alike. The first rounds are thrown away (warm-up), and
each figure is the median CPU time (``time.process_time``) of the remaining calls, divided by
the median of "hello" measured in the same rounds. CPU time rather than wall time: on shared
cores another process's work does not count against ours (it is stable to about ±10 %, where
wrk's throughput swings ±50 %).

The endpoints, for a learner enrolled in four courses (three generated, one with the real
demo video) with progress in some:

* ``floor``: ``/healthz`` logged in (the session, its user, ``SELECT 1``);
* ``catalog``, ``camp``, ``course``, ``lesson`` (the demo video lesson), ``dashboard``;
* ``progress``: real progress reports of several playback sessions of the learner
  (``POST /api/playback/<id>/progress``): intervals starting at different places, crediting,
  the watch clock's lock and the ledger — the path a playing video takes;
* and ``authorize``: nginx's ``auth_request`` for the lesson's video (bench/hls.py).

Prints ``BENCH inproc_<endpoint>_<engine>_x_hello <ratio>``, the milliseconds behind it, and
``BENCH inproc_<endpoint>_<engine>_statements <n>``: the statements one request runs (on
PostgreSQL the round trips to the server, counted from libpq's trace: pings, ``BEGIN``,
``ROLLBACK`` and ``COMMIT`` included).
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from werkzeug.test import EnvironBuilder

from bench import setup_data

ENDPOINTS = ("floor", "catalog", "camp", "course", "lesson", "dashboard", "progress")
# Reported too: nginx's question before a viewer's first video segment (bench/hls.py).
EXTRA = ("authorize",)
ROUNDS = 340
WARM_UP = 40  # rounds thrown away: each endpoint's first calls compile templates and SQL
HELLO_REPEAT = 4
PLAYBACK_SESSIONS = 8  # the progress reports rotate over this many sessions


class Call:
    """One request, ready to replay: a WSGI environ built once, copied for each call."""

    def __init__(self, app: Any, path: str, cookie: str, method: str = "GET", **extra: Any):
        self.app, self.path, self.method = app, path, method
        headers = {"Cookie": cookie} if cookie else {}
        headers.update(extra.pop("headers", {}))
        # The client address and user agent of the test client that logged in, as a browser
        # sends the same ones with its cookie: with others, Flask-Login would mark the login
        # no longer fresh on every request, and the cookie (never updated here) re-signed.
        base = app.test_client().environ_base
        self.environ = EnvironBuilder(
            path=path, method=method, headers=headers, environ_base=base, **extra
        ).get_environ()
        self.body = extra.get("data", b"")

    def __call__(self, body: bytes | None = None) -> tuple[str, bytes]:
        environ = dict(self.environ)
        data = self.body if body is None else body
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        status: list[str] = []

        def start_response(code: str, _headers: Any, _exc: Any = None) -> None:
            status.append(code)

        result = self.app(environ, start_response)
        try:
            content = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return status[0], content


class ProgressCalls:
    """Progress reports of several playback sessions of one learner, taking turns.

    Each session plays from its own start (sessions 0, 7, 14… seconds into the video), and
    each report claims the next few seconds played: the wall clock, not the claim, limits
    the credit, so sessions earn coverage and training time as a real player would, and the
    learner's watch clock serializes them.
    """

    def __init__(self, app: Any, cookie: str, csrf: str, lesson_id: int, duration: float):
        self.app, self.cookie, self.csrf, self.duration = app, cookie, csrf, duration
        headers = {"X-CSRFToken": csrf, "Content-Type": "application/json"}
        opener = Call(app, f"/api/lessons/{lesson_id}/playback", cookie, "POST", headers=headers)
        self.sessions = []
        for number in range(PLAYBACK_SESSIONS):
            status, content = opener()
            if not status.startswith("201"):
                raise RuntimeError(f"opening a playback session answered {status}")
            start = (7.0 * number) % max(1.0, duration - 10)
            path = f"/api/playback/{json.loads(content)['session_id']}/progress"
            call = Call(app, path, cookie, "POST", headers=headers)
            self.sessions.append({"call": call, "start": start, "seq": 0, "played": 0.0})
        self.turn = 0

    def __call__(self) -> tuple[str, bytes]:
        session = self.sessions[self.turn % len(self.sessions)]
        self.turn += 1
        session["seq"] += 1
        session["played"] = min(session["played"] + 2.0, self.duration - session["start"])
        end = session["start"] + session["played"]
        body = json.dumps(
            {"seq": session["seq"], "position": end, "played_seconds": session["played"],
             "intervals": [[session["start"], end]]}
        ).encode()  # fmt: skip
        return session["call"](body)


def cpu(call: Callable[[], tuple[str, bytes]]) -> tuple[float, str]:
    start = time.process_time()
    status, _content = call()
    return time.process_time() - start, status


TRACED_SQL = {"Query": re.compile(r'\s*"(.*)"\s*$'), "Parse": re.compile(r'\s*"[^"]*" "(.*)" \d')}


class RoundTrips:
    """Every round trip to PostgreSQL on ``engine``'s connections, from libpq's trace: each
    ``ReadyForQuery`` the server sends ends one (pings, ``BEGIN``, ``ROLLBACK``, ``COMMIT``
    included). The pool is emptied on entry and on exit: only connections opened inside the
    block are traced."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by __exit__

    def _trace(self, dbapi_connection: Any, _record: Any) -> None:
        import psycopg

        dbapi_connection.pgconn.trace(self.file.fileno())
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    def __enter__(self) -> RoundTrips:
        event.listen(self.engine, "connect", self._trace)
        self.engine.dispose()
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "connect", self._trace)
        self.engine.dispose()
        self.file.close()

    def reset(self) -> None:
        self.file.seek(0)
        self.file.truncate()

    def statements(self) -> list[str]:
        """What ended each round trip so far: the last query sent before it."""
        self.file.seek(0)
        seen, last = [], ""
        for line in self.file.read().decode(errors="replace").splitlines():
            fields = line.split("\t")
            if len(fields) > 3 and fields[0] == "F" and fields[2] in ("Query", "Parse"):
                # Query "<sql>"; Parse "<statement name>" "<sql>" <parameter types>
                sql = TRACED_SQL[fields[2]].match(fields[3])
                last = sql.group(1) if sql else fields[3].strip()
            elif len(fields) > 2 and fields[0] == "B" and fields[2] == "ReadyForQuery":
                seen.append(last)
        self.file.seek(0, io.SEEK_END)
        return seen


@contextmanager
def executed(engine: Any) -> Iterator[list[str]]:
    """The SQL statements run through ``engine`` inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def count(engine: Any, call: Callable[[], Any]) -> list[str]:
    """What one call costs the database: its statements on SQLite, its round trips on
    PostgreSQL, counted on connections the pool already held (as in a running server)."""
    if engine.dialect.name != "postgresql":
        with executed(engine) as seen:
            call()
        return seen
    with RoundTrips(engine) as trips:
        call()  # opens the connections (the driver's own set-up is not the request's)
        trips.reset()
        call()
        return trips.statements()


def learner_session(app: Any, email: str) -> tuple[str, str]:
    """Log ``email`` in through the app; its cookie and a CSRF token of its session."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    answer = client.post(
        "/login",
        data={"email": email, "password": setup_data.PASSWORD, "csrf_token": token},
    )
    if answer.status_code != 302:
        raise RuntimeError(f"{email} could not log in ({answer.status_code})")
    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    cookie = client.get_cookie("session")
    return f"session={cookie.value}", csrf


def endpoints(app: Any, data: setup_data.BenchData) -> dict[str, Callable[[], Any]]:
    from lms.extensions import db
    from lms.models import Camp, Course, Enrollment, Lesson, MediaAsset

    email = data.crowd[0]  # three generated courses and the demo video's course
    cookie, csrf = learner_session(app, email)
    with app.app_context():
        course_path = data.lesson_path.split("/lessons/")[0] + "/"
        camp_slug = db.session.scalar(
            db.select(Camp.slug)
            .join(Course, Course.camp_id == Camp.id)
            .join(Enrollment, Enrollment.course_id == Course.id)
            .where(Course.slug.like("bench-%"))
            .limit(1)
        )
        duration = db.session.scalar(
            db.select(MediaAsset.duration_seconds)
            .join(Lesson, Lesson.media_id == MediaAsset.id)
            .where(Lesson.id == data.lesson_id)
        )
        db.session.remove()
    return {
        "floor": Call(app, "/healthz", cookie),
        "catalog": Call(app, "/", cookie),
        "camp": Call(app, f"/camps/{camp_slug}/", cookie),
        "course": Call(app, course_path, cookie),
        "lesson": Call(app, data.lesson_path, cookie),
        "dashboard": Call(app, "/dashboard", cookie),
        "progress": ProgressCalls(app, cookie, csrf, data.lesson_id, float(duration)),
        "authorize": Call(app, f"/media/lessons/{data.lesson_id}/authorize", cookie),
    }


def hello_app(database_url: str) -> Any:
    os.environ.setdefault("BENCH_DATABASE_URL", database_url)
    from bench import baseline

    return baseline.app


def measure(data: setup_data.BenchData, tag: str, rounds: int = ROUNDS) -> dict[str, float]:
    from bench.__main__ import report

    os.environ.update(setup_data.app_environment(data))
    from lms import create_app
    from lms.extensions import db

    app = create_app({"MEDIA_ACCEL_REDIRECT": "/protected-media/"})  # nginx's authorize
    calls = endpoints(app, data)
    hello = Call(hello_app(data.database_url), "/hello", "")
    times: dict[str, list[float]] = {name: [] for name in ("hello", *calls)}
    for number in range(rounds):
        for name, call in calls.items():
            spent, status = cpu(call)
            if not status.startswith("200"):
                raise RuntimeError(f"{name} answered {status}")
            if number >= WARM_UP:
                times[name].append(spent)
        # "Hello" in every round too, a few calls in a row of which the first is dropped: a
        # lone call right after a page runs with the page's data in the processor's caches
        # and measures three times slower than hello really is.
        for repeat in range(HELLO_REPEAT):
            spent, _status = cpu(hello)
            if number >= WARM_UP and repeat:
                times["hello"].append(spent)
    base = statistics.median(times["hello"])
    report(f"inproc_hello_{tag}", base * 1000, "ms")
    ratios = {}
    with app.app_context():
        engine = db.engine
    for name in (*ENDPOINTS, *EXTRA):
        median = statistics.median(times[name])
        ratios[name] = median / base
        report(f"inproc_{name}_{tag}_ms", median * 1000, "ms")
        report(f"inproc_{name}_{tag}_x_hello", ratios[name], "ratio")
        counted = count(engine, calls[name])
        report(f"inproc_{name}_{tag}_statements", len(counted), "statements")
        if os.environ.get("BENCH_SHOW_STATEMENTS"):
            for statement in counted:
                print(f"bench:   {statement.splitlines()[0][:150]}", file=sys.stderr)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return ratios


def run(postgres: str, rounds: int = ROUNDS) -> None:
    with tempfile.TemporaryDirectory(prefix="lms-bench-inproc-") as folder:
        databases = {"sqlite": f"sqlite:///{folder}/bench.sqlite3"}
        if setup_data.postgres_reachable(postgres):
            databases["postgres"] = setup_data.postgres_schema_url(
                postgres, f"bench_{secrets.token_hex(4)}"
            )
        else:
            print(f"bench: PostgreSQL not reachable at {postgres}; SQLite only", file=sys.stderr)
        for tag, url in databases.items():
            data = setup_data.build(Path(folder) / tag, url, learners=2)
            try:
                measure(data, tag, rounds)
            finally:
                setup_data.drop(data)
