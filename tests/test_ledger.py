"""The ledger's keys and sources: the source is what the writer says, and a key is never cut."""

from datetime import date

import pytest

from lms.extensions import db
from lms.models import TrainingTime
from lms.models.records import SOURCE_KEY_LENGTH
from lms.services import hours

DAY = date(2027, 5, 3)


def _rows(app):
    with app.app_context():
        return db.session.execute(
            db.select(TrainingTime.source_key, TrainingTime.source, TrainingTime.seconds).order_by(
                TrainingTime.id
            )
        ).all()


def _add(app, user_id, key, source="live", seconds=600):
    with app.app_context():
        written = hours.add(key=key, user_id=user_id, source=source, seconds=seconds, day=DAY)
        db.session.commit()
        return written


def test_the_source_is_stored_as_given_whatever_the_key_ends_with(app, learner):
    assert _add(app, learner.id, "live:1:2:checkin", source="correction")
    assert _add(app, learner.id, "live:1:2:correction:9", source="live")
    assert _add(app, learner.id, "video:7:3", source="video")
    assert [(key, source) for key, source, _ in _rows(app)] == [
        ("live:1:2:checkin", "correction"),
        ("live:1:2:correction:9", "live"),
        ("video:7:3", "video"),
    ]


def test_a_key_of_the_columns_length_is_kept_whole(app, learner):
    key = "直播:" + "x" * (SOURCE_KEY_LENGTH - 3)
    assert len(key) == SOURCE_KEY_LENGTH
    assert _add(app, learner.id, key)
    assert _rows(app) == [(key, "live", 600)]


def test_an_over_long_key_is_refused_not_cut(app, learner):
    """Cut at the column's length, two different keys became one, and the second entry was
    silently dropped as a retry of the first."""
    stem = "live:1:2:segment:" + "9" * (SOURCE_KEY_LENGTH - 17)
    assert _add(app, learner.id, stem)
    for longer in (stem + "1", stem + "创业营", "k" * 10_000):
        with pytest.raises(ValueError, match="ledger key"):
            _add(app, learner.id, longer)
    assert _rows(app) == [(stem, "live", 600)]


@pytest.mark.parametrize("source", ["", "Video", "checkin", "直播"])
def test_an_unknown_source_is_refused(app, learner, source):
    with pytest.raises(ValueError, match="source"):
        _add(app, learner.id, "a-key", source=source)
    assert _rows(app) == []


def test_an_empty_key_is_refused(app, learner):
    with pytest.raises(ValueError, match="ledger key"):
        _add(app, learner.id, "")
