"""Data and load scripts for the benchmarks: a database with camps, learners and videos."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import secrets
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import catalog_data

PASSWORD = "bench password 1"  # noqa: S105 - accounts of a throwaway bench database
VIDEO_SECONDS = 60
RANGE_FILE_BYTES = 64 << 20
CROWD = 200  # simulated learners of the mixed load
# The progress load watches a course of short videos to its end: lessons and the course are
# completed (the completion hooks, the certificate) within a run, as well as credited.
WATCH_LESSONS = 2
WATCH_SECONDS = 6


@dataclass
class BenchData:
    folder: Path
    database_url: str
    secret_key: str
    media_root: Path
    learners: list[str] = field(default_factory=list)
    lesson_id: int = 0  # a video lesson with a real, probed demo video (progress)
    lesson_path: str = ""  # that lesson's page
    range_lesson_id: int = 0
    video_key: str = ""
    video_size: int = 0
    cookie_header: str = ""
    courses: int = 0
    lessons: int = 0
    crowd: list[str] = field(default_factory=list)  # learners of the mixed load
    watch_lessons: list[int] = field(default_factory=list)  # the progress load's lessons
    watch_seconds: float = 0.0  # their videos' duration


def postgres_reachable(url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception:
        return False
    return True


def postgres_schema_url(url: str, schema: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    options = urllib.parse.quote(f"-csearch_path={schema}")
    return f"{url}{'&' if '?' in url else '?'}options={options}"


def app_environment(data: BenchData) -> dict[str, str]:
    return {
        "LMS_INSTANCE_PATH": str(data.folder / "instance"),
        "LMS_DATABASE_URL": data.database_url,
        "LMS_SECRET_KEY": data.secret_key,
        "LMS_MEDIA_ROOT": str(data.media_root),
    }


def build(folder: Path, database_url: str, learners: int) -> BenchData:
    """Schema, the four camps, a real demo video on one lesson, a large file on another,
    and the catalog at park scale (:mod:`bench.catalog_data`)."""
    folder.mkdir(parents=True)
    data = BenchData(folder, database_url, secrets.token_hex(16), folder / "media")
    os.environ.update(app_environment(data))
    from sqlalchemy.orm import joinedload

    from lms import create_app
    from lms.extensions import db
    from lms.models import Course, Enrollment, Lesson, MediaAsset, Module, User
    from lms.services import accounts, camps, demo_media, media
    from lms.services.enrollment import enroll

    app = create_app()
    with app.test_request_context():
        db.create_all()
        camps.sync()
        course = db.session.scalar(
            db.select(Course).filter_by(slug="strategy-toolkit").options(joinedload(Course.camp))
        )
        camp = course.camp  # held: the commits below expire the course, not this camp
        lessons = db.session.scalars(
            db.select(Lesson)
            .join(Module)
            .where(Module.course_id == course.id, Lesson.kind == "video")
        ).all()
        video = demo_media.generate_demo_video(
            folder / "demo.webm", seconds=VIDEO_SECONDS, color="#1f4fb8"
        )
        asset, _ = media.import_file(video)
        lessons[0].media = asset
        blob_key = f"{secrets.token_hex(16)}.webm"
        blob = data.media_root / blob_key[:2] / blob_key
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(os.urandom(RANGE_FILE_BYTES))  # bytes to serve; never probed
        big = MediaAsset(
            storage_key=blob_key, sha256=secrets.token_hex(32), original_name="range.webm",
            mime_type="video/webm", size_bytes=RANGE_FILE_BYTES, duration_seconds=600.0,
            status="ready",
        )  # fmt: skip
        lessons[1].media = big
        db.session.commit()
        data.lesson_id, data.range_lesson_id = lessons[0].id, lessons[1].id
        data.lesson_path = f"/camps/{camp.slug}/{course.slug}/lessons/{lessons[0].slug}"
        data.video_key, data.video_size = f"{blob_key[:2]}/{blob_key}", RANGE_FILE_BYTES
        short, _ = media.import_file(
            demo_media.generate_demo_video(
                folder / "short.webm", seconds=WATCH_SECONDS, color="#b8411f"
            )
        )
        # Not named bench-…: catalog_data fills every bench-… course with its own lessons.
        watch = Course(
            camp=camp, slug="watch-short", status="published", position=99,
            title_zh="看完整门课", title_en="Watched to the end",
        )  # fmt: skip
        module = Module(course=watch, slug="m", title_zh="单元", title_en="Unit")
        watched = [
            Lesson(module=module, slug=f"v{index}", position=index, kind="video", media=short,
                   title_zh=f"短片 {index + 1}", title_en=f"Clip {index + 1}", required=True)
            for index in range(WATCH_LESSONS)
        ]  # fmt: skip
        db.session.add_all([watch, module, *watched])
        db.session.commit()
        data.watch_lessons = [lesson.id for lesson in watched]
        data.watch_seconds = float(short.duration_seconds)
        for number in range(learners):
            user = accounts.create_user(f"bench{number}@example.com", f"Bench {number}", PASSWORD)
            enroll(user, course)
            enroll(user, watch)
            data.learners.append(user.email)
        scale = catalog_data.populate(PASSWORD, asset.id)
        data.courses, data.lessons = scale.courses, scale.lessons
        # The simulated learners of the mixed load watch the demo video's course.
        data.crowd = scale.learners[:CROWD]
        crowd_ids = db.session.scalars(db.select(User.id).where(User.email.in_(data.crowd)))
        db.session.execute(
            db.insert(Enrollment), [{"user_id": i, "course_id": course.id} for i in crowd_ids]
        )
        db.session.commit()
        analyze(db.engine)
        db.session.remove()
        db.engine.dispose()
    return data


def analyze(engine: Any) -> None:
    """PostgreSQL's planner statistics for the freshly loaded tables (autovacuum would take
    its time): plans as a running database has them."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()


