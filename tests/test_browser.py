"""Real-browser tests: Debian chromium driven by Playwright against the app on a live server.

The app runs in a background thread (werkzeug's threaded server) on the test database, so
these tests see exactly what a learner's browser would: cookies, CSP, video playback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from lms.extensions import db
from lms.models import Course, LessonProgress
from lms.services import demo_media, media
from tests.conftest import PASSWORD, course_url, video_lessons_of
from tests.servers import unavailable

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)", module=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not installed (pip install .[test])"
)

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIDEO_SECONDS = 6
TIMEOUT_MS = 15_000

# Recorded in every page before its own scripts run: CSP violations, whatever their source.
RECORD_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
});
"""


@pytest.fixture(scope="session")
def browser_video(tmp_path_factory) -> Path:
    """A real VP8/Opus WebM, generated once per session."""
    path = tmp_path_factory.mktemp("browser-video") / f"demo-{VIDEO_SECONDS}s.webm"
    return demo_media.generate_demo_video(path, seconds=VIDEO_SECONDS, color="#1f4fb8")


@pytest.fixture(scope="module", name="browser")
def chromium_browser() -> Iterator:
    """Debian's Chromium through Playwright, one per test module (imported by the others)."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app: Flask, course: Course, browser_video: Path) -> Iterator[str]:
    """The app served on a free local port, with the demo video on the course's video lessons."""
    with app.app_context():
        asset, _created = media.import_file(browser_video)
        lessons = video_lessons_of(course.id)
        assert lessons, "the course has no video lessons"
        for lesson in lessons:
            lesson.media = asset
        db.session.commit()
        db.session.remove()
    with serving(app) as base:
        yield base


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on a free local port, in a thread (werkzeug's threaded server)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _new_context(browser, base_url: str, **options):
    context = browser.new_context(base_url=base_url, locale="en-US", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_CSP)
    return context


@pytest.fixture
def context(browser, live_server: str) -> Iterator:
    context = _new_context(browser, live_server)
    yield context
    context.close()


@pytest.fixture
def phone(browser, live_server: str) -> Iterator:
    context = _new_context(
        browser,
        live_server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    yield context
    context.close()


def log_in(page, email: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("[data-test=login]")
    assert page.url.endswith("/dashboard"), page.url


def enroll(page, course: Course) -> None:
    page.goto(course_url(course))
    with page.expect_navigation():
        page.click("[data-test=enroll]")
    assert page.url.endswith(course_url(course)), page.url


def wait_until(page, expression: str, timeout: float = TIMEOUT_MS / 1000) -> None:
    """Poll ``expression`` in the page (wait_for_function would need 'unsafe-eval' in the CSP)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        page.wait_for_timeout(50)


def wait_for_video_metadata(page) -> None:
    wait_until(
        page,
        "document.getElementById('player') && document.getElementById('player').readyState >= 1",
    )


def test_learner_logs_in_enrolls_and_the_video_plays(context, course, learner):
    page = context.new_page()
    video_responses = []
    page.on("response", lambda r: "/media/lessons/" in r.url and video_responses.append(r))

    log_in(page, learner.email)
    enroll(page, course)
    assert "You are enrolled" in page.inner_text(".flash")
    links = page.locator("section.syllabus li.lesson-row a")
    assert links.count() == 7  # every lesson of the syllabus (six and the quiz) is a link
    first_video = page.locator("section.syllabus li.lesson-row:has(.kind-video) a").first
    title = first_video.inner_text()
    with page.expect_navigation():
        first_video.click()

    assert page.inner_text("h1").endswith(title)
    wait_for_video_metadata(page)
    duration = page.evaluate("document.getElementById('player').duration")
    assert duration == pytest.approx(VIDEO_SECONDS, abs=0.5)
    page.evaluate("const v = document.getElementById('player'); v.muted = true; v.play()")
    wait_until(page, "document.getElementById('player').currentTime > 1")
    # The upload (VP8 WebM) was turned into HLS; hls.js plays its fMP4 segments.
    assert page.evaluate("document.getElementById('player').dataset.mode") == "hlsjs"
    assert page.evaluate("document.getElementById('player').error") is None
    urls = [r.url for r in video_responses]
    assert any(url.endswith("/hls/master.m3u8") for url in urls), urls
    assert any(url.endswith(".m4s") for url in urls), urls
    assert {r.status for r in video_responses} <= {200, 206}


def test_an_old_session_cookie_is_dead_after_logging_out(context, learner):
    page = context.new_page()
    log_in(page, learner.email)
    old_cookies = context.cookies()
    assert any(c["name"] == "session" for c in old_cookies)

    with page.expect_navigation():
        page.click("[data-test=logout]")
    assert page.locator("[data-test=logout]").count() == 0

    # Restore the cookie jar as it was before logging out (a back-up, a stolen cookie …).
    context.clear_cookies()
    context.add_cookies(old_cookies)
    page.goto("/dashboard")
    assert "/login" in page.url, page.url
    assert page.locator("[data-test=login]").is_visible()
    assert page.locator("[data-test=logout]").count() == 0


def test_the_layout_works_on_a_phone(phone, course, learner):
    page = phone.new_page()
    log_in(page, learner.email)
    enroll(page, course)

    toggle = page.locator(".nav-toggle-label")
    nav = page.locator("nav.nav")
    assert toggle.is_visible()
    assert not nav.is_visible()
    no_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(no_scroll), page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )

    toggle.tap()
    nav.wait_for(state="visible")
    assert page.locator("[data-test=logout]").is_visible()
    assert page.evaluate(no_scroll)

    with page.expect_navigation():
        page.locator("section.syllabus li.lesson-row:has(.kind-video) a").first.tap()
    wait_for_video_metadata(page)
    assert page.evaluate(no_scroll)
    box = page.locator("#player").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390


def test_no_console_errors_or_csp_violations(context, course, learner):
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def visit_and_check(label: str) -> None:
        page.wait_for_load_state("load")
        violations = page.evaluate("window.__csp")
        errors.extend(f"{label} CSP: {v}" for v in violations)

    page.goto("/")
    visit_and_check("catalog")
    log_in(page, learner.email)
    page.goto("/")
    visit_and_check("catalog (logged in)")
    enroll(page, course)
    visit_and_check("course")
    with page.expect_navigation():
        page.locator("section.syllabus li.lesson-row:has(.kind-video) a").first.click()
    wait_for_video_metadata(page)
    visit_and_check("video lesson")
    with page.expect_navigation():
        page.locator("aside.panel li.lesson-row:has(.kind-reading) a").first.click()
    visit_and_check("reading lesson")

    assert errors == []


def test_watching_is_recorded_and_the_lesson_resumes_after_a_reload(app, context, course, learner):
    page = context.new_page()
    log_in(page, learner.email)
    enroll(page, course)
    page.locator("section.syllabus li.lesson-row:has(.kind-video) a").first.click()
    wait_for_video_metadata(page)

    page.evaluate("const v = document.getElementById('player'); v.muted = true; v.play()")
    wait_until(page, "document.getElementById('player').currentTime >= 3")
    with page.expect_response(lambda r: r.url.endswith("/progress") and r.status == 200) as reply:
        page.evaluate("document.getElementById('player').pause()")
    state = reply.value.json()
    assert state["covered_seconds"] >= 2.5
    assert state["completed"] is False  # 3 of 6 seconds: below the 80% threshold
    assert page.locator("#lesson-progress").get_attribute("value") != "0"

    with app.app_context():
        row = db.session.scalars(db.select(LessonProgress)).one()
        assert row.covered_seconds == pytest.approx(state["covered_seconds"], abs=0.01)
        position = row.position_seconds
    assert position >= 2.9

    page.reload()
    wait_for_video_metadata(page)
    wait_until(page, "document.getElementById('player').currentTime > 1")
    resumed = page.evaluate("document.getElementById('player').currentTime")
    assert resumed == pytest.approx(position, abs=0.5)
