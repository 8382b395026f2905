"""Login sessions end on the server: after an idle time, at an absolute age, when the same
browser logs in again; dead rows are pruned; no page whose address carries a token is cached.

Each test runs on SQLite and, with ``LMS_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import AuthSession, Organization, User
from lms.services import account_tokens, accounts, feeds, schedule
from lms.services import invites as org_service
from lms.web.auth import SESSION_SEEN, SESSION_TOKEN
from tests.conftest import PASSWORD, Client

HOUR = 3600


class Clock:
    """The time the session code sees (the signed cookie's own timestamp keeps real time)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("lms.web.auth.utcnow", clock)
    monkeypatch.setattr("lms.services.accounts.utcnow", clock)
    return clock


def browser(app, email: str | None = None) -> Client:
    client = Client(app.test_client())
    if email is not None:
        assert client.login(email).status_code == 302
    return client


def logged_in(client: Client) -> bool:
    response = client.get("/dashboard")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def cookie(client: Client) -> str:
    return client.raw.get_cookie("session").value


def with_cookie(app, value: str) -> Client:
    client = Client(app.test_client())
    client.raw.set_cookie("session", value)
    return client


def rows(app) -> list[AuthSession]:
    with app.app_context():
        return list(db.session.scalars(db.select(AuthSession).order_by(AuthSession.id)))


# -- lifetimes --------------------------------------------------------------------------------


def test_the_lifetimes_are_two_weeks_idle_and_thirty_days_in_all(app):
    assert app.config["SESSION_IDLE_LIFETIME"] == 14 * 24 * HOUR
    assert app.config["SESSION_ABSOLUTE_LIFETIME"] == 30 * 24 * HOUR
    # The cookie needs to outlive no idle period: each request renews it.
    assert app.permanent_session_lifetime.total_seconds() == 14 * 24 * HOUR


@pytest.mark.parametrize("idle", [HOUR, 14 * 24 * HOUR])
def test_a_login_ends_after_the_idle_lifetime(make_app, learner, clock, idle):
    app = make_app(SESSION_IDLE_LIFETIME=idle)
    client = browser(app, learner.email)
    clock.advance(idle - 60)
    assert logged_in(client)  # the request renews the login
    clock.advance(idle - 60)
    assert logged_in(client)
    clock.advance(idle + 1)
    assert not logged_in(client)
    clock.advance(-idle)  # even back within the limit: the login left the cookie
    assert not logged_in(client)


def test_an_idle_copy_of_the_cookie_stops_while_the_owner_goes_on(make_app, learner, clock):
    """The last use is kept in each copy of the signed cookie: a copy taken and left lying
    around expires after the idle time even while its owner keeps using the login."""
    app = make_app(SESSION_IDLE_LIFETIME=HOUR)
    owner = browser(app, learner.email)
    stolen = cookie(owner)
    for _step in range(4):
        clock.advance(HOUR / 2)
        assert logged_in(owner)
    assert not logged_in(with_cookie(app, stolen))
    assert logged_in(owner)


def test_a_login_ends_at_the_absolute_lifetime_however_active(make_app, learner, clock):
    app = make_app(SESSION_IDLE_LIFETIME=HOUR, SESSION_ABSOLUTE_LIFETIME=8 * HOUR)
    client = browser(app, learner.email)
    for _step in range(15):
        clock.advance(HOUR / 2)
        assert logged_in(client)
    clock.advance(HOUR / 2 + 1)  # eight hours and a second after the log-in
    assert not logged_in(client)
    assert client.login(learner.email).status_code == 302  # a new login starts afresh
    assert logged_in(client)


def test_the_idle_limit_is_enforced_on_the_server_not_by_the_cookie_expiry(app, learner):
    """A cookie whose recorded last use is older than the idle lifetime is refused, even
    when the browser still sends it (the signature proves the time was not edited)."""
    client = browser(app, learner.email)
    idle = app.config["SESSION_IDLE_LIFETIME"]
    with client.raw.session_transaction() as session:
        session[SESSION_SEEN] -= idle + 1
    assert not logged_in(client)
    client.login(learner.email)
    with client.raw.session_transaction() as session:
        session[SESSION_SEEN] -= idle - 60
    assert logged_in(client)


def test_a_cookie_from_before_the_idle_limit_is_no_login(app, learner):
    """Cookies issued before the idle time existed carry no last use: they are refused."""
    client = browser(app, learner.email)
    with client.raw.session_transaction() as session:
        del session[SESSION_SEEN]
    assert not logged_in(client)


def test_an_expired_login_is_forgotten_and_revoked_at_the_next_login(make_app, learner, clock):
    """An expired login leaves the browser's session; its token stays there only so that
    the next log-in in this browser revokes it."""
    app = make_app(SESSION_IDLE_LIFETIME=HOUR)
    client = browser(app, learner.email)
    clock.advance(HOUR + 1)
    client.get("/")
    with client.raw.session_transaction() as session:
        assert "_user_id" not in session
        expired = session[SESSION_TOKEN]
    assert client.login(learner.email).status_code == 302
    (row,) = rows(app)  # the expired login was revoked, then deleted as dead
    assert row.revoked_at is None and row.token_hash != hashlib.sha256(expired.encode()).hexdigest()


# -- a new login revokes the old one ---------------------------------------------------------


@pytest.mark.parametrize("second", ["same account", "another account"])
def test_logging_in_over_a_login_revokes_the_old_token(app, learner, other_learner, second):
    client = browser(app, learner.email)
    before = cookie(client)
    email = learner.email if second == "same account" else other_learner.email
    assert client.login(email).status_code == 302
    assert logged_in(client)
    assert not logged_in(with_cookie(app, before))  # the copy of the first login is dead
    live = [row for row in rows(app) if row.revoked_at is None]
    assert len(live) == 1


def test_registering_over_an_expired_login_revokes_it(make_app, learner, clock):
    app = make_app(SESSION_IDLE_LIFETIME=HOUR)
    client = browser(app, learner.email)
    clock.advance(HOUR + 1)
    assert not logged_in(client)
    response = client.post(
        "/register",
        {
            "name": "New Person",
            "email": "new@example.com",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "locale": "en",
        },
    )
    assert response.status_code == 302
    assert [(row.user_id, row.revoked_at is None) for row in rows(app)] == [
        (learner.id, False),
        (learner.id + 1, True),
    ]


def test_a_reset_link_opened_in_another_accounts_browser_revokes_that_login(
    app, learner, other_learner
):
    client = browser(app, other_learner.email)
    before = cookie(client)
    with app.app_context():
        link = account_tokens.issue_setup_token(
            db.session.get(User, learner.id), purpose="reset", lifetime=timedelta(hours=1)
        )
        db.session.commit()
    new_password = "a different long passphrase"
    response = client.post(
        f"/reset/{link.token}", {"password": new_password, "confirm": new_password}
    )
    assert response.status_code == 302
    assert not logged_in(with_cookie(app, before))
    assert not logged_in(client)


# -- pruning ---------------------------------------------------------------------------------


def test_pruning_deletes_revoked_and_too_old_logins_only(make_app, make_user, clock):
    app = make_app(SESSION_ABSOLUTE_LIFETIME=8 * HOUR)
    users = [make_user(f"user{number}@example.com") for number in range(3)]
    logged_out, _old, live = (browser(app, user.email) for user in users)
    logged_out.logout()
    with app.app_context():
        db.session.execute(
            db.update(AuthSession)
            .where(AuthSession.user_id == users[1].id)
            .values(created_at=clock() - timedelta(hours=8, seconds=1))
        )
        db.session.commit()
    assert len(rows(app)) == 3
    with app.app_context():
        assert "prune login sessions" in schedule.run_due(clock())
        assert schedule.run_due(clock()) == []  # not due again within the hour
    assert [row.user_id for row in rows(app)] == [users[2].id]
    assert logged_in(live)
    with app.app_context():  # run twice: nothing more to do, nothing breaks
        assert accounts.prune_sessions(clock()) == 0
    assert logged_in(live)


def test_pruning_is_a_registered_task_that_runs_hourly():
    (entry,) = [entry for entry in schedule.tasks() if entry.name == "prune login sessions"]
    assert entry.every == timedelta(hours=1)


def test_each_login_deletes_its_accounts_dead_rows(app, learner):
    """Without the scheduled task an account's rows stay bounded by its live logins."""
    client = browser(app, learner.email)
    for _number in range(5):
        client.logout()
        client.login(learner.email)
    assert len(rows(app)) == 1


# -- no caching of pages whose address is a secret --------------------------------------------


def token_rules(app) -> list:
    return [rule for rule in app.url_map.iter_rules() if "token" in rule.arguments]


def test_every_page_with_a_token_in_its_address_is_no_store(app, learner):
    """Every rule of the URL map with a token in its address, anonymous and logged in, with
    an unknown token (404 pages quote nothing, but still must not be kept either)."""
    rules = token_rules(app)
    assert len(rules) >= 4  # reset, set-password, invite, calendar feed
    adapter = app.url_map.bind("localhost")
    for client in (browser(app), browser(app, learner.email)):
        for rule in rules:
            url = adapter.build(rule.endpoint, {"token": secrets.token_urlsafe(32)})
            response = client.get(url)
            assert response.headers.get("Cache-Control") == "no-store", rule.rule


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_working_links_are_no_store(app, make_user, organizer, language):
    """Each kind of link with a working token: the page it opens is never cached."""
    person = make_user("staff@example.com")
    with app.app_context():
        user = db.session.get(User, person.id)
        setup = account_tokens.issue_setup_token(user).token
        reset = account_tokens.issue_setup_token(
            user, purpose="reset", lifetime=timedelta(hours=1)
        ).token
        company = Organization(name="Company")
        db.session.add(company)
        db.session.commit()
        _invite, invite = org_service.create_invite(company, by=db.session.get(User, organizer.id))
        _feed, feed = feeds.create_feed(user)
        db.session.commit()
    visitor = app.test_client()
    for url in (
        f"/account/setup/{setup}",
        f"/reset/{reset}",
        f"/invite/{invite}",
        f"/calendar/feed/{feed}.ics",
    ):
        response = visitor.get(url, headers={"Accept-Language": language})
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url
