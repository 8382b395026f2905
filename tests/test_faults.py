"""Faults: a SIGKILL in the middle of a burst of progress reports and a SIGTERM in the middle
of a request, against a real gunicorn (deploy/gunicorn.conf.py, LMS_ENV=production); a full
disk and an unreachable database, which must answer clear 503s and leave nothing half-written.

The gunicorn tests run on the suite's database engine: SQLite in tmp_path, or a PostgreSQL
schema of their own when LMS_DATABASE_URL is set; `lms init` builds it, as in a deployment.
"""

from __future__ import annotations

import errno
import http.client
import io
import json
import os
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import create_engine, event, make_url, text

from lms import create_app
from lms.extensions import db
from lms.models import (
    Course,
    CourseTrainer,
    Lesson,
    LessonProgress,
    MediaAsset,
    PlaybackSession,
    TrainingTime,
    WatchClock,
)
from lms.services import accounts, demo_media, media
from lms.services import intervals as iv
from lms.services.integrity import run_checks
from lms.services.lessons import completion_threshold
from lms.services.loading import load
from tests.conftest import CSRF, PASSWORD, Client, course_url, database_url, video_lessons_of
from tests.servers import environment, free_port, gunicorn

GOOD_KEY = secrets.token_hex(32)
CAMP_PLUGIN = "startup_growth"
COURSE_SLUG = "strategy-toolkit"
FAST_HASH = "pbkdf2:sha256:1000"
META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')

VIDEO_SECONDS = 120
STEP = 4.0  # seconds of video per report
REPORTS = int(VIDEO_SECONDS / STEP)  # reports that cover the video once
# About half of what the four sessions send before they only replay. Sixty acknowledged
# reports of 4 s of play each put four minutes of training time in the ledger to check.
ACKS_BEFORE_KILL = 60
# Opened a day ago, as far as the wall-clock rules know, and (in the deployment) a day of
# slack for the wall clock between two reports: every report of a burst can be credited in
# full, so an acknowledged interval must be in the stored coverage.
AGED = timedelta(days=1)

OUT_OF_SPACE = "The server has run out of storage space. Nothing was saved; try again later."
UNREACHABLE = "The database is not reachable right now."


# -- a production deployment: database, `lms init`, content, gunicorn ----------------------


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    """A real two-minute WebM (one small frame a second), so credit reaches whole minutes."""
    path = tmp_path_factory.mktemp("faults") / "two-minutes.webm"
    return demo_media.generate_demo_video(
        path, seconds=VIDEO_SECONDS, color="#663399", fps=1, size=(128, 72)
    )


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """The server's database URL: SQLite in tmp_path, or a PostgreSQL schema of this test's
    own (as tests/conftest.py gives each test), named by ``search_path``; the server's
    connections carry the schema's name as their ``application_name``."""
    url = database_url(tmp_path)
    if not url.startswith("postgresql"):
        yield url
        return
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        options = {"options": f"-csearch_path={schema}", "application_name": schema}
        yield make_url(url).update_query_dict(options).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _local_url(server_url: str) -> str:
    """The same database for this process, under another PostgreSQL application_name."""
    url = make_url(server_url)
    if not url.drivername.startswith("postgresql"):
        return server_url
    name = url.query["application_name"]
    return url.update_query_dict({"application_name": f"{name}-test"}).render_as_string(
        hide_password=False
    )


