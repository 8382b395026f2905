"""Trainers' pages and the rough edges of issue 18, in Debian Chromium, in Chinese and English:
a failed upload keeps the lesson form working, the player's keys, preview lessons for
anonymous visitors, and the organizer's header at 1280 px and 390 px."""

from __future__ import annotations

import pytest

from lms.extensions import db
from lms.models import Lesson, LessonProgress, User
from tests import test_browser
from tests.conftest import course_url, video_lessons_of
from tests.test_browser import (  # noqa: F401 - the browser fixture
    chromium_browser,
    enroll,
    log_in,
    wait_for_video_metadata,
    wait_until,
)
from tests.test_playback_browser import browser_page

# The app served with the demo video on the course's video lessons (fixtures of test_browser).
browser_video = test_browser.browser_video
live_server = test_browser.live_server

pytestmark = pytest.mark.browser

LOCALES = ["zh-CN", "en-US"]
VIDEO = "document.getElementById('player')"
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
# Each header label on one line: one box, no taller than one line of its text.
BROKEN_LABELS = """(() => Array.from(document.querySelectorAll(
    '.topbar .nav > a, .topbar .nav button, .topbar .brand span'))
  .filter((el) => el.offsetParent !== null && el.textContent.trim())
  .filter((el) => {
    const lines = el.getClientRects().length;
    const style = getComputedStyle(el);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.6;
    return lines > 1 || el.getBoundingClientRect().height > line * 1.5;
  })
  .map((el) => el.textContent.trim()))()"""
# The header's visible items with the middle of their box: one row when the middles agree.
ROW_ITEMS = """(() => Array.from(document.querySelectorAll(
    '.topbar .brand, .topbar .nav > a, .topbar .nav > form'))
  .filter((el) => el.offsetParent !== null)
  .map((el) => { const r = el.getBoundingClientRect();
                 return [el.textContent.trim().slice(0, 20), r.top + r.height / 2]; }))()"""


def rows_of(page) -> list:
    """The header's items not in the row of the first one (the brand): empty for one row."""
    items = page.evaluate(ROW_ITEMS)
    first = items[0][1]
    return [item for item in items if abs(item[1] - first) > 12]


DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True}


def page_in(browser, base: str, locale: str, phone: bool = False):
    """A page of a new context at 1280 px (or a 390 px touch phone) recording its errors."""
    options = {**PHONE, "has_touch": True} if phone else DESKTOP
    return browser_page(browser, base, locale, **options)


def first_video_lesson(app, course) -> tuple[int, str]:
    with app.app_context():
        lesson = video_lessons_of(course.id)[0]
        return lesson.id, lesson.slug


# -- a failed upload ----------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_after_a_failed_upload_the_lesson_form_still_saves(
    app, browser, live_server, course, organizer, locale, tmp_path
):
    lesson_id, _slug = first_video_lesson(app, course)
    with app.app_context():
        db.session.get(Lesson, lesson_id).required = True
        db.session.commit()
    fake = tmp_path / "lecture.mp4"
    fake.write_bytes(b"this is not a video at all" * 100)
    with page_in(browser, live_server, locale) as page:
        log_in(page, organizer.email)
        page.goto(f"/teach/lessons/{lesson_id}")
        picker = page.locator("input[name=video]")
        assert picker.get_attribute("accept") == "video/*,.mp4,.mov,.m4v,.webm,.mkv,.avi"
        assert page.locator("input[name=captions]").get_attribute("accept") == ".vtt,text/vtt"
        picker.set_input_files(str(fake))
        with page.expect_navigation():
            picker.locator("xpath=ancestor::form").locator("button").click()
        assert page.url.endswith(f"/teach/lessons/{lesson_id}/video")
        error = page.locator(".field.has-error .error").first.inner_text()
        assert error.endswith("。" if locale == "zh-CN" else "."), error
        # The lesson form shows the lesson as saved: its box ticked, its titles filled.
        assert page.locator("input[name=required]").is_checked()
        assert page.locator("input[name=title_en]").input_value()
        page.fill("input[name=title_en]", "Edited after a failed upload")
        lesson_form = page.locator("input[name=title_en]").locator("xpath=ancestor::form")
        with page.expect_navigation():
            lesson_form.locator("button").click()
        assert page.url.endswith(f"/teach/lessons/{lesson_id}"), page.url
        assert page.locator(".flash-success").count() == 1
        assert page.locator(".has-error").count() == 0
        # The only error is the refused upload's own answer (a 400 page).
        assert [p for p in page.problems if "status of 400" not in p] == []
    with app.app_context():
        lesson = db.session.get(Lesson, lesson_id)
        assert lesson.title_en == "Edited after a failed upload"
        assert lesson.required is True


