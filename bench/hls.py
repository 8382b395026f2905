"""``python -m bench hls``: HLS segments through the production path against plain nginx.

A 60-second 1280x720 clip at a lecture's bit rate (about 3 Mbit/s, noise in the picture,
speech-like sound; :func:`bench.transcode.make_clip`) is imported through
``lms.services.media.import_file`` — the ingest pipeline makes its HLS package — and played
by 50 video lessons of 10 courses in the four camps. 200 learners of the park-scale catalog
are enrolled in those courses and log in over HTTP: 200 session cookies.

The production path: gunicorn (deploy/gunicorn.conf.py, ``LMS_MEDIA_ACCEL_REDIRECT``) behind
nginx with the shipped ``deploy/nginx-media.conf`` (``auth_request`` to the app, its yes
cached 10 s per session cookie and lesson, nginx sending the file). The baseline: the same
nginx serving the same files from a location without any check.

wrk plays viewers: each connection's next request continues a viewer who picked a random
(cookie, lesson) pair and fetches the top variant's ``init.mp4`` then ``seg_00000.m4s`` …
in order, then picks another pair. Both sides get the same sequence of requests, cookies
included. Before the run: a learner not enrolled gets 403 and no cookie gets 401 through the
production path, so it really authorizes; an enrolled learner gets the segment's bytes.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench import setup_data

COURSES = 10
LESSONS_PER_COURSE = 5
VIEWERS = 200
CONNECTIONS = 32
WRK_THREADS = 2  # as bench.__main__.wrk runs it
# A player waits this long for a segment before it counts as failed (hls.js waits 20 s;
# wrk's own default, 2 s, would count a slow start on these busy cores as an error).
TIMEOUT = 10
CLIP_SECONDS = 60
CLIP_BITRATE = "3M"


@dataclass
class HlsData:
    lessons: list[int] = field(default_factory=list)
    learners: list[str] = field(default_factory=list)
    stranger: str = ""
    stranger_lesson: int = 0
    stream_dir: str = ""
    variant: str = ""
    files: list[str] = field(default_factory=list)  # init.mp4 and the segments, in order
    bytes_per_view: int = 0


def clip(folder: Path) -> Path:
    """The 720p clip, made once per bench run (every engine imports the same file)."""
    from bench.transcode import make_clip

    path = folder / "clip-720p.mp4"
    if not path.exists():
        make_clip(path, CLIP_SECONDS, 1280, 720, CLIP_BITRATE)
    return path


def prepare(data: setup_data.BenchData) -> HlsData:
    """Import the clip, give it to 50 lessons of 10 courses, enrol 200 learners in them."""
    os.environ.update(setup_data.app_environment(data))
    from lms import create_app
    from lms.extensions import db
    from lms.models import Course, Enrollment, Lesson, Module, User
    from lms.services import media

    hls = HlsData()
    app = create_app()
    with app.test_request_context():
        asset, _ = media.import_file(clip(data.folder.parent))
        top = asset.renditions[-1]
        hls.stream_dir, hls.variant = asset.stream_dir, top["playlist"].split("/")[0]
        variant = data.media_root / "streams" / asset.stream_dir / "hls" / hls.variant
        playlist = (variant / "index.m3u8").read_text()
        hls.files = [
            line.split('URI="')[1].rstrip('"')
            for line in playlist.splitlines()
            if line.startswith("#EXT-X-MAP:")
        ] + [line for line in playlist.splitlines() if line and not line.startswith("#")]
        hls.bytes_per_view = sum((variant / name).stat().st_size for name in hls.files)
        courses = list(
            db.session.scalars(
                db.select(Course.id)
                .where(Course.slug.like("bench-%"))
                .order_by(Course.id)
                .limit(COURSES)
            )
        )
        for course_id in courses:
            chosen = db.session.scalars(
                db.select(Lesson.id)
                .join(Module)
                .where(Module.course_id == course_id, Lesson.kind == "video")
                .order_by(Lesson.id)
                .limit(LESSONS_PER_COURSE)
            ).all()
            db.session.execute(
                db.update(Lesson).where(Lesson.id.in_(chosen)).values(media_id=asset.id)
            )
            hls.lessons.extend(chosen)
        rows = db.session.execute(
            db.select(User.id, User.email)
            .where(User.email.like("%@bench.example"))
            .order_by(User.id)
            .limit(VIEWERS + 200)
        ).all()
        viewers, others = rows[-VIEWERS:], rows[:-VIEWERS]
        enrolled = set(
            db.session.execute(
                db.select(Enrollment.user_id, Enrollment.course_id).where(
                    Enrollment.course_id.in_(courses)
                )
            ).all()
        )
        db.session.execute(
            db.insert(Enrollment),
            [
                {"user_id": user_id, "course_id": course_id}
                for user_id, _email in viewers
                for course_id in courses
                if (user_id, course_id) not in enrolled
            ],
        )
        hls.learners = [email for _id, email in viewers]
        # A stranger: a learner of the catalog enrolled in none of the first course's lessons.
        first = courses[0]
        hls.stranger = next(email for user_id, email in others if (user_id, first) not in enrolled)
        hls.stranger_lesson = hls.lessons[0]
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return hls


def write_script(path: Path, hls: HlsData, cookies: list[str]) -> None:
    """Viewers in Lua: every connection of a wrk thread continues one of its viewers."""
    quoted = ",\n".join(f'  "{cookie}"' for cookie in cookies)
    files = ", ".join(f'"{name}"' for name in hls.files)
    lessons = ", ".join(str(lesson) for lesson in hls.lessons)
    path.write_text(
        f"local cookies = {{\n{quoted}\n}}\n"
        f"local lessons = {{{lessons}}}\n"
        f"local files = {{{files}}}\n"
        f'local variant = "{hls.variant}"\n'
        f"local per_thread = {max(1, CONNECTIONS // WRK_THREADS)}\n"
        """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local viewers = {}
