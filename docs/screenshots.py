"""Take the README screenshots with a real browser: ``.venv/bin/python docs/screenshots.py``.

Builds a throw-away instance (SQLite, demo accounts, short demo videos) in a temporary folder,
serves it on a free local port, and drives Debian chromium through Playwright: the demo
learner logs in, enrolls in two courses and marks a reading lesson read. Writes

    docs/screenshot.png         the catalog (desktop, 1280 wide)
    docs/screenshot-course.png  a course page with the learner's progress
    docs/screenshot-phone.png   a video lesson on a phone (390x844)

Nothing outside the temporary folder and these three files is touched.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parent
MAX_BYTES = 400 * 1024
LEARNER = "learner@demo.camp"
CAMP = "startup-growth"
COURSES = ("strategy-toolkit", "crisis-prevention")
READING_LESSON = ("strategy-toolkit", "one-page-strategy-plan")
VIDEO_LESSON = ("strategy-toolkit", "why-strategy-matters-early")
SHORT_VIDEOS = (6, 8, 10)  # seconds; the real demo uses longer ones


def build_instance(folder: Path) -> tuple[object, str]:
    """What ``lms init`` and ``lms demo`` do, on a temporary instance. Returns app, password."""
    for variable in ("LMS_DATABASE_URL", "LMS_MEDIA_ROOT", "LMS_SECRET_KEY", "LMS_LOAD_PLUGINS"):
        os.environ.pop(variable, None)
    os.environ["LMS_INSTANCE_PATH"] = str(folder)
    (folder / "config.py").write_text(f"SECRET_KEY = {secrets.token_hex(32)!r}\n", "utf-8")

    from flask_migrate import upgrade

    from lms import create_app
    from lms.services import camps, demo

    app = create_app()
    demo.DEMO_LENGTHS = SHORT_VIDEOS
    with app.app_context():
        Path(app.config["MEDIA_ROOT"]).mkdir(parents=True, exist_ok=True)
        upgrade()
        camps.sync()
        result = demo.install_demo()
        print(f"demo: {result.videos_created} videos, {result.lessons_attached} lessons")
    passwords = dict(
        line.split(" ", 1)
        for line in (folder / "demo-accounts.txt").read_text("utf-8").splitlines()
        if line
    )
    return app, passwords[LEARNER]


@contextmanager
def serve(app: object) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def lesson_path(course: str, lesson: str) -> str:
    return f"/camps/{CAMP}/{course}/lessons/{lesson}"


def log_in(page, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", LEARNER)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("[data-test=login]")


def show_video_frame(page, seconds: float) -> None:
    """Wait for the player, then seek so a real frame (not a black box) is on screen."""
    page.wait_for_function("document.getElementById('player').readyState >= 1")
    page.evaluate(
        """(t) => new Promise((done) => {
            const v = document.getElementById('player');
            v.addEventListener('seeked', () => done(), {once: true});
            v.currentTime = t;
        })""",
        seconds,
    )
    page.wait_for_function("document.getElementById('player').readyState >= 2")


def screenshot(page, path: Path, full_page: bool) -> None:
    page.screenshot(path=str(path), full_page=full_page)
    if full_page and path.stat().st_size > MAX_BYTES:
        page.screenshot(path=str(path))  # the first screen only, to keep the README light
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def take(base_url: str, password: str, locale: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        desktop = browser.new_context(
            base_url=base_url, locale=locale, viewport={"width": 1280, "height": 900}
        )
        desktop.set_default_timeout(20_000)
        page = desktop.new_page()
        log_in(page, password)
        for course in COURSES:
            page.goto(f"/camps/{CAMP}/{course}/")
            enroll = page.locator("[data-test=enroll]")
            if enroll.count():
                with page.expect_navigation():
                    enroll.click()
        page.goto(lesson_path(*READING_LESSON))
        mark_read = page.locator("form[action$='/read'] button")
        if mark_read.count():
            with page.expect_navigation():
                mark_read.click()

        page.goto("/")
        screenshot(page, out / "screenshot.png", full_page=True)
        page.goto(f"/camps/{CAMP}/{COURSES[0]}/")
        screenshot(page, out / "screenshot-course.png", full_page=False)
        storage = desktop.storage_state()
        desktop.close()

        phone = browser.new_context(
            base_url=base_url,
            locale=locale,
            storage_state=storage,
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
        )
        phone.set_default_timeout(20_000)
        page = phone.new_page()
        page.goto(lesson_path(*VIDEO_LESSON))
        show_video_frame(page, 2.5)
        screenshot(page, out / "screenshot-phone.png", full_page=False)
        phone.close()
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locale", default="en-US", help="browser language (zh-CN for Chinese)")
    parser.add_argument("--out", type=Path, default=DOCS, help="folder for the PNG files")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"no chromium at {CHROMIUM}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="lms-screenshots-"))
    try:
        app, password = build_instance(folder)
        with serve(app) as base_url:
            take(base_url, password, args.locale, args.out.resolve())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