class Browser:
    """A learner's browser as the app sees it behind nginx: https (X-Forwarded-Proto, which
    gunicorn believes from 127.0.0.1), a same-origin Referer, the cookies it was given (the
    Secure ones too: TLS ended at nginx) and the page's CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.token = ""

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "X-Forwarded-Proto": "https",
            "Referer": f"https://127.0.0.1:{self.port}/",
            "Accept-Language": "en",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**headers, **(extra or {})}

    def send(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        connection: http.client.HTTPConnection | None = None,
    ) -> tuple[int, bytes]:
        own = connection is None
        conn = connection or self.connect()
        try:
            conn.request(method, path, body=body, headers=self.headers(headers))
            response = conn.getresponse()
            data = response.read()
        finally:
            if own:
                conn.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            self.cookies.update({name: morsel.value for name, morsel in cookie.items()})
        return response.status, data

    def form(self, path: str, fields: dict[str, str]) -> int:
        _status, page = self.send("GET", "/login" if not self.token else "/")
        token = CSRF.search(page.decode())
        assert token, f"no CSRF token on the page before {path}"
        body = urlencode({**fields, "csrf_token": token.group(1)})
        status, _ = self.send(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        return status

    def login(self, email: str) -> None:
        assert self.form("/login", {"email": email, "password": PASSWORD}) == 302
        status, page = self.send("GET", "/")
        assert status == 200
        self.token = META_CSRF.search(page.decode()).group(1)

    def api(
        self,
        path: str,
        payload: object = None,
        connection: http.client.HTTPConnection | None = None,
    ) -> tuple[int, dict]:
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = {"Content-Type": "application/json", "X-CSRFToken": self.token}
        status, data = self.send("POST", path, body, headers, connection)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, {"not json": data[:300].decode(errors="replace")}

    def open_playback(self, lesson_id: int) -> str:
        status, body = self.api(f"/api/lessons/{lesson_id}/playback")
        assert status == 201, body
        return body["session_id"]


@dataclass
class Deployment:
    tmp_path: Path
    env: dict[str, str]
    port: int
    app: Flask
    lessons: list[int]
    course_path: str
    logs: list[Path] = field(default_factory=list)
    servers: list[subprocess.Popen] = field(default_factory=list)

    def start(self, **overrides: str) -> subprocess.Popen:
        """gunicorn in a process group of its own (to kill master and workers at once)."""
        log = self.tmp_path / f"gunicorn-{len(self.servers)}.log"
        with log.open("w") as output:
            server = gunicorn(
                {**self.env, **overrides},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.logs.append(log)
        self.servers.append(server)
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return server
            except OSError:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.1)

    def log(self, server: subprocess.Popen) -> str:
        return self.logs[self.servers.index(server)].read_text()

    def learner(self, email: str) -> Browser:
        """A new learner, logged in over HTTP and enrolled in the course."""
        with self.app.app_context():
            accounts.create_user(email, email.split("@")[0], PASSWORD)
        browser = Browser(self.port)
        browser.login(email)
        assert browser.form(self.course_path + "enroll", {}) == 302
        return browser

    def age(self, session_ids: list[str]) -> None:
        with self.app.app_context():
            for session_id in session_ids:
                session = db.session.get(PlaybackSession, session_id)
                session.started_at = session.started_at - AGED
            db.session.commit()


@pytest.fixture
def deployment(tmp_path, database, long_video, monkeypatch) -> Iterator[Deployment]:
    """A production instance after `lms init`; two video lessons play the two-minute video."""
    port = free_port()
    env = environment(
        tmp_path,
        LMS_ENV="production",
        LMS_SECRET_KEY=GOOD_KEY,
        LMS_DATABASE_URL=database,
        LMS_LOAD_PLUGINS=CAMP_PLUGIN,
        LMS_BIND=f"127.0.0.1:{port}",
        LMS_ACCESS_LOG="",
        LMS_MAX_REQUESTS="0",  # no worker is recycled in the middle of a test
    )
    init = subprocess.run(
        [sys.executable, "-c", "from lms.cli import main; main()", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    with (Path(env["LMS_INSTANCE_PATH"]) / "config.py").open("a", encoding="utf-8") as config:
        config.write(f"WATCH_SLACK = {AGED.total_seconds()}\n")  # see AGED
    monkeypatch.setenv("LMS_INSTANCE_PATH", env["LMS_INSTANCE_PATH"])
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": _local_url(database),
            "MEDIA_ROOT": env["LMS_MEDIA_ROOT"],
            "SECRET_KEY": GOOD_KEY,
            "LOAD_PLUGINS": CAMP_PLUGIN,
            "PASSWORD_HASH_METHOD": FAST_HASH,
        }
    )
    with app.app_context():
        course = db.session.scalar(db.select(Course).filter_by(slug=COURSE_SLUG))
        asset, _ = media.import_file(long_video)
        lessons = video_lessons_of(course.id)[:2]
        assert len(lessons) == 2
        for lesson in lessons:
            lesson.media = asset
        db.session.commit()
        lesson_ids, path = [lesson.id for lesson in lessons], course_url(course)
    deployed = Deployment(tmp_path, env, port, app, lesson_ids, path)
    try:
        yield deployed
    finally:
        for server in deployed.servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _living(group: int) -> list[int]:
    """Processes of a process group that have not exited (zombies have)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


