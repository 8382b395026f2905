"""Live sessions: recurrence, moving and cancelling, registration with capacity."""

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lms.extensions import db
from lms.models import LiveSeries, LiveSession, Registration, User
from lms.services import live

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def app_ctx(app):
    """A request context: services translate their messages for the request's language."""
    with app.test_request_context():
        yield app


NEW_YORK = ZoneInfo("America/New_York")


def make_series(
    rule=live.ACTIVITY_DAY_RULE, start=datetime(2027, 1, 25, 13, 30), tz="Asia/Shanghai"
):
    return LiveSeries(
        title_zh="活动日", title_en="Activity day", rrule=rule, starts_local=start, timezone=tz,
        location="centre", capacity=10, segments=live.ACTIVITY_DAY_SEGMENTS,
    )  # fmt: skip


def test_monthly_rule_gives_the_25th_across_months(app_ctx):
    series = make_series()
    found = live.occurrences(
        series, datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 6, 30, tzinfo=UTC)
    )
    assert [(d.month, d.day, d.hour, d.minute) for d in found] == [
        (m, 25, 13, 30) for m in range(1, 7)
    ]
    assert all(d.utcoffset() == timedelta(hours=8) for d in found)  # Shanghai: no DST


def test_wall_clock_time_holds_across_a_dst_change(app_ctx):
    series = make_series(
        rule="FREQ=WEEKLY;BYDAY=TU", start=datetime(2027, 3, 2, 18, 0), tz="America/New_York"
    )
    found = live.occurrences(
        series, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 31, tzinfo=UTC)
    )
    assert [d.hour for d in found] == [18] * len(found)
    utc_hours = [d.astimezone(UTC).hour for d in found]
    assert utc_hours[0] == 23 and utc_hours[-1] == 22  # EST (-5) before 14 March, EDT (-4) after


@pytest.mark.parametrize(
    "rule",
    ["", "FREQ=SECONDLY", "FREQ=MINUTELY;INTERVAL=1", "DTSTART:20270101T000000\nFREQ=DAILY",
     "FREQ=MONTHLY;BYMONTHDAY=99", "RRULE:FREQ=DAILY", "FREQ=DAILY;;", "nonsense"],
)  # fmt: skip
def test_bad_rules_are_refused(app_ctx, rule):
    with pytest.raises(live.LiveError):
        live.parse_rule(rule, datetime(2027, 1, 25, 13, 30), "Asia/Shanghai")


def test_series_sessions_have_the_three_segments(app_ctx, organizer):
    user = db.session.get(User, organizer.id)
    series = live.create_series(
        live.activity_day_values(), live.ACTIVITY_DAY_RULE, datetime(2027, 1, 25, 13, 30),
        live.ACTIVITY_DAY_SEGMENTS, user,
    )  # fmt: skip
    live.materialize(series, now=datetime(2027, 1, 1, tzinfo=UTC))
    db.session.commit()
    sessions = db.session.scalars(
        db.select(LiveSession).filter_by(series_id=series.id).order_by(LiveSession.starts_at)
    ).all()
    start = datetime(2027, 1, 25, tzinfo=SHANGHAI)
    first = next(s for s in sessions if live.aware(s.starts_at) >= start)
    assert live.local(first.starts_at, "Asia/Shanghai") == datetime(
        2027, 1, 25, 13, 30, tzinfo=SHANGHAI
    )
    assert [segment.kind for segment in first.segments] == ["open_class", "salon", "discussion"]
    assert live.aware(first.ends_at) - live.aware(first.starts_at) == timedelta(minutes=190)


def test_moving_or_cancelling_one_occurrence_keeps_the_series(app_ctx, organizer):
    user = db.session.get(User, organizer.id)
    series = live.create_series(
        live.activity_day_values(), live.ACTIVITY_DAY_RULE, datetime(2030, 1, 25, 13, 30),
        live.ACTIVITY_DAY_SEGMENTS, user,
    )  # fmt: skip
    live.materialize(series, now=datetime(2030, 1, 1, tzinfo=UTC))
    db.session.commit()
    sessions = db.session.scalars(
        db.select(LiveSession).filter_by(series_id=series.id).order_by(LiveSession.starts_at)
    ).all()
    count = len(sessions)
    january, february = sessions[0], sessions[1]
    live.move(january, datetime(2030, 1, 26, 14, 0, tzinfo=SHANGHAI))
    live.cancel(february, "holiday")
    assert live.materialize(series, now=datetime(2030, 1, 1, tzinfo=UTC)) == 0
    db.session.commit()
    assert (
        db.session.scalar(db.select(db.func.count(LiveSession.id)).filter_by(series_id=series.id))
        == count
    )
    db.session.refresh(january)
    assert live.local(january.starts_at, "Asia/Shanghai").day == 26
    assert live.local(january.segments[0].starts_at, "Asia/Shanghai").hour == 14
    assert january.moved and february.status == "cancelled"


