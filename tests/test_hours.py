"""Training hours against the monthly target: the ledger summed per month."""

from datetime import date

from lms.extensions import db
from lms.services import hours


def add(app, user_id, day, seconds, key):
    with app.app_context():
        hours.add(key=key, user_id=user_id, source="live", seconds=seconds, day=day)
        db.session.commit()


def test_monthly_sums_by_month_with_empty_months(app, learner, other_learner):
    add(app, learner.id, date(2027, 5, 3), 3600, "a")
    add(app, learner.id, date(2027, 5, 28), 1800, "b")
    add(app, learner.id, date(2027, 3, 1), 7200, "c")
    add(app, learner.id, date(2027, 3, 2), -3600, "d")  # a correction
    add(app, learner.id, date(2026, 1, 1), 3600, "old")  # outside the 12 months
    add(app, other_learner.id, date(2027, 5, 3), 99999, "e")
    with app.app_context():
        found = hours.monthly(learner.id, today=date(2027, 5, 31))
    assert (found[0].year, found[0].month) == (2026, 6)
    assert [(m.month, m.seconds) for m in found][-3:] == [(3, 3600), (4, 0), (5, 5400)]
    assert found[-1].hours == 1.5
    assert len(found) == 12


def test_dashboard_shows_hours_against_the_target(app, client, learner):
    today = hours.local_day(hours.utcnow())
    add(app, learner.id, today, 6 * 3600, "half")
    client.login(learner.email)
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'value="50"' in page  # 6 of 12 hours
    assert "Training hours in the last 12 months" in page
    assert page.count('class="bar') == 12