def _wait_until(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _server_backends_gone(app: Flask, server_url: str) -> Callable[[], bool]:
    """PostgreSQL: no backend of the server's connections is left (a killed worker's backend
    may still be finishing a statement, or a commit nobody will hear about)."""
    name = make_url(server_url).query["application_name"]

    def check() -> bool:
        with app.app_context():
            left = db.session.scalar(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                {"name": name},
            )
            db.session.rollback()
            return left == 0

    return check


# -- SIGKILL in the middle of a burst of progress reports ---------------------------------


@dataclass
class Stream:
    """One playback session's reports, sent one after the other on one connection."""

    browser: Browser
    lesson_id: int
    backwards: bool
    session_id: str = ""
    sent: list[tuple[int, tuple[float, float]]] = field(default_factory=list)
    acked: list[tuple[int, tuple[float, float], dict]] = field(default_factory=list)
    refused: list[tuple[int, dict]] = field(default_factory=list)
    ended_by: BaseException | None = None

    def interval(self, seq: int) -> tuple[float, float]:
        index = (seq - 1) % REPORTS  # once over the video, then the same reports again
        if self.backwards:
            index = REPORTS - 1 - index
        return index * STEP, (index + 1) * STEP


class Burst:
    def __init__(self, streams: list[Stream]) -> None:
        self.streams = streams
        self.acks = 0
        self.changed = threading.Condition()
        self.killed = threading.Event()
        self.early: list[BaseException] = []  # connection failures before the kill

    def run(self, stream: Stream) -> None:
        connection = stream.browser.connect()
        path = f"/api/playback/{stream.session_id}/progress"
        seq = 0
        while True:
            seq += 1
            interval = stream.interval(seq)
            report = {
                "seq": seq,
                "position": interval[1],
                "intervals": [list(interval)],
                "played_seconds": seq * STEP,  # as if played at 1x
            }
            stream.sent.append((seq, interval))
            try:
                status, body = stream.browser.api(path, report, connection)
            except (OSError, http.client.HTTPException) as exc:
                stream.ended_by = exc
                if not self.killed.is_set():
                    self.early.append(exc)
                break
            if status != 200:
                stream.refused.append((status, body))
                break
            stream.acked.append((seq, interval, body))
            with self.changed:
                self.acks += 1
                self.changed.notify_all()
        connection.close()


def test_sigkill_in_a_burst_of_progress_reports_loses_no_acknowledged_report(deployment):
    server = deployment.start(LMS_WORKERS="2", LMS_THREADS="4")
    ana = deployment.learner("ana@example.com")
    ben = deployment.learner("ben@example.com")
    first, second = deployment.lessons
    streams = [  # ana plays the first lesson in two tabs at once; ben plays both lessons
        Stream(ana, first, backwards=False),
        Stream(ana, first, backwards=True),
        Stream(ben, first, backwards=False),
        Stream(ben, second, backwards=False),
    ]
    for stream in streams:
        stream.session_id = stream.browser.open_playback(stream.lesson_id)
    deployment.age([stream.session_id for stream in streams])

    burst = Burst(streams)
    threads = [threading.Thread(target=burst.run, args=(stream,)) for stream in streams]
    for thread in threads:
        thread.start()
    with burst.changed:
        reached = burst.changed.wait_for(
            lambda: burst.acks >= ACKS_BEFORE_KILL or not any(t.is_alive() for t in threads),
            timeout=60,
        )
    burst.killed.set()
    os.killpg(server.pid, signal.SIGKILL)  # the master and every worker, at once
    server.wait(timeout=30)
    _wait_until(lambda: not _living(server.pid), "gunicorn's workers outlived SIGKILL")
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()

    assert reached and burst.acks >= ACKS_BEFORE_KILL, [s.refused for s in streams]
    assert [s.refused for s in streams] == [[], [], [], []]  # every answer before it was a 200
    assert burst.early == []
    assert all(s.ended_by is not None for s in streams)  # each was cut off in the middle
    assert server.returncode == -signal.SIGKILL

    app = deployment.app
    server_url = deployment.env["LMS_DATABASE_URL"]
    if server_url.startswith("postgresql"):
        gone = _server_backends_gone(app, server_url)
        _wait_until(gone, "the killed workers' backends are still there")
    with app.app_context():
        db.engine.dispose()  # open the database afresh, as the next start would
        _assert_nothing_acknowledged_was_lost(streams)
        problems = [result.line() for result in run_checks() if not result.ok]
        assert problems == []


def _assert_nothing_acknowledged_was_lost(streams: list[Stream]) -> None:
    sessions = {
        s.id: s
        for s in db.session.scalars(
            db.select(PlaybackSession).where(
                PlaybackSession.id.in_([s.session_id for s in streams])
            )
        )
    }
    assert len(sessions) == len(streams)
    ledger: dict[str, int] = {}
    for key, seconds in db.session.execute(
        db.select(TrainingTime.source_key, TrainingTime.seconds).where(
            TrainingTime.source == "video"
        )
    ):
        session_id = key.split(":")[1]
        ledger[session_id] = ledger.get(session_id, 0) + seconds

    for stream in streams:  # per playback session
        stored = sessions[stream.session_id]
        if stream.acked:
            assert stored.last_seq >= max(seq for seq, _i, _b in stream.acked)
            assert stored.last_report_at is not None
        acked_credit = sum(body["credited"] for _s, _i, body in stream.acked)
        assert stored.credited_seconds >= acked_credit - 1e-3
        acked_time = sum(body["training_seconds"] for _s, _i, body in stream.acked)
        assert stored.training_seconds >= acked_time - 1e-2
        # Whole seconds of training time are in the ledger exactly once, in the same
        # transaction as the session's total.
        assert ledger.get(stream.session_id, 0) == stored.ledger_seconds
        assert stored.ledger_seconds == int(stored.training_seconds)
    assert sum(ledger.values()) >= 60  # the burst got as far as a minute in the ledger

    by_row: dict[tuple[int, int], list[Stream]] = {}
    for stream in streams:
        by_row.setdefault((sessions[stream.session_id].user_id, stream.lesson_id), []).append(
            stream
        )
    for (user_id, lesson_id), row_streams in by_row.items():  # per learner and lesson
        lesson = db.session.get(Lesson, lesson_id)
        duration = load(lesson, "media").duration_seconds
        row = db.session.scalar(
            db.select(LessonProgress).filter_by(user_id=user_id, lesson_id=lesson_id)
        )
        acked = [(i, body) for s in row_streams for _seq, i, body in s.acked]
        if not acked and row is None:
            continue
        assert row is not None
        coverage = iv.merge(tuple(pair) for pair in row.watched or [])
        for interval, _body in acked:  # no acknowledged report was lost
            assert any(start <= interval[0] and interval[1] <= end for start, end in coverage), (
                interval,
                coverage,
            )
        sent = iv.merge(interval for s in row_streams for _seq, interval in s.sent)
        assert iv.subtract(coverage, sent) == []  # nothing stored that was never sent
        assert row.covered_seconds == pytest.approx(min(duration, iv.measure(coverage)))
        credited = sum(sessions[s.session_id].credited_seconds for s in row_streams)
        assert credited == pytest.approx(iv.measure(coverage))  # each second credited once
        assert all(body["covered_seconds"] <= row.covered_seconds + 1e-3 for _i, body in acked)
        threshold = completion_threshold(lesson) * duration
        assert (row.completed_at is not None) == (row.covered_seconds >= threshold)
        if any(body["completed"] for _i, body in acked):
            assert row.completed_at is not None


# -- SIGTERM in the middle of a request -----------------------------------------------------


def _read_head(sock, until: bytes = b"\r\n\r\n") -> bytes:
    data = b""
    while until not in data:
        chunk = sock.recv(4096)
        assert chunk, f"the connection closed after {data!r}"
        data += chunk
    return data


def test_sigterm_lets_a_request_in_flight_finish(deployment):
    # One worker: the idle connection below and the report are on the same one. Kept-alive
    # connections may idle for 30 s, so only the shutdown closes the idle one.
    server = deployment.start(LMS_WORKERS="1", LMS_THREADS="2", LMS_KEEPALIVE="30")
    learner = deployment.learner("tess@example.com")
    session_id = learner.open_playback(deployment.lessons[0])
    deployment.age([session_id])

    idle = learner.connect()
    idle.request("GET", "/healthz")
    assert idle.getresponse().read()
    body = json.dumps({"seq": 7, "position": 10.0, "intervals": [[0, 10.0]]}).encode()
    head = [
        f"POST /api/playback/{session_id}/progress HTTP/1.1",
        f"Host: 127.0.0.1:{deployment.port}",
    ]
    headers = learner.headers(
        {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "X-CSRFToken": learner.token,
            "Expect": "100-continue",
            "Connection": "close",
        }
    )
    head += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", deployment.port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        # gunicorn says "100 Continue" as it hands the request to the app: it is in flight.
        assert _read_head(sock).startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(body[:20])
        server.send_signal(signal.SIGTERM)  # the master, which tells the worker
        # The stopping worker closes its idle kept-alive connection (after gunicorn's short
        # linger): from here on it is shutting down, with the report half received.
        idle.sock.settimeout(30)
        assert idle.sock.recv(1) == b""
        sock.sendall(body[20:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    idle.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK", answer
    reply = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert reply["credited"] == pytest.approx(10.0)
    assert server.wait(timeout=45) == 0
    log = deployment.log(server)
    assert "Handling signal: term" in log and "Shutting down: Master" in log
    assert "SIGKILL" not in log and "Traceback" not in log

    with deployment.app.app_context():
        session = db.session.get(PlaybackSession, session_id)
        assert (session.last_seq, session.credited_seconds) == (7, pytest.approx(10.0))
        row = db.session.scalar(db.select(LessonProgress).filter_by(user_id=session.user_id))
        assert row.watched == [[0, 10.0]] and row.position_seconds == pytest.approx(10.0)


# -- a full disk -----------------------------------------------------------------------------


class _FillingFile:
    """A file on ``disk``: a write past the room left puts what fits, then fails."""

    def __init__(self, file: io.BufferedWriter, disk: FullDisk) -> None:
        self.file, self.disk = file, disk

    def write(self, data: bytes) -> int:
        room = self.disk.room - self.disk.written
        if len(data) > room:  # what fits lands on the disk, then the disk is full
            self.file.write(data[:room])
            self.file.flush()
            self.disk.written += room
            raise OSError(self.disk.error, os.strerror(self.disk.error))
        self.disk.written += len(data)
        return self.file.write(data)

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()


class FullDisk:
    """``os`` as lms.services.media sees it, on a disk with ``room`` bytes left; writing more
    fails with ``error`` (ENOSPC: the disk is full, EDQUOT: the user's quota is)."""

    def __init__(self, room: int, error: int = errno.ENOSPC) -> None:
        self.room, self.written, self.error = room, 0, error
        self.files: list[Path] = []

    def fdopen(self, fd: int, *args, **kwargs) -> _FillingFile:
        self.files.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        return _FillingFile(os.fdopen(fd, *args, **kwargs), self)

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)


def _disk_full_error(dialect: str) -> Exception:
    """What each driver raises when the database's disk is full."""
    if dialect == "sqlite":
        error = sqlite3.OperationalError("database or disk is full")
        error.sqlite_errorcode, error.sqlite_errorname = 13, "SQLITE_FULL"
        return error
    import psycopg

    return psycopg.errors.DiskFull(
        'could not extend file "base/16384/16385": No space left on device'
    )


@contextmanager
def full_database(app: Flask, verb: str, table: str) -> Iterator[None]:
    """Statements ``verb … table`` fail as they would on a full disk."""
    with app.app_context():
        engine = db.engine

    def fail(connection, _cursor, statement, _parameters, _context, _many) -> None:
        words = statement.split()
        if words[0].upper() == verb and table in words[1:4]:
            raise _disk_full_error(connection.dialect.name)

    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", fail)


@pytest.fixture
def app(make_app) -> Flask:
    return make_app(JOBS_INLINE=True)


@pytest.fixture
def video_bytes(demo_video: Path) -> bytes:
    return demo_video.read_bytes()


@pytest.fixture
def lesson_id(app: Flask, course) -> int:
    with app.app_context():
        return video_lessons_of(course.id)[0].id


@pytest.fixture
def editor(app: Flask, course, trainer) -> Client:
    with app.app_context():
        db.session.add(CourseTrainer(course_id=course.id, user_id=trainer.id))
        db.session.commit()
    client = Client(app.test_client())
    assert client.login(trainer.email).status_code == 302
    return client


def _stored_files(app: Flask) -> list[Path]:
    return sorted(p for p in Path(app.config["MEDIA_ROOT"]).rglob("*") if p.is_file())


def _nothing_kept(app: Flask, lesson_id: int) -> None:
    assert _stored_files(app) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(MediaAsset.id))) == 0
        assert db.session.get(Lesson, lesson_id).media_id is None