def learner_count(data: BenchData) -> int:
    from sqlalchemy import create_engine, text

    from lms.config import normalise_database_url

    engine = create_engine(normalise_database_url(data.database_url))
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM users WHERE role = 'learner'"))
        value = count.scalar_one()
    engine.dispose()
    return value


def progress_outcome(data: BenchData) -> dict[str, int]:
    """What the progress load wrote: lessons and courses completed, ledger entries."""
    from sqlalchemy import create_engine, text

    from lms.config import normalise_database_url

    queries = {
        "lessons_completed": "SELECT count(*) FROM lesson_progress p"
        " JOIN lessons l ON l.id = p.lesson_id JOIN modules m ON m.id = l.module_id"
        " JOIN courses c ON c.id = m.course_id"
        " WHERE c.slug = 'watch-short' AND p.completed_at IS NOT NULL",
        "courses_completed": "SELECT count(*) FROM enrollments e"
        " JOIN courses c ON c.id = e.course_id"
        " WHERE c.slug = 'watch-short' AND e.completed_at IS NOT NULL",
        "ledger_entries": "SELECT count(*) FROM training_time WHERE source = 'video'",
    }
    engine = create_engine(normalise_database_url(data.database_url))
    with engine.connect() as connection:
        outcome = {name: connection.execute(text(q)).scalar_one() for name, q in queries.items()}
    engine.dispose()
    return outcome


def drop(data: BenchData) -> None:
    drop_schema(data.database_url)


def drop_schema(database_url: str) -> None:
    """Drop the PostgreSQL schema a :func:`postgres_schema_url` URL points into."""
    if database_url.startswith("postgresql"):
        import psycopg

        schema = re.search(r"search_path%3D(\w+)", database_url).group(1)
        base = database_url.split("?")[0]
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


class Browser:
    """Just enough of a browser: cookies, the CSRF token of the page, JSON posts."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        # No User-Agent, as wrk and http.client send none: a browser sends the same one with
        # its cookie as when it logged in. With another, Flask-Login would mark the login not
        # fresh on every request, and the cookie (never updated by wrk) would be signed anew.
        self.opener.addheaders = []

    def csrf(self, path: str = "/login") -> str:
        page = self.opener.open(self.base + path).read().decode()
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def login(self, email: str) -> None:
        token = self.csrf()
        form = urllib.parse.urlencode({"email": email, "password": PASSWORD, "csrf_token": token})
        self.opener.open(self.base + "/login", form.encode())

    def post_json(self, path: str, token: str) -> dict:
        request = urllib.request.Request(
            self.base + path, data=b"", method="POST",
            headers={"X-CSRFToken": token, "Content-Type": "application/json"},
        )  # fmt: skip
        return json.loads(self.opener.open(request).read())

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


def open_sessions(base: str, data: BenchData) -> list[dict[str, object]]:
    """Log every learner in over HTTP and open a playback session for each of the short
    course's lessons."""
    sessions = []
    for email in data.learners:
        browser = Browser(base)
        browser.login(email)
        token = browser.csrf("/")
        paths = []
        for lesson_id in data.watch_lessons:
            opened = browser.post_json(f"/api/lessons/{lesson_id}/playback", token)
            paths.append(f"/api/playback/{opened['session_id']}/progress")
        sessions.append({"cookie": browser.cookie_header, "csrf": token, "paths": paths})
        data.cookie_header = data.cookie_header or browser.cookie_header
    return sessions


