"""The moderation controls in Chromium on a 390 px phone, in Chinese and English: a trainer
opens the Moderate box of a learner's comment, hides it with a reason, and the page shows it
marked; nothing scrolls sideways."""

from __future__ import annotations

import pytest

from lms.extensions import db
from lms.models import User
from lms.services import community
from tests.test_browser import (  # noqa: F401 - the browser fixture
    TIMEOUT_MS,
    chromium_browser,
    log_in,
    serving,
)

pytestmark = pytest.mark.browser

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.parametrize(
    ("locale", "moderate", "hide", "hidden"),
    [("zh-CN", "管理", "隐藏", "已隐藏"), ("en-US", "Moderate", "Hide", "Hidden")],
)
def test_a_trainer_hides_a_comment_on_a_phone(
    app, browser, trainer, learner, locale, moderate, hide, hidden
):
    with app.test_request_context():
        case = community.create_case(
            db.session.get(User, trainer.id), "和达文创园", "hr", "留住核心工程师", "**正文**"
        )
        community.add_case_comment(db.session.get(User, learner.id), case, "广告 *spam* 链接")
        case_id = case.id
    with serving(app) as base:
        context = browser.new_context(
            base_url=base,
            locale=locale,
            viewport={"width": 390, "height": 844},
            device_scale_factor=3,
            is_mobile=True,
            has_touch=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        log_in(page, trainer.email)
        page.goto(f"/salon/{case_id}")
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        comment = page.locator("article[id^='c']").first
        assert comment.locator("em").inner_text() == "spam"  # Markdown in comments
        comment.locator("details.moderation summary").tap()
        reason = comment.locator("input[name='reason']")
        reason.wait_for(state="visible")
        box = reason.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert comment.locator("select[name='action'] option").first.inner_text() == hide
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        reason.fill("广告")
        with page.expect_navigation():
            comment.locator("details.moderation button").tap()
        marked = page.locator("article[id^='c']").first
        assert marked.locator(".tag.warn").inner_text() == hidden
        assert "广告" in marked.locator(".notice").inner_text()
        assert page.evaluate(NO_SIDEWAYS_SCROLL)
        assert moderate in marked.locator("details.moderation summary").inner_text()
        context.close()