def _assert_out_of_space(response, accept: str) -> None:
    assert response.status_code == 503
    if accept == "application/json":
        assert response.get_json() == {
            "error": "Service unavailable",
            "message": OUT_OF_SPACE,
            "status": 503,
        }
    else:
        page = response.get_data(as_text=True)
        assert response.mimetype == "text/html"
        assert OUT_OF_SPACE in page and "Traceback" not in page


UPLOADS = [
    ("lesson", "text/html", errno.ENOSPC),
    ("library", "application/json", errno.EDQUOT),
    ("lesson", "text/html", errno.EIO),  # not a full disk: an unexpected error, a 500
]


def _upload(client: Client, where: str, lesson_id: int, content: bytes, accept: str):
    url = f"/teach/lessons/{lesson_id}/video" if where == "lesson" else "/teach/media"
    return client.post(
        url,
        {"video": (io.BytesIO(content), "lecture.webm")},
        content_type="multipart/form-data",
        headers={"Accept": accept, "Accept-Language": "en"},
    )


@pytest.mark.parametrize(
    ("where", "accept", "error"), UPLOADS, ids=[errno.errorcode[e] for _w, _a, e in UPLOADS]
)
def test_a_full_disk_during_an_upload_is_a_503_and_leaves_no_partial_file(
    app, editor, lesson_id, video_bytes, monkeypatch, caplog, where, accept, error
):
    disk = FullDisk(room=4096, error=error)
    assert len(video_bytes) > disk.room
    with monkeypatch.context() as patched:
        patched.setattr(media, "os", disk)
        response = _upload(editor, where, lesson_id, video_bytes, accept)
    if error == errno.EIO:
        assert response.status_code == 500
        assert "The error was logged." in response.get_data(as_text=True)
        assert "unhandled error on POST" in caplog.text and "Input/output error" in caplog.text
    else:
        _assert_out_of_space(response, accept)
        errors = [r for r in caplog.records if r.name == "lms.web.errors"]
        assert [r.levelname for r in errors] == ["ERROR"]
        assert os.strerror(error) in errors[0].getMessage()
    assert disk.written == disk.room and len(disk.files) == 1  # a partial file was written…
    assert not disk.files[0].exists()  # …and removed
    _nothing_kept(app, lesson_id)
    # With room again, the same upload goes through.
    assert _upload(editor, where, lesson_id, video_bytes, "text/html").status_code == 302


