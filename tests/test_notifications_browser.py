"""The bell and the notification pages in Chromium, at 390 px and 1280 px, in Chinese and
English: the count shows, opening a notification leads to its object and lowers the count,
nothing scrolls sideways and no label of the header or of these pages breaks inside a word."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import User
from lms.services import live
from tests.test_browser import chromium_browser, log_in, serving  # noqa: F401 - the fixture
from tests.test_search_browser import _context

pytestmark = pytest.mark.browser

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
# Labels laid out on more than one line: a text node of the element (screen-reader text
# aside) whose boxes have more than one top.
WRAPPED = """(selector) => [...document.querySelectorAll(selector)]
  .filter((element) => element.getClientRects().length > 0)
  .filter((element) => {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim() || node.parentElement.closest('.sr-only')) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const tops = new Set([...range.getClientRects()]
        .filter((rect) => rect.width > 0)
        .map((rect) => Math.round(rect.top)));
      if (tops.size > 1) return true;
    }
    return false;
  })
  .map((element) => element.textContent.trim())"""
OUTSIDE = """(selector) => [...document.querySelectorAll(selector)]
  .filter((element) => element.getClientRects().length > 0)
  .filter((element) => {
    const box = element.getBoundingClientRect();
    return box.left < 0 || box.right > window.innerWidth;
  })
  .map((element) => element.textContent.trim() || element.className)"""
LABELS = ".nav > a, .nav button, .bell, .inbox-actions a, .inbox-actions button, legend"


def _notified(app, user_id: int, count: int) -> list[int]:
    """``count`` sessions with a long title, each moved: one notification apiece."""
    ids = []
    with app.app_context():
        user = db.session.get(User, user_id)
        for number in range(count):
            session = live.create_session(
                live.SessionValues(
                    title_zh=f"创新创业大讲堂第{number}期：从产品原型到规模化增长的关键决策",
                    title_en=f"Innovation lecture {number}: from a prototype to growth at scale",
                    location="园区党员远程教育中心 Remote-education centre",
                    capacity=20,
                ),
                datetime.now(UTC) + timedelta(days=3 + number),
                live.ACTIVITY_DAY_SEGMENTS,
            )
            live.register(user, session)
            live.move(session, datetime.now(UTC) + timedelta(days=10 + number))
            ids.append(session.id)
        db.session.remove()
    return ids


def _check_layout(page, where: str) -> None:
    assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{where}: the page scrolls sideways"
    assert page.evaluate(OUTSIDE, LABELS) == [], f"{where}: outside the window"
    assert page.evaluate(WRAPPED, LABELS) == [], f"{where}: a label breaks"


@pytest.mark.parametrize("phone", [False, True], ids=["1280px", "390px"])
@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_bell_and_the_notification_pages(app, browser, organizer, locale, phone):
    session_ids = _notified(app, organizer.id, 3)
    with serving(app) as base:
        context = _context(browser, base, locale, phone)
        page = context.new_page()
        log_in(page, organizer.email)
        bell = page.locator("[data-test=bell]")
        assert bell.is_visible() and page.locator(".bell-count").inner_text() == "3"
        if phone:
            page.locator(".nav-toggle-label").click()  # the menu open: its links checked too
        _check_layout(page, "dashboard")

        with page.expect_navigation():
            bell.click()
        assert page.url.endswith("/notifications")
        items = page.locator(".inbox-item")
        assert items.count() == 3 and page.locator(".inbox-item.unread").count() == 3
        newest = "创新创业大讲堂第2期" if locale == "zh-CN" else "Innovation lecture 2"
        assert newest in items.first.inner_text()
        _check_layout(page, "notifications")
        with page.expect_navigation():
            items.first.locator("button").click()
        assert page.url.endswith(f"/live/{session_ids[2]}")
        assert page.locator(".bell-count").inner_text() == "2"

        page.goto("/notifications")
        assert page.locator(".inbox-item.unread").count() == 2
        with page.expect_navigation():
            page.locator("[data-test=read-all]").click()
        assert page.locator(".inbox-item.unread").count() == 0
        assert page.locator(".bell-count").count() == 0
        _check_layout(page, "notifications, all read")

        page.goto("/notifications/settings")
        _check_layout(page, "settings")
        choice = page.locator("select[name=session_moved]")
        choice.select_option("none")
        with page.expect_navigation():
            page.locator(".inbox-settings button").click()
        assert page.locator("select[name=session_moved]").input_value() == "none"
        _check_layout(page, "settings, saved")
        # the check sees a label squeezed into two lines
        page.evaluate(
            "Object.assign(document.querySelector('.inbox-actions a').style,"
            " {width: '1.5em', whiteSpace: 'normal', wordBreak: 'break-all'})"
        )
        assert page.evaluate(WRAPPED, LABELS) != []
        context.close()