def future_session(capacity=10, starts_in=timedelta(days=3)):
    start = datetime.now(UTC) + starts_in
    return live.create_session(
        live.SessionValues(
            title_zh="讲座", title_en="Lecture", location="centre", capacity=capacity
        ),
        start,
        [
            {
                "kind": "lecture",
                "title_zh": "讲座",
                "title_en": "Lecture",
                "offset": 0,
                "minutes": 90,
            }
        ],
    )


def test_full_sessions_put_learners_on_a_waitlist_that_moves_up(app_ctx, make_user):
    session = future_session(capacity=1)
    first = db.session.get(User, make_user("a@example.com").id)
    second = db.session.get(User, make_user("b@example.com").id)
    assert live.register(first, session).status == "registered"
    waiting = live.register(second, session)
    assert waiting.status == "waitlisted" and live.waitlist_position(waiting) == 1
    assert live.register(second, session).id == waiting.id  # registering twice changes nothing
    promoted = live.cancel_registration(first, session)
    assert promoted is not None and promoted.user_id == second.id
    assert live.seats_taken(session) == 1


def test_cancelled_and_past_sessions_take_no_registrations(app_ctx, learner):
    user = db.session.get(User, learner.id)
    cancelled = future_session()
    live.cancel(cancelled, "no lecturer")
    with pytest.raises(live.LiveError):
        live.register(user, cancelled)
    past = future_session(starts_in=timedelta(days=-3))
    with pytest.raises(live.LiveError):
        live.register(user, past)


def test_thirty_concurrent_registrations_for_ten_seats(app, make_user):
    with app.test_request_context():
        session_id = future_session(capacity=10).id
    users = [make_user(f"r{n}@example.com").id for n in range(30)]
    barrier = threading.Barrier(30)
    errors = []

    def take_seat(user_id):
        with app.test_request_context():
            try:
                barrier.wait()
                live.register(
                    db.session.get(User, user_id), db.session.get(LiveSession, session_id)
                )
            except Exception as exc:  # the test reports any error
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=take_seat, args=(user_id,)) for user_id in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with app.app_context():
        statuses = db.session.scalars(
            db.select(Registration.status).filter_by(session_id=session_id)
        ).all()
    assert sorted(statuses).count("registered") == 10
    assert statuses.count("waitlisted") == 20


def test_live_pages_list_and_show_the_sessions(app, client, learner):
    with app.test_request_context():
        session = future_session()
        series = make_series(start=datetime.now(UTC).replace(tzinfo=None, day=1))
        db.session.add(series)
        db.session.flush()
        live.materialize(series)
        db.session.commit()
        session_id, day = session.id, live.local(session.starts_at, "Asia/Shanghai")
    for anonymous_or_learner in (False, True):
        if anonymous_or_learner:
            client.login(learner.email)
        listing = client.get("/live/")
        assert listing.status_code == 200
        assert f"/live/{session_id}" in listing.get_data(as_text=True)
        assert "Maker salon" in listing.get_data(as_text=True)
        month = client.get(f"/live/calendar?year={day.year}&month={day.month}")
        assert month.status_code == 200 and f"/live/{session_id}" in month.get_data(as_text=True)
        assert client.get(f"/live/{session_id}").status_code == 200
    assert client.get("/live/calendar?year=2027&month=13").status_code == 400
    assert client.get("/live/calendar?year=x").status_code == 400


def test_later_occurrences_keep_the_lecturer(app_ctx, organizer, trainer):
    user = db.session.get(User, organizer.id)
    values = live.activity_day_values()
    values.lecturer_id, values.guest_name = trainer.id, "Prof. Li"
    series = live.create_series(
        values,
        live.ACTIVITY_DAY_RULE,
        datetime(2030, 1, 25, 13, 30),
        live.ACTIVITY_DAY_SEGMENTS,
        user,
    )
    before = db.session.scalar(
        db.select(db.func.count(LiveSession.id)).filter_by(series_id=series.id)
    )
    assert live.extend_series(now=datetime(2030, 12, 1, tzinfo=UTC)) > 0
    sessions = db.session.scalars(db.select(LiveSession).filter_by(series_id=series.id)).all()
    assert len(sessions) > before
    assert {(s.lecturer_id, s.guest_name) for s in sessions} == {(trainer.id, "Prof. Li")}