def test_a_full_database_during_an_upload_is_a_503_and_leaves_no_file(
    app, editor, lesson_id, video_bytes
):
    with full_database(app, "INSERT", "media_assets"):
        response = _upload(editor, "lesson", lesson_id, video_bytes, "text/html")
    _assert_out_of_space(response, "text/html")
    _nothing_kept(app, lesson_id)  # the stored video went with the row that failed


def test_a_full_database_during_a_progress_report_is_a_503_and_writes_nothing(
    app, course, learner, lesson_id, demo_video
):
    with app.app_context():
        asset, _ = media.import_file(demo_video)
        db.session.get(Lesson, lesson_id).media = asset
        db.session.commit()
    client = Client(app.test_client())
    client.login(learner.email)
    assert client.post(course_url(course) + "enroll").status_code == 302
    token = META_CSRF.search(client.get("/").get_data(as_text=True)).group(1)
    headers = {"X-CSRFToken": token}
    opened = client.raw.post(f"/api/lessons/{lesson_id}/playback", headers=headers, json={})
    session_id = opened.get_json()["session_id"]
    with app.app_context():
        session = db.session.get(PlaybackSession, session_id)
        session.started_at = session.started_at - AGED
        db.session.commit()
    report = {"seq": 1, "position": 2.0, "intervals": [[0, 2.0]]}
    url = f"/api/playback/{session_id}/progress"

    # The watch clock and the progress row are written first; the session's update fails.
    with full_database(app, "UPDATE", "playback_sessions"):
        response = client.raw.post(url, headers=headers, json=report)
    _assert_out_of_space(response, "application/json")
    with app.app_context():
        assert db.session.get(WatchClock, learner.id) is None
        assert db.session.scalar(db.select(LessonProgress).filter_by(user_id=learner.id)) is None
        session = db.session.get(PlaybackSession, session_id)
        assert (session.last_seq, session.credited_seconds) == (-1, 0.0)

    response = client.raw.post(url, headers=headers, json=report)  # room again
    assert response.status_code == 200
    assert response.get_json()["credited"] == pytest.approx(2.0)


