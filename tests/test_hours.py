"""Training hours against the monthly target: the ledger summed per month."""

from datetime import date

import pytest

from lms.extensions import db
from lms.models import TrainingTime
from lms.models.records import LedgerIsAppendOnly
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


# -- the ledger is append-only ----------------------------------------------------------


def entries(app) -> list[tuple]:
    with app.app_context():
        return db.session.execute(
            db.select(
                TrainingTime.source_key, TrainingTime.seconds, TrainingTime.day, TrainingTime.note
            ).order_by(TrainingTime.id)
        ).all()


def test_the_orm_refuses_to_change_a_ledger_entry(app, learner):
    add(app, learner.id, date(2027, 5, 3), 3600, "kept")
    before = entries(app)
    with app.app_context():
        entry = db.session.scalar(db.select(TrainingTime).filter_by(source_key="kept"))
        entry.seconds = 7200
        entry.note = "edited"
        with pytest.raises(LedgerIsAppendOnly, match=r"append-only.*update"):
            db.session.commit()
        db.session.rollback()
    assert entries(app) == before


def test_the_orm_refuses_to_delete_a_ledger_entry(app, learner):
    add(app, learner.id, date(2027, 5, 3), 3600, "kept")
    before = entries(app)
    with app.app_context():
        db.session.delete(db.session.scalar(db.select(TrainingTime)))
        with pytest.raises(LedgerIsAppendOnly, match=r"append-only.*delete"):
            db.session.commit()
        db.session.rollback()
    assert entries(app) == before


@pytest.mark.parametrize(
    "statement",
    [
        lambda: db.update(TrainingTime).values(seconds=0),
        lambda: db.update(TrainingTime).where(TrainingTime.source_key == "kept").values(note="x"),
        lambda: db.delete(TrainingTime),
        lambda: db.update(TrainingTime.__table__).values(seconds=0),
        lambda: db.delete(TrainingTime.__table__),
    ],
    ids=["update", "update-where", "delete", "table-update", "table-delete"],
)
def test_bulk_changes_through_the_session_are_refused(app, learner, statement):
    add(app, learner.id, date(2027, 5, 3), 3600, "kept")
    before = entries(app)
    with app.app_context():
        with pytest.raises(LedgerIsAppendOnly):
            db.session.execute(statement())
        with pytest.raises(LedgerIsAppendOnly):
            db.session.query(TrainingTime).filter_by(source_key="kept").delete()
        db.session.rollback()
    assert entries(app) == before


def test_corrections_are_new_entries_and_still_work(app, learner):
    add(app, learner.id, date(2027, 5, 3), 3600, "first")
    add(app, learner.id, date(2027, 5, 4), -1800, "first:correction")  # a negative correction
    add(app, learner.id, date(2027, 5, 5), 900, "second:correction")  # a positive one
    add(app, learner.id, date(2027, 5, 5), 900, "second:correction")  # a retry adds nothing
    assert [(key, seconds) for key, seconds, *_ in entries(app)] == [
        ("first", 3600),
        ("first:correction", -1800),
        ("second:correction", 900),
    ]
    with app.app_context():
        # loading entries, and a flush with nothing changed, is fine
        entry = db.session.scalar(db.select(TrainingTime).filter_by(source_key="first"))
        entry.note = entry.note
        db.session.commit()
        assert hours.monthly(learner.id, today=date(2027, 5, 31))[-1].seconds == 2700
