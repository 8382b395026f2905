"""Editing sessions and series, cancelling with a reason, the past, and the recurrence form
with its preview and cap (issue 17)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from lms.extensions import db
from lms.models import LiveSeries, LiveSession, Registration
from lms.services import live, live_series
from tests.test_checkin import make_session, register

SHANGHAI = live.zone("Asia/Shanghai")
FORM = {
    "title_zh": "讲座", "title_en": "Lecture", "camp": "", "plan": "lecture", "minutes": "90",
    "date": "2031-02-03", "start": "09:00", "timezone": "Asia/Shanghai", "frequency": "",
    "location": "centre", "capacity": "20", "lecturer": "0", "delivery": "lecture",
}  # fmt: skip


def count(model, **criteria):
    return db.session.scalar(db.select(db.func.count(model.id)).filter_by(**criteria))


def sessions_of(app):
    with app.app_context():
        return [
            live.local(s.starts_at, s.timezone).strftime("%Y-%m-%d %H:%M")
            for s in db.session.scalars(db.select(LiveSession).order_by(LiveSession.starts_at))
        ]


@pytest.mark.parametrize(
    ("fields", "first", "second"),
    [
        ({"frequency": "weekly", "weekday": "WE", "count": "5"}, "2031-02-05", "2031-02-12"),
        (
            {"frequency": "monthly", "monthday": "25", "until": "2031-06-30"},
            "2031-02-25", "2031-03-25",
        ),
        (
            {"frequency": "rule", "repeat": "FREQ=WEEKLY;BYDAY=FR;COUNT=3"},
            "2031-02-07", "2031-02-14",
        ),
    ],
)  # fmt: skip
def test_the_recurrence_form_previews_before_saving(app, client, organizer, fields, first, second):
    client.login(organizer.email)
    shown = client.post("/live/new", {**FORM, **fields, "action": "save"})
    assert shown.status_code == 200
    page = shown.get_data(as_text=True)
    assert 'data-test="preview"' in page and f"{first} 09:00" in page and f"{second} 09:00" in page
    rule = page.split('name="previewed" type="hidden" value="')[1].split('"')[0]
    assert rule.startswith("FREQ=")
    with app.app_context():
        assert count(LiveSession) == 0
    saved = client.post("/live/new", {**FORM, **fields, "previewed": rule, "action": "save"})
    assert saved.status_code == 302
    found = sessions_of(app)
    assert found[:2] == [f"{first} 09:00", f"{second} 09:00"]
    if "count" in fields or "COUNT" in fields.get("repeat", ""):
        assert len(found) == int(fields.get("count", "3"))
    if "until" in fields:
        assert found[-1] == "2031-06-25 09:00"


@pytest.mark.parametrize(
    "fields",
    [
        {"frequency": "rule", "repeat": "FREQ=DAILY"},  # 400 sessions
        {"frequency": "weekly", "weekday": "MO", "count": "61"},
        {"frequency": "weekly", "weekday": "XX"},
        {"frequency": "monthly", "monthday": "32"},
        {"frequency": "monthly", "monthday": "25", "until": "2031-06-30", "count": "3"},
    ],
)
def test_the_recurrence_is_capped_and_checked(app, client, organizer, fields):
    client.login(organizer.email)
    response = client.post("/live/new", {**FORM, **fields, "action": "preview"})
    assert response.status_code == 400
    with app.app_context():
        assert count(LiveSession) == 0 and count(LiveSeries) == 0


def test_a_date_in_the_past_needs_a_confirmation(app, client, organizer):
    client.login(organizer.email)
    past = {**FORM, "date": "2020-05-01", "action": "save"}
    asked = client.post("/live/new", past)
    assert asked.status_code == 400 and 'name="confirm_past"' in asked.get_data(as_text=True)
    with app.app_context():
        assert count(LiveSession) == 0
    assert client.post("/live/new", {**past, "confirm_past": "y"}).status_code == 302
    with app.app_context():
        assert count(LiveSession) == 1


def edit_data(app, session_id, **changes):
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        start = live.local(session.starts_at, session.timezone)
        data = {
            "scope": "one", "title_zh": session.title_zh, "title_en": session.title_en,
            "date": start.strftime("%Y-%m-%d"), "start": start.strftime("%H:%M"),
            "location": session.location, "capacity": str(session.capacity), "lecturer": "0",
            "guest_name": "", "guest_title": "",
        }  # fmt: skip
    data.update(changes)
    return data


def test_editing_a_session_changes_it_and_its_feed_revision(
    app, client, organizer, trainer, learner
):
    session_id = make_session(app, starts_in=timedelta(days=3), capacity=1)
    register(app, learner.id, session_id)
    other = make_session(app, starts_in=timedelta(days=3))
    with app.app_context():
        waiting = Registration(session_id=session_id, user_id=organizer.id, status="waitlisted")
        db.session.add(waiting)
        db.session.commit()
        waiting_id = waiting.id
    client.login(organizer.email)
    url = f"/live/{session_id}/manage"
    assert 'value="Activity day"' in client.get(url).get_data(as_text=True)
    data = edit_data(
        app, session_id, title_zh="新标题", title_en="New title", location="Room 5",
        capacity="2", lecturer=str(trainer.id), start="15:00",
    )  # fmt: skip
    assert client.post(url, data).status_code == 302
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        assert (session.title_en, session.location, session.capacity, session.lecturer_id) == (
            "New title", "Room 5", 2, trainer.id,
        )  # fmt: skip
        assert live.local(session.starts_at, session.timezone).time() == time(15, 0)
        assert session.sequence >= 1 and session.moved
        assert db.session.get(Registration, waiting_id).status == "registered"  # a seat freed up
        assert db.session.get(LiveSession, other).sequence == 0
    too_few = client.post(url, edit_data(app, session_id, capacity="1"))
    assert too_few.status_code == 409


def test_registered_sessions_never_move_into_the_past(app, client, organizer, learner):
    session_id = make_session(app, starts_in=timedelta(days=3))
    client.login(organizer.email)
    url = f"/live/{session_id}/manage"
    yesterday = (datetime.now(SHANGHAI) - timedelta(days=1)).strftime("%Y-%m-%d")
    asked = client.post(url, edit_data(app, session_id, date=yesterday))
    assert asked.status_code == 400 and "in the past" in asked.get_data(as_text=True)
    register(app, learner.id, session_id)
    refused = client.post(url, edit_data(app, session_id, date=yesterday, confirm_past="y"))
    assert refused.status_code == 409
    with app.app_context():
        session = db.session.get(LiveSession, session_id)
        assert live.aware(session.starts_at) > datetime.now(UTC) and not session.moved


def make_weekly(app, organizer, weeks=6):
    with app.test_request_context():
        start = (datetime.now(SHANGHAI) + timedelta(days=2)).replace(
            hour=9, minute=0, second=0, microsecond=0, tzinfo=None
        )
        series = live.create_series(
            live.SessionValues(title_zh="周课", title_en="Weekly", location="A", capacity=10),
            f"FREQ=WEEKLY;COUNT={weeks}",
            start,
            [{"kind": "lecture", "title_zh": "讲座", "title_en": "Lecture", "offset": 0,
              "minutes": 60}],
            db.session.get(type(organizer), organizer.id),
        )  # fmt: skip
        return [
            s.id
            for s in db.session.scalars(
                db.select(LiveSession)
                .filter_by(series_id=series.id)
                .order_by(LiveSession.starts_at)
            )
        ]


def test_this_and_following_edits_the_rest_of_the_series(app, client, organizer):
    ids = make_weekly(app, organizer)
    client.login(organizer.email)
    data = edit_data(app, ids[2], scope="following", location="Hall B", start="10:30")
    assert client.post(f"/live/{ids[2]}/manage", data).status_code == 302
    with app.app_context():
        found = [db.session.get(LiveSession, i) for i in ids]
        assert [s.location for s in found] == ["A", "A", "Hall B", "Hall B", "Hall B", "Hall B"]
        times = [live.local(s.starts_at, s.timezone).strftime("%H:%M") for s in found]
        assert times == ["09:00", "09:00", "10:30", "10:30", "10:30", "10:30"]
        assert [s.sequence > 0 for s in found] == [False, False, True, True, True, True]
        # The series was split at the third date; generating again adds nothing.
        assert live.extend_series(datetime.now(UTC) + timedelta(days=300)) == 0
        assert count(LiveSession) == 6


def test_ending_a_series_removes_or_cancels_what_follows(app, client, organizer, learner):
    ids = make_weekly(app, organizer)
    register(app, learner.id, ids[4])
    client.login(organizer.email)
    url = f"/live/{ids[2]}/end-series"
    assert client.post(url, {"end-reason": ""}).status_code == 400
    assert client.post(url, {"end-reason": "项目结束"}).status_code == 302
    with app.app_context():
        remaining = {s.id: s for s in db.session.scalars(db.select(LiveSession))}
        assert sorted(remaining) == sorted([*ids[:3], ids[4]])
        assert remaining[ids[4]].status == "cancelled"
        assert remaining[ids[4]].cancel_reason == "项目结束"
        assert live.extend_series(datetime.now(UTC) + timedelta(days=300)) == 0
    page = client.get(f"/live/{ids[4]}").get_data(as_text=True)
    assert "项目结束" in page


def test_cancelling_needs_a_reason_that_is_shown(app, client, organizer):
    session_id = make_session(app, starts_in=timedelta(days=3))
    client.login(organizer.email)
    assert client.post(f"/live/{session_id}/cancel", {"reason": " "}).status_code == 400
    assert client.post(f"/live/{session_id}/cancel", {"reason": "台风停课"}).status_code == 302
    assert "台风停课" in client.get(f"/live/{session_id}").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(LiveSession, session_id).cancel_reason == "台风停课"
    assert client.post(f"/live/{session_id}/reinstate", {}).status_code == 302
    with app.app_context():
        assert db.session.get(LiveSession, session_id).cancel_reason is None


def test_this_and_following_with_a_new_date_moves_every_following_session(
    app, client, organizer, learner
):
    ids = make_weekly(app, organizer)
    register(app, learner.id, ids[3])
    with app.app_context():
        before = [
            live.local(db.session.get(LiveSession, i).starts_at, "Asia/Shanghai") for i in ids
        ]
        feeds_before = [db.session.get(LiveSession, i).sequence for i in ids]
    client.login(organizer.email)
    new_day = (before[2] + timedelta(days=2)).strftime("%Y-%m-%d")
    data = edit_data(app, ids[2], scope="following", date=new_day, start="14:00")
    assert client.post(f"/live/{ids[2]}/manage", data).status_code == 302
    with app.app_context():
        found = [db.session.get(LiveSession, i) for i in ids]
        after = [live.local(s.starts_at, "Asia/Shanghai") for s in found]
        assert after[:2] == before[:2]
        for old, new in zip(before[2:], after[2:], strict=True):  # two days later, at 14:00
            assert new.date() == old.date() + timedelta(days=2)
            assert new.strftime("%H:%M") == "14:00"
        # Feed revisions: SEQUENCE rises and LAST-MODIFIED moves for the moved sessions only.
        assert [s.sequence > b for s, b in zip(found, feeds_before, strict=True)] == [
            False, False, True, True, True, True,
        ]  # fmt: skip
        assert all(s.updated_at is not None for s in found[2:])
        # Segments moved with their sessions.
        for session in found:
            assert live.aware(session.segments[0].starts_at) == live.aware(session.starts_at)
        # The series continues from the new date: extending it adds nothing twice.
        assert live.extend_series(datetime.now(UTC) + timedelta(days=300)) == 0
        assert count(LiveSession) == 6
        successor = found[2].series
        assert successor.id != found[0].series_id
        assert (
            live.local(successor.starts_local.replace(tzinfo=SHANGHAI), "Asia/Shanghai")
            == (after[2])
        )


def test_this_and_following_into_the_past_is_guarded(app, client, organizer, learner):
    ids = make_weekly(app, organizer, weeks=3)
    client.login(organizer.email)
    with app.app_context():
        first = live.local(db.session.get(LiveSession, ids[0]).starts_at, "Asia/Shanghai")
    back = (first - timedelta(days=7)).strftime("%Y-%m-%d")
    url = f"/live/{ids[0]}/manage"
    asked = client.post(url, edit_data(app, ids[0], scope="following", date=back))
    assert asked.status_code == 400 and "in the past" in asked.get_data(as_text=True)
    register(app, learner.id, ids[0])
    refused = client.post(
        url, edit_data(app, ids[0], scope="following", date=back, confirm_past="y")
    )
    assert refused.status_code == 409
    with app.app_context():  # nothing written: every session where it was, no revision
        assert [db.session.get(LiveSession, i).sequence for i in ids] == [0, 0, 0]
        assert count(LiveSeries) == 1


def test_a_series_moved_from_its_first_session_keeps_one_series(app, organizer):
    ids = make_weekly(app, organizer, weeks=3)
    with app.test_request_context():
        session = db.session.get(LiveSession, ids[0])
        target = live.local(session.starts_at, session.timezone) + timedelta(days=1)
        edit = live.SessionEdit("周课", "Weekly", "A", 10)
        assert live_series.edit_following(session, edit, starts_at=target) == 3
        assert count(LiveSeries) == 1
        assert live.extend_series(datetime.now(UTC) + timedelta(days=300)) == 0
        assert count(LiveSession) == 3


@pytest.mark.engine_independent
@pytest.mark.parametrize(
    ("rule", "days", "moved"),
    [
        ("FREQ=MONTHLY;BYMONTHDAY=25", 1, "FREQ=MONTHLY;BYMONTHDAY=26"),
        ("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4", -1, "FREQ=WEEKLY;BYDAY=SU,TU;COUNT=4"),
        ("FREQ=MONTHLY;BYDAY=2SU", 1, "FREQ=MONTHLY;BYDAY=2MO"),
        ("FREQ=WEEKLY;UNTIL=20311231T155959Z", 3, "FREQ=WEEKLY;UNTIL=20320103T155959Z"),
    ],
)
def test_a_rule_moves_by_days(app, rule, days, moved):
    with app.test_request_context():
        assert live_series.shift_rule(rule, days) == moved


@pytest.mark.engine_independent
@pytest.mark.parametrize(
    "rule", ["FREQ=MONTHLY;BYMONTHDAY=31", "FREQ=YEARLY;BYMONTH=3", "FREQ=MONTHLY;BYMONTHDAY=-1"]
)
def test_a_rule_that_cannot_move_is_refused(app, rule):
    with app.test_request_context(), pytest.raises(live.LiveError):
        live_series.shift_rule(rule, 1)