def unknown_sessions(sessions: list[dict[str, object]]) -> list[dict[str, object]]:
    """The same learners, cookies and tokens, reporting to playback sessions that do not
    exist (well-formed ids): every call is authenticated, CSRF-checked and answered 404."""
    return [
        {**session, "paths": [f"/api/playback/{secrets.token_hex(16)}/progress"]}
        for session in sessions
    ]


def _lua(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(_lua(v) for v in value) + "}"
    return f'"{value}"' if isinstance(value, str) else str(value)


def write_progress_script(path: Path, sessions: list[dict[str, object]], duration: float) -> None:
    """Learners playing their playback sessions as players do, split between wrk's threads.

    Each report of a session claims two more seconds of video played from where that
    session started (a random place; past the end it goes on from the start) and one more
    second of playing time: the server credits what the wall clock allows (the window, 2x),
    so sessions earn coverage and training time (ledger entries) and complete their lessons
    and the course during the run. Sequence numbers grow with the clock, so a run after the
    warm-up continues the same sessions with higher numbers instead of replaying them.
    """
    path.write_text(
        f"local users = {_lua(sessions)}\n"
        f"local duration, epoch = {duration}, {int(time.time())}\n"
        """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
  thread:set("thread_count", 2)
end

local mine, count = {}, 0
function init(args)
  math.randomseed(os.time() * 1000 + (thread_number or 1) * 7919)
  for index, user in ipairs(users) do
    if (index - 1) % (thread_count or 1) == (thread_number or 1) - 1 then
      local played = {}
      for k = 1, #user.paths do
        played[k] = {start = math.random() * duration, video = 0, wall = 0}
      end
      mine[#mine + 1] = {user = user, played = played, next = 0}
    end
  end
end

local turn = 0
request = function()
  turn = turn % #mine + 1
  local learner = mine[turn]
  learner.next = learner.next % #learner.user.paths + 1
  local s = learner.played[learner.next]
  count = count + 1
  local seq = (os.time() - epoch) * 100000 + count
  s.video = math.min(s.video + 2, duration)
  s.wall = s.wall + 1
  local stop = s.start + s.video
  local intervals
  if stop <= duration then
    intervals = string.format("[[%.3f, %.3f]]", s.start, stop)
  else
    intervals = string.format("[[%.3f, %.3f], [0, %.3f]]", s.start, duration, stop - duration)
    stop = stop - duration
  end
  local body = string.format(
    '{"seq": %d, "position": %.3f, "played_seconds": %d, "intervals": %s}',
    seq, stop, s.wall, intervals)
  return wrk.format("POST", learner.user.paths[learner.next], {["Cookie"] = learner.user.cookie,
    ["X-CSRFToken"] = learner.user.csrf, ["Content-Type"] = "application/json"}, body)
end
"""
    )


def write_pages_script(path: Path, paths: list[str], cookie: str) -> None:
    """GET the given pages in turn as one logged-in learner."""
    listed = ", ".join(f'"{p}"' for p in paths)
    path.write_text(
        f'local paths, cookie = {{{listed}}}, "{cookie}"\n'
        """
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], {["Cookie"] = cookie})
end
"""
    )


def write_upsert_script(path: Path, users: int) -> None:
    path.write_text(
        f"local users = {users}\n"
        """
local seq = 0
request = function()
  seq = seq + 1
  local body = string.format('{"user": %d, "lesson": 1, "position": %d}', seq % users, seq % 55)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""
    )


def write_range_script(path: Path, size: int, cookie: str) -> None:
    path.write_text(
        f'local size, cookie = {size}, "{cookie}"\n'
        """
math.randomseed(os.time())
request = function()
  local start = math.random(0, size - 1048576 - 1)
  return wrk.format("GET", nil, {["Range"] = "bytes=" .. start .. "-" .. (start + 1048575),
    ["Cookie"] = cookie})
end
"""
    )


# The start of the benchmarks' nginx configurations (bench_range, bench.hls): one worker, the
# temporary folders, the app's auth cache and upstream; ``{name}`` names the pid, log and cache
# files, and the rest is a ``str.format`` template (``{folder}``, ``{app_port}``) the caller
# completes with its servers and the closing brace.
NGINX_HEAD = """
worker_processes 1;
pid {folder}/{name}.pid;
error_log {folder}/{name}-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  proxy_cache_path {folder}/{name}-auth-cache levels=1:2 keys_zone=lms_media_auth:2m
                   max_size=32m inactive=1m;
  upstream lms_app {{ server 127.0.0.1:{app_port}; keepalive 32; }}
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $host;
"""