# -- the player's keys --------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_space_plays_and_pauses_when_the_video_itself_has_focus(
    app, browser, live_server, course, learner, locale
):
    _lesson_id, slug = first_video_lesson(app, course)
    with page_in(browser, live_server, locale) as page:
        log_in(page, learner.email)
        enroll(page, course)
        page.goto(f"{course_url(course)}lessons/{slug}")
        wait_for_video_metadata(page)
        hint = page.locator(".player-bar .muted").inner_text()
        assert "< >" in hint and "·  ·" not in hint, hint
        page.evaluate(f"{VIDEO}.muted = true")
        page.focus("#player")
        assert page.evaluate("document.activeElement.id") == "player"
        page.keyboard.press("Space")
        wait_until(page, f"!{VIDEO}.paused")
        page.wait_for_timeout(300)  # a second toggle (the browser's own) would show by now
        assert page.evaluate(f"!{VIDEO}.paused")
        page.keyboard.press("Space")
        wait_until(page, f"{VIDEO}.paused")
        page.wait_for_timeout(300)
        assert page.evaluate(f"{VIDEO}.paused")
        # From the frame around the video too (the keys work wherever the focus is in it).
        page.focus("#player-shell")
        page.keyboard.press("Space")
        wait_until(page, f"!{VIDEO}.paused")
        assert page.problems == []


# -- preview lessons ----------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_an_anonymous_visitor_watches_a_preview_lesson(app, browser, live_server, course, locale):
    lesson_id, slug = first_video_lesson(app, course)
    with app.app_context():
        db.session.get(Lesson, lesson_id).preview = True
        db.session.commit()
    with page_in(browser, live_server, locale) as page:
        reports: list[str] = []
        page.on("request", lambda r: "/api/" in r.url and reports.append(r.url))
        page.goto(course_url(course))
        badge = page.locator(".preview-tag")
        assert badge.count() == 1
        assert badge.inner_text() == ("免费试看" if locale == "zh-CN" else "Free preview")
        with page.expect_navigation():
            page.locator("[data-test=preview]").click()
        assert page.url.endswith(f"lessons/{slug}")
        assert page.locator("[data-test=previewing]").count() == 1
        wait_for_video_metadata(page)
        page.evaluate(f"{VIDEO}.muted = true; {VIDEO}.play()")
        wait_until(page, f"{VIDEO}.currentTime > 1")
        assert page.evaluate(f"{VIDEO}.error") is None
        assert reports == []  # no playback session, no progress: no credit
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        # Another lesson of the course is not a preview: log in first.
        other = video_lessons_of_slugs(app, course)[1]
        page.goto(f"{course_url(course)}lessons/{other}")
        assert "/login" in page.url
        assert page.problems == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LessonProgress.id))) == 0


def video_lessons_of_slugs(app, course) -> list[str]:
    with app.app_context():
        return [lesson.slug for lesson in video_lessons_of(course.id)]


# -- the header ---------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_the_organizers_header_is_one_row_at_1280_and_fits_a_phone(
    app, browser, live_server, organizer, locale
):
    with app.app_context():  # a long name: the header shortens it, never wraps for it
        db.session.get(User, organizer.id).name = "Alexandra Montgomery-Smith 欧阳明"
        db.session.commit()
    with page_in(browser, live_server, locale) as page:
        log_in(page, organizer.email)
        for path in ("/", "/teach/", "/admin/users"):
            page.goto(path)
            assert rows_of(page) == [], path
            assert page.evaluate(BROKEN_LABELS) == [], path
            assert page.evaluate(NO_SIDEWAYS_SCROLL), path
    with page_in(browser, live_server, locale, phone=True) as page:
        log_in(page, organizer.email)
        for path in ("/", "/teach/", "/live/"):
            page.goto(path)
            assert page.evaluate(NO_SIDEWAYS_SCROLL), path
            page.locator(".nav-toggle-label").tap()
            page.locator(".nav > a").first.wait_for(state="visible")
            assert page.evaluate(BROKEN_LABELS) == [], path
            assert page.evaluate(NO_SIDEWAYS_SCROLL), path
        assert page.problems == []
