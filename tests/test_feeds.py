"""iCalendar feeds: secret, revocable, parsed back with the icalendar library."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from lms.extensions import db
from lms.models import CalendarFeed, Camp, LiveSession, User
from lms.services import live
from tests.conftest import Client, without_csrf

NEW_YORK = "America/New_York"
LECTURE = [
    {"kind": "lecture", "title_zh": "讲座", "title_en": "Lecture", "offset": 0, "minutes": 90}
]


def make(app, title, start, camp_slug=None, tz="Asia/Shanghai", plan=LECTURE):
    with app.test_request_context():
        camp_id = (
            db.session.scalar(db.select(Camp.id).filter_by(slug=camp_slug)) if camp_slug else None
        )
        values = live.SessionValues(
            title_zh=title,
            title_en=title,
            location="centre",
            capacity=5,
            timezone=tz,
            camp_id=camp_id,
        )
        return live.create_session(values, start, plan).id


def register(app, user_id, session_id):
    with app.test_request_context():
        live.register(db.session.get(User, user_id), db.session.get(LiveSession, session_id))


def new_link(client, camp=""):
    page = client.post("/calendar/feeds", {"camp": camp}).get_data(as_text=True)
    return re.search(r'id="feed-url"[^>]*value="([^"]+)"', page).group(1)


def events(client, url):
    response = client.get(url.replace("http://localhost", ""))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    return {
        str(e["summary"]).split(" / ")[1]: e
        for e in Calendar.from_ical(response.data).walk("VEVENT")
    }


@pytest.fixture
def sessions(app, learner):
    soon = datetime.now(UTC) + timedelta(days=3)
    ids = {
        "mine": make(app, "mine", soon, "startup-growth", plan=live.ACTIVITY_DAY_SEGMENTS),
        "moved": make(app, "moved", soon + timedelta(days=1)),
        "cancelled": make(app, "cancelled", soon + timedelta(days=2)),
        "dst": make(
            app, "dst", datetime(2027, 3, 16, 18, 0, tzinfo=live.zone(NEW_YORK)), tz=NEW_YORK
        ),
        "other": make(app, "other", soon, "startup-growth"),
        "disabled": make(app, "disabled", soon, "entrepreneur"),
    }
    for key in ("mine", "moved", "cancelled", "disabled"):
        register(app, learner.id, ids[key])
    with app.test_request_context():
        moved = db.session.get(LiveSession, ids["moved"])
        live.move(moved, live.aware(moved.starts_at) + timedelta(hours=2))
        live.cancel(db.session.get(LiveSession, ids["cancelled"]), "weather")
    return ids


def test_personal_feed_lists_exactly_my_sessions(app, client, learner, sessions):
    client.login(learner.email)
    found = events(client, new_link(client))
    assert set(found) == {"mine", "moved", "cancelled", "disabled"}
    with app.app_context():
        mine = db.session.get(LiveSession, sessions["mine"])
        assert found["mine"]["dtstart"].dt == live.aware(mine.starts_at)
        assert found["mine"]["dtend"].dt == live.aware(mine.ends_at)
        assert str(found["mine"]["uid"]) == f"live-{mine.id}@camp-lms"
    assert "Maker salon" in str(found["mine"]["description"])
    assert str(found["cancelled"]["status"]) == "CANCELLED"
    assert int(found["moved"]["sequence"]) == 1 and int(found["mine"]["sequence"]) == 0


def test_every_change_raises_the_sequence_and_moves_last_modified(app, client, learner, sessions):
    client.login(learner.email)
    url = new_link(client)
    with app.app_context():  # the first move was a day ago
        db.session.get(LiveSession, sessions["moved"]).updated_at = datetime.now(UTC) - timedelta(1)
        db.session.commit()
    first = events(client, url)["moved"]
    with app.test_request_context():
        moved = db.session.get(LiveSession, sessions["moved"])
        live.move(moved, live.aware(moved.starts_at) + timedelta(hours=1))
    second = events(client, url)["moved"]
    with app.test_request_context():
        live.cancel(db.session.get(LiveSession, sessions["moved"]), "weather")
        live.cancel(
            db.session.get(LiveSession, sessions["moved"]), "again"
        )  # no change: no new sequence
    third = events(client, url)["moved"]
    assert [int(e["sequence"]) for e in (first, second, third)] == [1, 2, 3]
    assert first["last-modified"].dt < second["last-modified"].dt <= third["last-modified"].dt
    assert str(third["status"]) == "CANCELLED"


def test_disabled_camps_leave_the_feeds(app, client, learner, organizer, sessions):
    client.login(learner.email)
    url = new_link(client)
    with app.test_request_context():
        from lms.services import camps

        camps.set_enabled("entrepreneur", False)
    assert "disabled" not in events(client, url)


def test_a_new_link_revokes_the_old_one_and_revoked_links_are_404(app, client, learner, sessions):
    client.login(learner.email)
    first = new_link(client).replace("http://localhost", "")
    second = new_link(client).replace("http://localhost", "")
    anonymous = Client(app.test_client())
    gone = anonymous.get(first)
    unknown = anonymous.get("/calendar/feed/not-a-token.ics")
    assert gone.status_code == unknown.status_code == 404
    assert without_csrf(gone.data) == without_csrf(unknown.data).replace(
        b"not-a-token", first.split("/")[-1][:-4].encode()
    )
    assert anonymous.get(second).status_code == 200
    with app.app_context():
        feed = db.session.scalars(db.select(CalendarFeed).filter_by(revoked_at=None)).one()
    client.post(f"/calendar/feeds/{feed.id}/revoke")
    assert anonymous.get(second).status_code == 404


def test_tokens_are_stored_only_as_fingerprints(app, client, learner, sessions):
    client.login(learner.email)
    token = new_link(client).split("/")[-1][:-4]
    with app.app_context():
        stored = db.session.scalars(db.select(CalendarFeed.token_hash)).all()
    assert token not in stored and len(stored[0]) == 64


def test_camp_feeds_are_for_organizers(app, client, learner, organizer, sessions):
    client.login(learner.email)
    assert client.post("/calendar/feeds", {"camp": "startup-growth"}).status_code == 403
    client.logout()
    client.login(organizer.email)
    found = events(client, new_link(client, "startup-growth"))
    assert set(found) == {"mine", "other"}


def test_feed_pages_by_role(app, client, learner, other_learner, sessions):
    assert client.get("/calendar/feeds").status_code == 302
    client.login(learner.email)
    new_link(client)
    with app.app_context():
        feed_id = db.session.scalars(db.select(CalendarFeed.id)).one()
    client.logout()
    client.login(other_learner.email)
    assert client.post(f"/calendar/feeds/{feed_id}/revoke").status_code == 404
    assert client.post("/calendar/feeds", {"camp": "nope"}).status_code == 400
    with app.app_context():
        assert db.session.get(CalendarFeed, feed_id).revoked_at is None


def test_waitlisted_sessions_are_tentative_and_disabled_accounts_lose_their_feed(
    app, client, learner, make_user
):
    soon = datetime.now(UTC) + timedelta(days=3)
    full = make(app, "full", soon)
    with app.test_request_context():
        db.session.get(LiveSession, full).capacity = 0
        db.session.commit()
    register(app, learner.id, full)
    client.login(learner.email)
    url = new_link(client)
    assert str(events(client, url)["full"]["status"]) == "TENTATIVE"
    with app.app_context():
        db.session.get(User, learner.id).active = False
        db.session.commit()
    assert Client(app.test_client()).get(url.replace("http://localhost", "")).status_code == 404


def test_the_academy_feed_is_public_and_lists_what_anyone_may_see(app, client, sessions):
    response = client.get("/calendar/academy.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = Calendar.from_ical(response.data)
    titles = {str(event["summary"]).split(" / ")[-1] for event in calendar.walk("VEVENT")}
    assert titles == {"mine", "moved", "cancelled", "dst", "other", "disabled"}
    cancelled = next(e for e in calendar.walk("VEVENT") if str(e["summary"]).endswith("cancelled"))
    assert str(cancelled["status"]) == "CANCELLED" and "weather" in str(cancelled["description"])
    page = client.get("/live/calendar").get_data(as_text=True)
    assert "webcal://localhost/calendar/academy.ics" in page
    with app.test_request_context():
        from lms.services import camps

        camps.set_enabled("entrepreneur", False)
    again = Calendar.from_ical(client.get("/calendar/academy.ics").data)
    assert "disabled / disabled" not in {str(e["summary"]) for e in again.walk("VEVENT")}