# -- an unreachable database -----------------------------------------------------------------


def test_the_api_answers_json_503s_when_the_database_is_unreachable(app, app_config, learner):
    client = Client(app.test_client())
    assert client.login(learner.email).status_code == 302
    token = META_CSRF.search(client.get("/").get_data(as_text=True)).group(1)
    down = create_app(
        {**app_config, "SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none"}
    )
    browser = down.test_client()
    browser.set_cookie("session", client.raw.get_cookie("session").value)
    headers = {"X-CSRFToken": token, "Accept-Language": "en"}
    report = {"seq": 1, "position": 1.0, "intervals": [[0, 1.0]]}
    answers = [
        browser.post("/api/lessons/1/playback", headers=headers, json={}),
        browser.get("/api/lessons/1/progress", headers=headers),
        browser.post(f"/api/playback/{'a' * 32}/progress", headers=headers, json=report),
    ]
    for response in answers:
        assert response.status_code == 503
        assert response.get_json() == {
            "error": "Service unavailable",
            "message": UNREACHABLE,
            "status": 503,
        }
    # A page for the logged-in user too (its layout, language and headers ask about them).
    page = browser.get("/dashboard", headers={"Accept-Language": "en"})
    assert page.status_code == 503
    assert UNREACHABLE in page.get_data(as_text=True)
    assert "Traceback" not in page.get_data(as_text=True)
    with down.app_context():
        db.engine.dispose()
    # Nothing logged the learner out: with the database back, the cookie still works.
    back = app.test_client()
    back.set_cookie("session", browser.get_cookie("session").value)
    assert back.get("/dashboard", headers={"Accept-Language": "en"}).status_code == 200
