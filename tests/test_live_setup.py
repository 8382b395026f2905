"""The session form's services (lms/services/live_setup.py), and the live and feed views kept
thin: no SQL and no domain rules in lms/web/live.py and lms/web/feeds.py (issue 19)."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from lms.extensions import db
from lms.models import Camp, Course, LiveSession
from lms.services import live, live_setup

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.engine_independent
@pytest.mark.parametrize("module", ["lms/web/live.py", "lms/web/feeds.py"])
def test_the_views_run_no_sql(module):
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "session"
            and isinstance(node.value, ast.Name)
            and node.value.id == "db"
        ):
            found.append(f"db.session at line {node.lineno}")
        if isinstance(node, ast.Call):
            name = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", "")
            )
            if name == "select":
                found.append(f"select() at line {node.lineno}")
        if isinstance(node, ast.ImportFrom) and node.module == "lms.extensions":
            found.append(f"imports lms.extensions at line {node.lineno}")
    assert found == []


@pytest.mark.engine_independent
@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2031, 3, 1), date(2031, 3, 25)),
        (date(2031, 3, 25), date(2031, 3, 25)),
        (date(2031, 3, 26), date(2031, 4, 25)),
        (date(2031, 12, 31), date(2032, 1, 25)),
    ],
)
def test_the_next_activity_day(today, expected):
    assert live_setup.next_activity_day(today) == expected


@pytest.mark.engine_independent
def test_the_form_defaults_are_the_activity_days(app):
    with app.test_request_context():
        defaults = live_setup.activity_day_defaults(datetime(2031, 5, 26, 3, 0, tzinfo=UTC))
        assert defaults.values == live.activity_day_values()
        assert (defaults.date, defaults.start) == (date(2031, 6, 25), time(13, 30))
        assert (defaults.frequency, defaults.monthday) == ("monthly", 25)


@pytest.mark.engine_independent
def test_segment_plans(app):
    with app.test_request_context():
        assert live_setup.segment_plan("activity_day") == live.ACTIVITY_DAY_SEGMENTS
        (lecture,) = live_setup.segment_plan("lecture", None)
        assert (lecture["title_zh"], lecture["minutes"]) == ("讲座", 90)
        assert live_setup.segment_plan("lecture", 45)[0]["minutes"] == 45
        with pytest.raises(live.LiveError):
            live_setup.segment_plan("party")


def test_placement_takes_the_course_camp_and_refuses_unknowns(app, course):
    with app.test_request_context():
        course = db.session.get(Course, course.id)
        camp = db.session.get(Camp, course.camp_id)
        assert live_setup.placement("", course.id) == (camp.id, course.id)
        assert live_setup.placement(camp.slug, None) == (camp.id, None)
        assert live_setup.placement("", None) == (None, None)
        for slug, course_id in (("no-such-camp", None), ("", 999_999)):
            with pytest.raises(live.LiveError):
                live_setup.placement(slug, course_id)
        with pytest.raises(live.LiveError):
            live_setup.check_screening(999_999)


def test_a_session_past_midnight_takes_early_times_on_the_next_day(app):
    with app.test_request_context():
        session = live.create_session(
            live.SessionValues(title_zh="夜课", title_en="Night", location="c", capacity=5),
            datetime(2031, 3, 3, 23, 0, tzinfo=live.zone("Asia/Shanghai")),
            [{"kind": "lecture", "title_zh": "讲座", "title_en": "L", "offset": 0, "minutes": 120}],
        )
        found = db.session.get(LiveSession, session.id)
        late = live_setup.on_session_day(found, time(0, 30))
        assert late.astimezone(live.zone("Asia/Shanghai")).date() == date(2031, 3, 4)
        assert live_setup.on_session_day(found, None) is None


def test_the_calendar_month_groups_sessions_by_local_day(app):
    with app.test_request_context():
        session = live.create_session(
            live.SessionValues(title_zh="活动日", title_en="Day", location="c", capacity=5),
            datetime(2031, 3, 25, 23, 30, tzinfo=live.zone("Asia/Shanghai")),
            live.ACTIVITY_DAY_SEGMENTS,
        )
        page = live_setup.calendar_month(2031, 3)
        assert (page.first, page.previous, page.following) == (
            date(2031, 3, 1), date(2031, 2, 1), date(2031, 4, 1),
        )  # fmt: skip
        assert [s.id for s in page.by_day[date(2031, 3, 25)]] == [session.id]  # local, not UTC
        assert page.weeks[0][0] == date(2031, 2, 24)  # Monday first
        assert live_setup.calendar_month(2031, 12).following == date(2032, 1, 1)
        for year, month in ((2031, 13), (1900, 1), (2031, 0)):
            with pytest.raises(live.LiveError):
                live_setup.calendar_month(year, month)
