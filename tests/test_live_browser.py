"""Live teaching in Chromium (issue 17): the trainer's code screen shows the rotating code a
learner types to check in (and the QR link fills it in), the recurrence form lists the dates
of a series before it is saved, a learner checks out on a phone, and the roster's correction
row works at 390 px."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import Attendance, LiveSession, Registration, SegmentAttendance, User
from lms.services import checkin, live
from tests.test_browser import (  # noqa: F401 - the browser fixture
    TIMEOUT_MS,
    chromium_browser,
    log_in,
    serving,
    wait_until,
)

pytestmark = pytest.mark.browser


def _context(browser, base: str, locale: str = "en-US", phone: bool = False):
    options = {"viewport": {"width": 390, "height": 844}, "is_mobile": True} if phone else {}
    context = browser.new_context(base_url=base, locale=locale, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def test_the_code_screen_to_a_learners_check_in(app, browser, organizer, learner):
    with app.test_request_context():
        session = live.create_session(
            live.SessionValues(
                title_zh="活动日", title_en="Activity day", location="c", capacity=9
            ),
            datetime.now(UTC) + timedelta(minutes=5),
            live.ACTIVITY_DAY_SEGMENTS,
        )
        live.register(db.session.get(User, learner.id), session)
        session_id = session.id
    with serving(app) as base:
        trainer = _context(browser, base).new_page()
        log_in(trainer, organizer.email)
        trainer.goto(f"/live/{session_id}/code")
        wait_until(trainer, "/^\\d{6}$/.test(document.getElementById('code').textContent)")
        code = trainer.text_content("#code")
        qr = trainer.get_attribute("#qr", "src")
        assert f"t={code}" in qr
        phone = _context(browser, base, locale="zh-CN", phone=True).new_page()
        log_in(phone, learner.email)
        phone.goto(f"/live/{session_id}/checkin")
        phone.fill("input[name=code]", code)
        with phone.expect_navigation():
            phone.click("[data-test=checkin]")
        status = phone.text_content("[data-test=attendance-status]")
        assert "出席" in status  # present, in Chinese
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # The roster on the trainer's screen shows the learner present, preselected.
        trainer.goto(f"/live/{session_id}/roster")
        row = trainer.locator(f"tr[data-learner='{learner.id}']")
        assert row.locator("select[name=status]").input_value() == "present"
    with app.app_context():
        row = db.session.scalars(db.select(Attendance).filter_by(session_id=session_id)).one()
        assert (row.user_id, row.status) == (learner.id, "present")


def test_the_recurrence_form_previews_the_dates(app, browser, organizer):
    with serving(app) as base:
        page = _context(browser, base).new_page()
        log_in(page, organizer.email)
        page.goto("/live/new")
        assert page.input_value("select[name=frequency]") == "monthly"
        page.select_option("select[name=plan]", "lecture")
        page.fill("input[name=date]", "2031-03-03")
        page.fill("input[name=start]", "09:30")
        page.select_option("select[name=frequency]", "weekly")
        page.select_option("select[name=weekday]", "MO")
        page.fill("input[name=count]", "4")
        with page.expect_navigation():
            page.click("[data-test=preview-button]")
        dates = page.locator("[data-test=preview] li").all_text_contents()
        assert [d.split(" (")[0] for d in dates] == [
            "2031-03-03 09:30", "2031-03-10 09:30", "2031-03-17 09:30", "2031-03-24 09:30",
        ]  # fmt: skip
        with app.app_context():
            assert db.session.scalar(db.select(db.func.count(LiveSession.id))) == 0
        with page.expect_navigation():
            page.click("[data-test=save]")
        assert "/live/" in page.url and "/new" not in page.url
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LiveSession.id))) == 4


def test_a_learner_checks_out_to_leave_early_on_a_phone(app, browser, learner):
    with app.test_request_context():
        session = live.create_session(
            live.SessionValues(
                title_zh="活动日", title_en="Activity day", location="c", capacity=9
            ),
            datetime.now(UTC) - timedelta(minutes=20),  # the open class runs
            live.ACTIVITY_DAY_SEGMENTS,
        )
        live.register(db.session.get(User, learner.id), session)
        session_id = session.id
        code = checkin.code_for(session)
    with serving(app) as base:
        phone = _context(browser, base, locale="zh-CN", phone=True).new_page()
        log_in(phone, learner.email)
        phone.goto(f"/live/{session_id}/checkin?code={code}")
        with phone.expect_navigation():
            phone.click("[data-test=checkin]")
        assert "迟到" in phone.text_content("[data-test=attendance-status]")  # 20 min: late
        button = phone.locator("[data-test=checkout]")
        assert "签退" in button.text_content()
        with phone.expect_navigation():
            button.click()
        assert phone.locator("[data-test=checkout]").count() == 0  # checked out: no button
        segments = phone.text_content("[data-test=my-segments]")
        assert "创客公开课" in segments and "离场" in segments
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    with app.app_context():
        (part,) = db.session.scalars(db.select(SegmentAttendance)).all()
        assert part.left_at is not None


def test_the_roster_correction_row_works_at_390_px(app, browser, organizer, make_user):
    with app.test_request_context():
        session = live.create_session(
            live.SessionValues(
                title_zh="活动日", title_en="Activity day", location="c", capacity=9
            ),
            datetime.now(UTC) - timedelta(hours=4),  # over: every segment can be corrected
            live.ACTIVITY_DAY_SEGMENTS,
        )
        session_id, salon = session.id, session.segments[1]
        salon_id = salon.id
        salon_start = live.local(salon.starts_at, session.timezone)
        people = []
        for n, name in enumerate(("张伟", "欧阳娜娜·长名字的学员", "李")):
            user = make_user(f"r{n}@example.com", organization="园区创新科技有限公司研发中心")
            db.session.get(User, user.id).name = name
            db.session.commit()
            db.session.add(
                Registration(session_id=session_id, user_id=user.id, status="registered")
            )
            db.session.commit()
            people.append(user.id)
    with serving(app) as base:
        page = _context(browser, base, locale="zh-CN", phone=True).new_page()
        log_in(page, organizer.email)
        page.goto(f"/live/{session_id}/roster")
        fits = "document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits)
        wrap = page.locator(".table-wrap")
        assert wrap.evaluate("e => e.scrollWidth <= e.clientWidth")  # nothing hidden sideways
        row = page.locator(f"tr[data-learner='{people[1]}'] [data-test=correct]")
        for control in ("select[name=segment]", "select[name=status]", "input[name=arrived]",
                        "input[name=left]", "input[name=reason]", "button"):  # fmt: skip
            box = row.locator(control).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, control
            assert box["height"] >= 24, control  # big enough to tap
        row.locator("select[name=segment]").select_option(str(salon_id))
        row.locator("select[name=status]").select_option("late")
        row.locator("input[name=arrived]").fill(f"{salon_start + timedelta(minutes=20):%H:%M}")
        row.locator("input[name=reason]").fill("堵车，沙龙迟到")
        with page.expect_navigation():
            row.locator("button").click()
        assert page.evaluate(fits)
        chips = page.locator(f"tr[data-learner='{people[1]}'] [data-test=segments]")
        assert "创客沙龙" in chips.text_content()
        assert "环节：创客沙龙" in page.text_content("[data-test=corrections]")
    with app.app_context():
        (part,) = db.session.scalars(db.select(SegmentAttendance)).all()
        assert part.segment_id == salon_id and part.arrived_at is not None
