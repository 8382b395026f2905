"""The dashboard and the search page in Chromium, at 390 px and 1280 px, in Chinese and English:
nothing scrolls sideways and no label breaks inside a word. And finishing a course: completing
the last lesson shows the congratulation with the certificate's link and updates the sidebar,
without a reload (a reading lesson's "Mark as read", and a video played to its end)."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from pypdf import PdfReader

from lms.extensions import db
from lms.models import (
    Enrollment,
    Lesson,
    LessonProgress,
    LiveSession,
    Module,
    Registration,
)
from lms.models._base import utcnow
from lms.services import hours
from tests.conftest import course_url, video_lessons_of
from tests.test_browser import (  # noqa: F401 - the browser fixtures
    TIMEOUT_MS,
    browser_video,
    chromium_browser,
    context,
    live_server,
    log_in,
    serving,
    wait_for_video_metadata,
    wait_until,
)
from tests.test_certificates import add_certificate
from tests.test_watch_credit import fake_video

pytestmark = pytest.mark.browser

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
# Every word of a visible label (menu links, buttons, headings, tags, stat labels) on one line:
# the rectangles of a word's characters share one top. A Chinese label has no spaces, so a
# short one (up to 8 characters: 课程目录, 现场, 用户) is one word; longer Chinese text (a
# heading that is a sentence) may wrap between characters. A line may break after a hyphen
# ("Early-/Stage") or a slash, as typesetting allows.
BROKEN_WORDS = """(() => {
  const broken = [];
  const labels = document.querySelectorAll(
    'nav a, nav button, .button, button, h1, h2, h3, .tag, .stat-label, label, th');
  for (const label of labels) {
    const box = label.getBoundingClientRect();
    if (!box.width || !box.height || getComputedStyle(label).visibility === 'hidden') continue;
    const walker = document.createTreeWalker(label, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const words = /[^\\s\\-\\/\u2013\u2014]+/g;  // a line may break after a hyphen or slash
      for (let m = words.exec(node.textContent); m; m = words.exec(node.textContent)) {
        if (/[\\u3400-\\u9fff]/.test(m[0]) && m[0].length > 8) continue;
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()]
          .filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (tops.size > 1) broken.push(`${label.tagName}.${label.className}: ${m[0]}`);
      }
    }
  }
  return broken;
})()"""


def _context(browser, base: str, locale: str, width: int):
    options: dict = {"viewport": {"width": 1280, "height": 800}}
    if width == 390:
        options = {
            "viewport": {"width": 390, "height": 844},
            "device_scale_factor": 3,
            "is_mobile": True,
            "has_touch": True,
        }
    made = browser.new_context(base_url=base, locale=locale, **options)
    made.set_default_timeout(TIMEOUT_MS)
    return made


def lived_in(app, user_id: int, course) -> None:
    """A learner with something in every panel: a course half done with a video to resume,
    hours this month and before, an upcoming session, a certificate."""
    now = utcnow()
    with app.app_context():
        db.session.add(Enrollment(user_id=user_id, course_id=course.id))
        lesson = video_lessons_of(course.id)[0]
        lesson.media = fake_video(1800)
        db.session.add(
            LessonProgress(
                user_id=user_id, lesson_id=lesson.id, position_seconds=754, updated_at=now
            )
        )
        for months_ago, seconds in ((0, 10_200), (1, 14 * 3600), (13, 3600)):
            hours.add(
                key=f"browser-{months_ago}",
                user_id=user_id,
                source="correction",
                seconds=seconds,
                day=hours.local_day(now) - timedelta(days=30 * months_ago),
            )
        session = LiveSession(
            title_zh="创业路演：从想法到融资的第一步",
            title_en="Startup pitch: the first step from an idea to funding",
            starts_at=now + timedelta(days=2),
            ends_at=now + timedelta(days=2, hours=3),
            location="远程教育中心",
            checkin_secret="x" * 32,
        )
        db.session.add(session)
        db.session.flush()
        db.session.add(Registration(session_id=session.id, user_id=user_id, status="registered"))
        add_certificate(
            user_id,
            course.id,
            course_title_zh="精益创业方法论与商业模式画布实战",
            course_title_en="Lean startup methods and the business model canvas in practice",
        )
        db.session.commit()


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("width", [390, 1280])
def test_dashboard_and_search_fit_without_breaking_words(
    app, browser, learner, course, locale, width
):
    lived_in(app, learner.id, course)
    word = "创新" if locale == "zh-CN" else "innovation"
    with serving(app) as base:
        context = _context(browser, base, locale, width)
        page = context.new_page()
        log_in(page, learner.email)
        for url in ("/dashboard", f"/search?q={word}"):
            page.goto(url)
            assert page.evaluate(NO_SIDEWAYS_SCROLL), (
                url,
                page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]"),
            )
            assert page.evaluate(BROKEN_WORDS) == [], url
            if width == 390:  # the phone menu's labels too
                page.locator(".nav-toggle-label").tap()
                page.locator("nav.nav").wait_for(state="visible")
                assert page.evaluate(BROKEN_WORDS) == [], f"{url} (menu open)"
                assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{url} (menu open)"
        page.goto("/dashboard")
        assert page.locator("[data-test=resume]").is_visible()
        assert page.locator(".hours-chart svg .tick").count() >= 3  # the hours axis
        assert page.locator("[data-test=upcoming-sessions] li").count() == 1
        assert page.locator("[data-test=my-certificates] li").count() == 1
        context.close()


def _finish_all_but(app, user_id: int, course_id: int, keep: int) -> None:
    with app.app_context():
        lessons = db.session.scalars(
            db.select(Lesson).join(Module).where(Module.course_id == course_id)
        ).all()
        for lesson in lessons:
            if lesson.id != keep:
                db.session.add(
                    LessonProgress(user_id=user_id, lesson_id=lesson.id, completed_at=utcnow())
                )
        db.session.commit()


def _assert_finished_without_reload(page) -> None:
    wait_until(page, "!document.getElementById('course-finish').hidden")
    assert page.evaluate("window.__notReloaded") is True  # the same document
    link = page.locator("#course-finish-link")
    assert link.is_visible()
    href = link.get_attribute("href")
    assert href and href.startswith("/certificates/"), href
    assert page.inner_text("#course-progress .progress-label") == "100%"
    assert "done" in (page.get_attribute("#current-lesson-row", "class") or "")
    assert page.locator("#course-certificate a").get_attribute("href") == href
    assert page.evaluate("window.__csp") == []
    with page.expect_navigation():
        link.click()
    assert page.locator("[data-test=certificate]").is_visible()


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_marking_the_last_lesson_read_congratulates_without_a_reload(
    app, browser, learner, course, locale
):
    with app.app_context():
        reading = db.session.scalars(
            db.select(Lesson)
            .join(Module)
            .where(Module.course_id == course.id, Lesson.kind == "reading")
        ).first()
        slug, reading_id = reading.slug, reading.id
        db.session.add(Enrollment(user_id=learner.id, course_id=course.id))
        db.session.commit()
    _finish_all_but(app, learner.id, course.id, keep=reading_id)
    with serving(app) as base:
        context = _context(browser, base, locale, 390)
        context.add_init_script("window.__csp = [];")
        page = context.new_page()
        log_in(page, learner.email)
        page.goto(course_url(course) + f"lessons/{slug}")
        assert page.locator("#course-finish").is_hidden()
        page.evaluate("window.__notReloaded = true")
        page.locator("form[data-mark-read] button").tap()
        _assert_finished_without_reload(page)
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        context.close()


def test_watching_the_last_video_to_the_end_congratulates_without_a_reload(
    app,
    context,  # noqa: F811 - the fixture
    learner,
    course,
):
    with app.app_context():
        last = video_lessons_of(course.id)[-1]
        slug, last_id = last.slug, last.id
        db.session.add(Enrollment(user_id=learner.id, course_id=course.id))
        db.session.commit()
    _finish_all_but(app, learner.id, course.id, keep=last_id)
    page = context.new_page()
    log_in(page, learner.email)
    page.goto(course_url(course) + f"lessons/{slug}")
    wait_for_video_metadata(page)
    page.evaluate("window.__notReloaded = true")
    page.evaluate("const v = document.getElementById('player'); v.muted = true; v.play()")
    wait_until(page, "document.getElementById('player').ended", timeout=30)
    _assert_finished_without_reload(page)


def test_the_certificate_page_prints_as_the_certificate(app, browser, learner, course):
    with app.app_context():
        code = add_certificate(learner.id, course.id)
        db.session.commit()
    with serving(app) as base:
        context = _context(browser, base, "zh-CN", 1280)
        page = context.new_page()
        page.goto(f"/certificates/{code}")  # public: no log-in
        assert page.locator("[data-test=certificate-pdf]").is_visible()
        assert page.locator("[data-print]").is_visible()  # print.js showed the button
        page.emulate_media(media="print")
        assert page.locator("[data-test=certificate]").is_visible()
        assert page.locator(".certificate-qr").is_visible()
        for hidden in (".topbar", "[data-test=certificate-pdf]", "[data-print]"):
            assert page.locator(hidden).is_hidden(), hidden
        printed = PdfReader(BytesIO(page.pdf(prefer_css_page_size=True)))
        assert len(printed.pages) == 1  # one sheet, A4 landscape (@page certificate)
        box = printed.pages[0].mediabox
        assert round(float(box.width)) == 842 and round(float(box.height)) == 595
        context.close()
