"""The hours grid in Chromium: at 390 px only the table scrolls sideways (the page does not),
the learner column stays in view, and cells carry their colour; in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lms.extensions import db
from lms.models import User
from tests import test_reports
from tests.conftest import PASSWORD
from tests.test_browser import RECORD_CSP, TIMEOUT_MS, chromium_browser, serving  # noqa: F401

pytestmark = pytest.mark.browser

world = test_reports.world
month_hours = test_reports.month_hours

NO_PAGE_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def site(app, world, month_hours) -> Iterator[str]:
    with serving(app) as base:
        yield base


def open_page(browser, base: str, width: int, locale: str):
    context = browser.new_context(
        base_url=base,
        locale=locale,
        viewport={"width": width, "height": 844},
        is_mobile=width < 500,
        has_touch=width < 500,
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(RECORD_CSP)
    return context, context.new_page()


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
@pytest.mark.parametrize("width", [390, 1280])
def test_the_grid_scrolls_inside_its_table_only(app, browser, site, world, width, locale):
    with app.app_context():
        db.session.execute(db.update(User).filter_by(id=world.manager_a.id).values(locale=locale))
        db.session.commit()
    context, page = open_page(browser, site, width, "zh-CN" if locale == "zh_CN" else "en-US")
    try:
        page.goto("/login")
        page.fill("input[name=email]", world.manager_a.email)
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("[data-test=login]")
        page.goto("/reports/hours-grid?month=2027-03")
        assert page.evaluate(NO_PAGE_SCROLL), page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        wrap = page.locator(".hours-grid-wrap")
        widths = wrap.evaluate("w => [w.scrollWidth, w.clientWidth]")
        if width == 390:
            assert widths[0] > widths[1]  # twelve months do not fit: the table scrolls
            wrap.evaluate("w => { w.scrollLeft = w.scrollWidth }")
            first_column = page.locator(".hours-grid tbody th").first.bounding_box()
            assert first_column is not None and first_column["x"] >= 0  # it stays in view
            assert page.evaluate(NO_PAGE_SCROLL)
        met = page.locator("td.heat-met").first
        colour = met.evaluate("cell => getComputedStyle(cell).backgroundColor")
        assert colour == "rgb(31, 79, 184)"
        none = page.locator("td.heat-none").first
        assert none.evaluate("cell => getComputedStyle(cell).backgroundColor") != colour
        assert page.evaluate("window.__csp") == []
    finally:
        context.close()
