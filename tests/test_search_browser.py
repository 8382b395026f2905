"""The header search box in Chromium: at 1280 px it is an icon that opens a field over the
menu without moving anything; at 390 px it is a field in the phone menu. In Chinese and
English, for the role with the longest menu (organizer) and for a visitor."""

from __future__ import annotations

import pytest

from tests.test_browser import (  # noqa: F401 - the browser fixture
    TIMEOUT_MS,
    chromium_browser,
    log_in,
    serving,
)

pytestmark = pytest.mark.browser

HEADER_HEIGHT = "document.querySelector('.topbar').getBoundingClientRect().height"
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
# The header's height once the search box is taken out: the box must not change it.
WITHOUT_BOX = """(() => {
  const form = document.querySelector('.site-search');
  const mark = document.createComment('search');
  form.replaceWith(mark);
  const height = document.querySelector('.topbar').getBoundingClientRect().height;
  mark.replaceWith(form);
  return height;
})()"""


def _context(browser, base: str, locale: str, phone: bool):
    options = {"viewport": {"width": 1280, "height": 800}}
    if phone:
        options = {
            "viewport": {"width": 390, "height": 844},
            "device_scale_factor": 3,
            "is_mobile": True,
            "has_touch": True,
        }
    context = browser.new_context(base_url=base, locale=locale, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_header_search_box_fits_at_1280_and_390(app, browser, organizer, locale):
    word = "创新" if locale == "zh-CN" else "innovation"
    with serving(app) as base:
        for who in ("visitor", "organizer"):
            # 1280 px: the icon opens a field over the menu; the header keeps its height.
            context = _context(browser, base, locale, phone=False)
            page = context.new_page()
            if who == "organizer":
                log_in(page, organizer.email)
            page.goto("/")
            height = page.evaluate(HEADER_HEIGHT)
            assert height == page.evaluate(WITHOUT_BOX), f"the box changes the header ({who})"
            field = page.locator("#site-search-q")
            page.locator(".site-search-icon").click()
            assert page.evaluate("document.activeElement.id") == "site-search-q"
            box = field.bounding_box()
            assert box is not None and box["width"] >= 200, box
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1280, box
            assert page.evaluate(HEADER_HEIGHT) == height
            assert page.evaluate(NO_SIDEWAYS_SCROLL)
            field.fill(word)
            with page.expect_navigation():
                field.press("Enter")
            assert "/search?q=" in page.url
            assert page.locator(".search-results mark").count() > 0
            assert page.evaluate(NO_SIDEWAYS_SCROLL)
            context.close()

            # 390 px: a field in the phone menu, the whole width, nothing sideways.
            context = _context(browser, base, locale, phone=True)
            page = context.new_page()
            if who == "organizer":
                log_in(page, organizer.email)
            page.goto("/")
            field = page.locator("#site-search-q")
            assert not field.is_visible()
            page.locator(".nav-toggle-label").tap()
            field.wait_for(state="visible")
            box = field.bounding_box()
            assert box is not None and box["width"] >= 250, box
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
            assert page.evaluate(NO_SIDEWAYS_SCROLL)
            field.fill(word)
            with page.expect_navigation():
                field.press("Enter")
            assert page.locator(".search-results mark").count() > 0
            assert page.evaluate(NO_SIDEWAYS_SCROLL), page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            context.close()
