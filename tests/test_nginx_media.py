"""Lesson videos behind a real nginx with the shipped snippet (deploy/nginx-media.conf).

nginx asks the app whether the session may watch (``auth_request``), caches a yes for a few
seconds per session and lesson, and sends the bytes itself. Debian's nginx (nginx-light has
``auth_request``); CI installs it (.ci/run).
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from lms.extensions import db
from lms.models import Enrollment
from tests.conftest import PASSWORD
from tests.servers import ROOT, free_port, unavailable
from tests.test_media import attach_demo_video

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
if not Path(NGINX).exists():
    unavailable("no nginx (apt-get install nginx-light)", module=True)

SNIPPET = ROOT / "deploy" / "nginx-media.conf"
CACHE_SECONDS = 1  # the shipped 10 s, shortened so the test can wait it out

CONFIG = """
{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  proxy_cache_path {folder}/auth-cache levels=1:2 keys_zone=lms_media_auth:1m max_size=4m
                   inactive=1m;
  upstream lms_app {{ server 127.0.0.1:{app_port}; }}
  server {{
    listen 127.0.0.1:{port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    include {snippet};
    location /protected-media/ {{ internal; alias {media}/; }}
    location / {{ proxy_pass http://lms_app; }}
  }}
}}
"""


@dataclass
class Site:
    url: str
    lesson_id: int
    video: bytes
    storage_key: str  # the file the lesson's URL plays, under the media store
    authorizations: list[str]  # the paths of the app's authorize answers, in order


@pytest.fixture
def site(make_app, make_user, demo_video, tmp_path) -> Iterator[Site]:
    os.chmod(tmp_path, 0o755)  # noqa: S103 - nginx's workers may run as another user
    media_root = tmp_path / "media"
    app = make_app(MEDIA_ACCEL_REDIRECT="/protected-media/", MEDIA_ROOT=str(media_root))
    lesson_id, key = attach_demo_video(app, demo_video)
    make_user("viewer@example.com")
    make_user("stranger@example.com")
    for folder in (media_root, *media_root.rglob("*")):
        if folder.is_dir():
            os.chmod(folder, 0o755)  # noqa: S103

    authorizations: list[str] = []
    inner = app.wsgi_app

    def counting(environ, start_response):
        if environ["PATH_INFO"].endswith("/authorize"):
            authorizations.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    app.wsgi_app = counting
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    port = free_port()
    snippet = (
        SNIPPET.read_text()
        .replace("/srv/lms/media", str(media_root))
        .replace("proxy_cache_valid 200 10s;", f"proxy_cache_valid 200 {CACHE_SECONDS}s;")
    )
    (tmp_path / "media.conf").write_text(snippet)
    (tmp_path / "nginx.conf").write_text(
        CONFIG.format(
            user="user root;" if os.geteuid() == 0 else "",
            folder=tmp_path, port=port, app_port=server.server_port,
            snippet=tmp_path / "media.conf", media=media_root,
        )
    )  # fmt: skip
    nginx = subprocess.Popen(
        [NGINX, "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(port, nginx)
        yield Site(
            f"http://127.0.0.1:{port}", lesson_id, (media_root / key).read_bytes(), key,
            authorizations,
        )  # fmt: skip
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)
        server.shutdown()


def _wait_for(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nginx-is-up", timeout=2)
        except urllib.error.HTTPError:
            return  # any answer: nginx listens
        except OSError:
            time.sleep(0.1)
    raise AssertionError("nginx did not start")


class Browser:
    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def login(self, email: str) -> None:
        page = self.opener.open(self.base + "/login").read().decode()
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        form = {"email": email, "password": PASSWORD, "csrf_token": token}
        self.opener.open(self.base + "/login", urllib.parse.urlencode(form).encode())

    def enroll(self, path: str) -> None:
        page = self.opener.open(self.base + path).read().decode()
        token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
        self.opener.open(
            self.base + path + "enroll", urllib.parse.urlencode({"csrf_token": token}).encode()
        )

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(self.base + path, headers=headers)  # noqa: S310
        try:
            with self.opener.open(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


def viewer(site: Site) -> Browser:
    browser = Browser(site.url)
    browser.login("viewer@example.com")
    browser.enroll("/camps/startup-growth/strategy-toolkit/")
    return browser


def test_an_enrolled_learner_gets_ranges_sent_by_nginx(site):
    browser = viewer(site)
    status, headers, body = browser.get(f"/media/lessons/{site.lesson_id}", Range="bytes=100-1099")
    assert status == 206
    assert body == site.video[100:1100]
    assert headers["Content-Range"] == f"bytes 100-1099/{len(site.video)}"
    assert headers["Content-Type"] == "video/mp4"
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert site.storage_key not in str(headers)  # the file's name stays on the server
    status, _headers, body = browser.get(f"/media/lessons/{site.lesson_id}")
    assert status == 200 and body == site.video


def test_the_app_is_asked_once_per_session_and_lesson_while_the_answer_is_cached(site):
    browser = viewer(site)
    for start in range(0, 20_000, 1000):
        status, _h, body = browser.get(
            f"/media/lessons/{site.lesson_id}", Range=f"bytes={start}-{start + 999}"
        )
        assert status == 206 and body == site.video[start : start + 1000]
    assert len(site.authorizations) == 1
    time.sleep(CACHE_SECONDS + 1.2)  # nginx counts whole seconds
    assert browser.get(f"/media/lessons/{site.lesson_id}", Range="bytes=0-9")[0] == 206
    assert len(site.authorizations) == 2  # asked again once the answer expired


def test_strangers_and_anonymous_visitors_get_no_bytes(site):
    stranger = Browser(site.url)
    stranger.login("stranger@example.com")
    viewer(site).get(f"/media/lessons/{site.lesson_id}")  # a yes for someone else is cached
    for browser, expected in ((stranger, 403), (Browser(site.url), 401)):
        status, _headers, body = browser.get(f"/media/lessons/{site.lesson_id}")
        assert status == expected
        assert site.video[:64] not in body
    assert stranger.get("/media/lessons/999999")[0] == 403  # like any refused lesson


def test_leaving_the_course_stops_the_bytes_once_the_cached_answer_expires(site, make_app):
    browser = viewer(site)
    assert browser.get(f"/media/lessons/{site.lesson_id}", Range="bytes=0-9")[0] == 206
    app = make_app(sync=False)
    with app.app_context():
        db.session.execute(db.delete(Enrollment))
        db.session.commit()
    time.sleep(CACHE_SECONDS + 1.2)  # nginx counts whole seconds
    status, _headers, body = browser.get(f"/media/lessons/{site.lesson_id}", Range="bytes=0-9")
    assert status == 403 and body != site.video[:10]


def test_browsers_cannot_reach_the_question_or_the_files(site):
    browser = viewer(site)
    assert browser.get(f"/media/lessons/{site.lesson_id}/authorize")[0] == 404
    key = site.storage_key
    assert browser.get(f"/protected-media/{key}")[0] == 404
    assert browser.get(f"/{key}")[0] == 404
    folder = key.rpartition("/")[0]
    assert browser.get(f"/protected-media/{folder}/hls/master.m3u8")[0] == 404
    for name in ("hls/../../../etc/passwd", "hls/180p/../../x.mp4", "hls/x.m3u8", "mp4/x.mp4"):
        assert browser.get(f"/media/lessons/{site.lesson_id}/{name}")[0] == 404


def test_hls_playlists_segments_and_previews_are_sent_by_nginx_after_one_question(site):
    """Every file of the HLS package, the MP4 rendition and the sprites: one authorization
    for all of them (cached per session and lesson), and the bytes of the stored files."""
    browser = viewer(site)
    base = f"/media/lessons/{site.lesson_id}"
    folder = Path(site.storage_key).parent
    status, headers, master = browser.get(f"{base}/hls/master.m3u8")
    assert status == 200 and headers["Content-Type"] == "application/vnd.apple.mpegurl"
    variant = next(line for line in master.decode().splitlines() if line.endswith(".m3u8"))
    status, _headers, playlist = browser.get(f"{base}/hls/{variant}")
    assert status == 200
    rendition = variant.split("/")[0]
    names = ["init.mp4", *re.findall(r"seg_\d{5}\.m4s", playlist.decode())]
    assert len(names) >= 2
    for name in names:
        status, headers, body = browser.get(f"{base}/hls/{rendition}/{name}")
        assert status == 200 and headers["Cache-Control"] == "private, no-store"
        assert headers["Content-Type"] == (
            "video/mp4" if name == "init.mp4" else "video/iso.segment"
        )
        assert len(body) > 0
    height = rendition.removesuffix("p")
    status, headers, body = browser.get(f"{base}/mp4/{height}.mp4", Range="bytes=0-99")
    assert status == 206 and body == site.video[:100]
    status, headers, _body = browser.get(f"{base}/thumbs/thumbs_000.jpg")
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert len(site.authorizations) == 1
    assert folder.name not in master.decode() + playlist.decode()  # stays on the server


def test_strangers_get_no_segment_from_nginx(site):
    viewer(site).get(f"/media/lessons/{site.lesson_id}/hls/master.m3u8")  # a cached yes
    stranger = Browser(site.url)
    stranger.login("stranger@example.com")
    base = f"/media/lessons/{site.lesson_id}"
    for url in (f"{base}/hls/master.m3u8", f"{base}/mp4/180.mp4", f"{base}/thumbs/thumbs_000.jpg"):
        assert stranger.get(url)[0] == 403
        assert Browser(site.url).get(url)[0] == 401
