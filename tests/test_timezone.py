"""The academy's time zone is one setting (TIMEZONE, LMS_TIMEZONE), used everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import DateTime, literal

from lms import create_app
from lms.config import ConfigurationError
from lms.extensions import db
from lms.services import hours, live, plans

NEW_YORK = "America/New_York"
# Late evening in New York, on both sides of daylight-saving time (UTC-4 in July, UTC-5 in
# January): a fixed offset gets one of them wrong.
EVENINGS = [
    (datetime(2027, 7, 1, 3, 30, tzinfo=UTC), date(2027, 6, 30)),
    (datetime(2027, 1, 1, 4, 30, tzinfo=UTC), date(2026, 12, 31)),
    (datetime(2027, 1, 1, 5, 30, tzinfo=UTC), date(2027, 1, 1)),
]


@pytest.fixture
def new_york(make_app):
    return make_app(TIMEZONE=NEW_YORK)


def test_the_default_is_shanghai(app_ctx):
    assert hours.academy_timezone() == "Asia/Shanghai"
    assert hours.local_day(datetime(2027, 1, 1, 16, 30, tzinfo=UTC)) == date(2027, 1, 2)


@pytest.mark.parametrize(("moment", "day"), EVENINGS)
def test_days_follow_the_setting_in_python_and_in_sql(new_york, moment, day):
    with new_york.app_context():
        assert hours.local_day(moment) == day
        in_sql = db.session.scalar(
            db.select(plans.local_date(literal(moment, DateTime(timezone=True))))
        )
        assert date.fromisoformat(str(in_sql)) == day


def test_pages_feeds_and_new_sessions_use_the_setting(new_york):
    with new_york.test_request_context():
        assert live.activity_day_values().timezone == NEW_YORK
    client = new_york.test_client()
    assert client.get("/live/calendar").status_code == 200
    from lms.services.feeds import to_ics

    with new_york.test_request_context():
        assert f"X-WR-TIMEZONE:{NEW_YORK}".encode() in to_ics([], "x", str)


def test_an_unknown_time_zone_is_refused_at_start(monkeypatch, app_config):
    monkeypatch.setenv("LMS_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(ConfigurationError, match="LMS_TIMEZONE"):
        create_app({k: v for k, v in app_config.items() if k != "TIMEZONE"})