function init(args)
  math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919)
  for i = 1, per_thread do
    viewers[i] = {next = #files + 1}
  end
end

local turn = 0
function request()
  turn = turn % #viewers + 1
  local viewer = viewers[turn]
  if viewer.next > #files then
    viewer.cookie = cookies[math.random(#cookies)]
    viewer.prefix = "/media/lessons/" .. lessons[math.random(#lessons)] .. "/hls/" .. variant .. "/"
    viewer.next = 1
  end
  local path = viewer.prefix .. files[viewer.next]
  viewer.next = viewer.next + 1
  return wrk.format("GET", path, {["Cookie"] = viewer.cookie})
end
"""
    )


def write_authorize_script(path: Path, hls: HlsData, cookies: list[str]) -> None:
    """The decisions alone: random (cookie, lesson) pairs asking the app's authorize URL."""
    quoted = ",\n".join(f'  "{cookie}"' for cookie in cookies)
    lessons = ", ".join(str(lesson) for lesson in hls.lessons)
    path.write_text(
        f"local cookies = {{\n{quoted}\n}}\n"
        f"local lessons = {{{lessons}}}\n"
        """
function request()
  local path = "/media/lessons/" .. lessons[math.random(#lessons)] .. "/authorize"
  return wrk.format("GET", path, {["Cookie"] = cookies[math.random(#cookies)]})
end
"""
    )


NGINX_CONF = (
    setup_data.NGINX_HEAD.replace("{name}", "nginx-hls")
    + """
  server {{
    listen 127.0.0.1:{port};
    include {folder}/nginx-media-hls.conf;
    location /protected-media/ {{ internal; alias {media}/; }}
    location / {{ proxy_pass http://lms_app; }}
  }}
  server {{
    listen 127.0.0.1:{direct_port};
    location ~ ^/media/lessons/[0-9]+/hls/(.+)$ {{
      alias {media}/streams/{stream_dir}/hls/$1;
      types {{
        application/vnd.apple.mpegurl m3u8;
        video/mp4 mp4;
        video/iso.segment m4s;
      }}
      add_header Cache-Control "private, no-store" always;
      add_header X-Content-Type-Options "nosniff" always;
    }}
  }}
}}
"""
)


def distinct_ports(count: int) -> list[int]:
    """Free ports, all different (each socket is held until all are chosen)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def fetch(url: str, cookie: str = "") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, b""


def log_in(base: str, emails: list[str]) -> list[str]:
    """Each learner's session cookie, logged in over HTTP (8 at a time: scrypt is slow)."""

    def one(email: str) -> str:
        browser = setup_data.Browser(base)
        browser.login(email)
        cookie = browser.cookie_header
        if "session=" not in cookie:
            raise RuntimeError(f"{email} could not log in")
        return cookie

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, emails))


def bench_hls(data: setup_data.BenchData, env: dict, seconds: int, tag: str) -> None:
    from bench.__main__ import GUNICORN, measured, report, serve, wait_for_port

    if shutil.which("nginx") is None:
        print("BENCH hls_skipped 0 (nginx not installed: apt-get install nginx-light)")
        return
    hls = prepare(data)
    app_port, port, direct_port = distinct_ports(3)
    folder = data.folder
    (folder / "nginx-hls.conf").write_text(
        NGINX_CONF.format(
            folder=folder, port=port, direct_port=direct_port, app_port=app_port,
            media=data.media_root, stream_dir=hls.stream_dir,
        )
    )  # fmt: skip
    snippet = Path(__file__).resolve().parent.parent / "deploy" / "nginx-media.conf"
    text = snippet.read_text().replace("/srv/lms/media", str(data.media_root))
    (folder / "nginx-media-hls.conf").write_text(text)
    accel_env = {**env, "LMS_MEDIA_ACCEL_REDIRECT": "/protected-media/"}
    nginx = subprocess.Popen(["nginx", "-c", str(folder / "nginx-hls.conf"), "-g", "daemon off;"])
    try:
        wait_for_port(port)
        wait_for_port(direct_port)
        with serve(
            [*GUNICORN, "--bind", f"127.0.0.1:{app_port}", "lms:create_app()"],
            app_port,
            accel_env,
        ) as app_url:
            cookies = log_in(app_url, hls.learners)
            (stranger,) = log_in(app_url, [hls.stranger])
            production, direct = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{direct_port}"
            check_authorizes(production, direct, hls, cookies, stranger)
            script = folder / "hls.lua"
            write_script(script, hls, cookies)
            accel = measured(production + "/", script, seconds, CONNECTIONS, TIMEOUT)
            baseline = measured(direct + "/", script, seconds, CONNECTIONS, TIMEOUT)
            # Once more each, the other way round: the order does not favour either side.
            baseline_2 = measured(direct + "/", script, seconds, CONNECTIONS, TIMEOUT)
            accel_2 = measured(production + "/", script, seconds, CONNECTIONS, TIMEOUT)
            # What one decision costs: the app answering authorize requests, nothing else.
            # (The app's own port: nginx never forwards this URL from browsers.)
            decide = folder / "hls-authorize.lua"
            write_authorize_script(decide, hls, cookies)
            decisions_alone = measured(app_url + "/", decide, seconds, 16, TIMEOUT)
        # Each entry of the auth cache is one decision the app made (a viewer's new pair).
        decisions = sum(1 for p in (folder / "nginx-hls-auth-cache").rglob("*") if p.is_file())
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
    mib = 1 << 20
    print(f"bench: hls {tag}: {decisions} decisions of the app in nginx's cache", file=sys.stderr)
    accel_bytes = (accel["bytes_per_s"] + accel_2["bytes_per_s"]) / 2
    direct_bytes = (baseline["bytes_per_s"] + baseline_2["bytes_per_s"]) / 2
    report(f"hls_segments_xaccel_{tag}", accel_bytes / mib, "MiB/s")
    report(f"hls_segments_nginx_direct_{tag}", direct_bytes / mib, "MiB/s")
    report(f"hls_segments_xaccel_vs_nginx_{tag}", accel_bytes / direct_bytes, "ratio")
    report(f"hls_segments_xaccel_rps_{tag}", (accel["rps"] + accel_2["rps"]) / 2, "req/s")
    report(
        f"hls_segments_nginx_direct_rps_{tag}", (baseline["rps"] + baseline_2["rps"]) / 2, "req/s"
    )
    report(f"hls_authorize_decisions_{tag}", decisions_alone["rps"], "req/s")
    views = (accel["rps"] + accel_2["rps"]) / 2 / len(hls.files)
    report(f"hls_views_started_xaccel_{tag}", views, "views/s")
    for name, runs in (
        ("xaccel", (accel, accel_2)),
        ("nginx_direct", (baseline, baseline_2)),
        ("authorize", (decisions_alone,)),
    ):
        failed = sum(run["errors"] + run["timeouts"] + run["socket_errors"] for run in runs)
        report(f"hls_errors_{name}_{tag}", failed, "count")
    for name, runs in (
        ("xaccel", (accel, accel_2)),
        ("nginx_direct", (baseline, baseline_2)),
        ("authorize", (decisions_alone,)),
    ):
        report(f"hls_p99_{name}_{tag}", max(run["p99_ms"] for run in runs), "ms")
        print(
            f"bench: hls {name} {tag}: "
            + ", ".join(
                f"{run['bytes_per_s'] / mib:.0f} MiB/s {run['rps']:.0f} req/s "
                f"(non-2xx {run['errors']}, timeouts {run['timeouts']}, "
                f"socket errors {run['socket_errors']})"
                for run in runs
            ),
            file=sys.stderr,
        )
    log = folder / "nginx-hls-error.log"
    if log.exists() and log.stat().st_size:
        print("bench: nginx's error log:\n" + log.read_text()[-2000:], file=sys.stderr)


def check_authorizes(
    production: str, direct: str, hls: HlsData, cookies: list[str], stranger: str
) -> None:
    """The production path refuses a stranger (403) and no cookie (401), and gives an
    enrolled learner the same bytes as the baseline; the baseline serves every file."""
    lesson = hls.stranger_lesson
    first = f"/media/lessons/{lesson}/hls/{hls.variant}/{hls.files[1]}"
    status, _ = fetch(production + first, stranger)
    if status != 403:
        raise RuntimeError(f"a stranger's cookie got {status}, not 403, for {first}")
    status, _ = fetch(production + first)
    if status != 401:
        raise RuntimeError(f"no cookie got {status}, not 401, for {first}")
    status, body = fetch(production + first, random.choice(cookies))
    expected = fetch(direct + first)
    if status != 200 or expected != (200, body):
        raise RuntimeError(f"an enrolled learner got {status} for {first}, or other bytes")
    for name in hls.files:
        status, _ = fetch(f"{direct}/media/lessons/{lesson}/hls/{hls.variant}/{name}")
        if status != 200:
            raise RuntimeError(f"the baseline answered {status} for {name}")
