"""Passwords: the rules (hypothesis), changing a password on the account page, and the reset
by e-mail (same answer for known and unknown addresses, rate limits, one-time links)."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lms.extensions import db
from lms.models import AccountToken, AuthSession, Organization, User
from lms.models._base import aware, utcnow
from lms.services import account_tokens, accounts, jobs, passwords
from lms.services import invites as org_service
from lms.web.forms import ResetPasswordForm
from tests.conftest import PASSWORD, Client, without_csrf

NEW_PASSWORD = "a new and longer passphrase"
COMMON_MESSAGE = "one of the most common"
LIKE_ACCOUNT_MESSAGE = "not your e-mail address or name"
INVALID_LINK = "This link does not work"
LIST = sorted(passwords.common_passwords())


def main(response) -> str:
    """The page's own content (the header's language form carries a fresh CSRF token)."""
    return response.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]


def without_tokens(html: str) -> str:
    """The page without its CSRF token values (the hidden fields and the meta tag): they carry
    a timestamp, so two answers a second apart differ there only."""
    return without_csrf(html.encode()).decode()


# -- the rules, property-based ---------------------------------------------------------


def test_the_shipped_list_holds_ten_thousand_lowercase_passwords():
    assert passwords.COMMON_PASSWORDS.is_file()
    assert len(LIST) == 10_000
    assert all(entry == entry.strip().lower() for entry in LIST)
    for known in ("123456", "password", "qwertyuiop", "basketball", "1q2w3e4r5t"):
        assert known in passwords.common_passwords()


@given(st.text(max_size=passwords.MIN_LENGTH - 1))
def test_short_passwords_are_refused(password):
    assert passwords.problem(password) == passwords.TOO_SHORT


@given(st.text(min_size=passwords.MAX_LENGTH + 1, max_size=passwords.MAX_LENGTH + 50))
def test_overlong_passwords_are_refused(password):
    assert passwords.problem(password) == passwords.TOO_LONG


@given(st.text(alphabet=" \t\n\u3000", min_size=10, max_size=40))
def test_passwords_of_spaces_only_are_refused(password):
    assert passwords.problem(password) == passwords.TOO_SHORT


@given(
    st.sampled_from([entry for entry in LIST if len(entry) >= passwords.MIN_LENGTH]),
    st.lists(st.booleans(), min_size=40, max_size=40),
    st.sampled_from(["", " ", "  "]),
)
def test_common_passwords_are_refused_in_any_case(entry, upper, padding):
    varied = "".join(c.upper() if flip else c for c, flip in zip(entry, upper, strict=False))
    assert passwords.problem(padding + varied + padding) == passwords.COMMON


@given(st.sampled_from(LIST))
def test_every_list_entry_is_refused_one_way_or_another(entry):
    assert passwords.problem(entry) in (passwords.TOO_SHORT, passwords.COMMON)


ASCII_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 .-_", min_size=10)


@given(ASCII_WORDS.filter(lambda s: s.strip()), st.booleans())
def test_the_email_address_or_its_name_part_is_refused(local, upper):
    local = local.strip().replace(" ", "")
    assume(len(local) >= passwords.MIN_LENGTH)
    email = f"{local}@example.com"
    for password in (email, local):
        candidate = password.upper() if upper else password
        assert passwords.problem(candidate, email=email) == passwords.LIKE_ACCOUNT


@given(ASCII_WORDS.filter(lambda s: len(s.strip()) >= 10), st.booleans())
def test_the_name_is_refused(name, upper):
    password = name.strip().upper() if upper else f" {name} "
    assert passwords.problem(password, name=name) == passwords.LIKE_ACCOUNT


@given(st.text(min_size=passwords.MIN_LENGTH, max_size=passwords.MAX_LENGTH))
def test_other_passwords_are_accepted(password):
    assume(password.strip() and password.strip().lower() not in passwords.common_passwords())
    assert passwords.problem(password, email="someone@example.com", name="Some One") is None
    assert passwords.problem(password) is None


@given(
    st.text(max_size=300),
    st.one_of(st.none(), st.text(max_size=60)),
    st.one_of(st.none(), st.text(max_size=60)),
)
def test_the_rules_answer_any_input_with_a_known_code(password, email, name):
    codes = {None, passwords.TOO_SHORT, passwords.TOO_LONG, passwords.LIKE_ACCOUNT}
    assert passwords.problem(password, email=email, name=name) in codes | {passwords.COMMON}


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
@given(password=st.text(max_size=300))
def test_the_form_validator_agrees_with_the_rules(app, password):
    """The WTForms validator every form uses refuses exactly what the rules refuse."""
    account = User(email="kim.lee@example.com", name="Kim Lee the Third")
    with app.test_request_context(method="POST", data={"password": password, "confirm": password}):
        form = ResetPasswordForm(meta={"csrf": False})
        form.account = account
        valid = form.validate()
    expected = passwords.problem(password, email=account.email, name=account.name) is None
    assert valid == (expected and bool(password.strip()))


# -- one validator everywhere a password is chosen -------------------------------------


@pytest.fixture
def acme(app, make_user):
    manager = make_user("manager@acme.example", organization="Acme", is_manager=True)
    with app.app_context():
        organization = db.session.get(Organization, manager.organization_id)
        _invite, token = org_service.create_invite(
            organization, by=db.session.get(User, manager.id)
        )
        staff = accounts.create_user("staff.person@acme.example", "Staff Person", PASSWORD)
        staff.password_hash = account_tokens.unusable_password()
        setup = account_tokens.issue_setup_token(staff)
        db.session.commit()
        return {"invite": token, "setup": setup.token}


def _reset_token(app, user: User) -> str:
    with app.app_context():
        link = account_tokens.issue_setup_token(
            db.session.get(User, user.id), purpose="reset", lifetime=timedelta(hours=1)
        )
        db.session.commit()
        return link.token


@pytest.mark.parametrize("place", ["register", "invite", "setup", "change", "reset"])
@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("1q2w3e4r5t6y", COMMON_MESSAGE),
        ("BasketBall", COMMON_MESSAGE),
        ("short", "Use at least 10 characters."),
        ("x" * 257, "Use at most 256 characters."),
        ("learner@example.com", LIKE_ACCOUNT_MESSAGE),
    ],
)
def test_every_password_form_applies_the_rules(
    app, client, learner, acme, place, password, message
):
    fields = {"password": password, "confirm": password}
    signup = {"name": "Learner Two", "email": "learner@example.com", "locale": "en"}
    if place == "register":
        url, fields = "/register", {**fields, **signup}
    elif place == "invite":
        url, fields = f"/invite/{acme['invite']}", {**fields, **signup}
    elif place == "setup":
        url = f"/account/setup/{acme['setup']}"
        if password == "learner@example.com":  # the account of this link is another one
            fields = dict.fromkeys(fields, "staff.person@acme.example")
    elif place == "change":
        client.login(learner.email)
        url, fields = "/account/password", {**fields, "current_password": PASSWORD}
    else:
        url = f"/reset/{_reset_token(app, learner)}"
    response = client.post(url, fields)
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert message in response.get_data(as_text=True)


# -- changing the password -------------------------------------------------------------


def change(client: Client, current: str = PASSWORD, new: str = NEW_PASSWORD, **extra):
    return client.post(
        "/account/password",
        {"current_password": current, "password": new, "confirm": new, **extra},
    )


def live_sessions(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(db.func.count(AuthSession.id)).where(
                AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
            )
        )


def test_the_account_page_offers_the_change(client, learner):
    client.login(learner.email)
    page = client.get("/account").get_data(as_text=True)
    assert 'data-test="password-form"' in page
    assert 'autocomplete="current-password"' in page


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(app, client, learner):
    client.login(learner.email)
    phone = Client(app.test_client())
    phone.login(learner.email)
    before = client.raw.get_cookie("session").value
    response = change(client)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert client.raw.get_cookie("session").value != before
    assert client.get("/dashboard").status_code == 200
    assert "Your other devices are logged out" in client.get("/account").get_data(as_text=True)
    assert phone.get("/dashboard").status_code == 302  # ended on the server
    assert live_sessions(app, learner.id) == 1
    thief = app.test_client()
    thief.set_cookie("session", before)  # this browser's cookie from before the change
    assert thief.get("/dashboard").status_code == 302
    client.logout()
    assert client.login(learner.email, PASSWORD).status_code == 400
    assert client.login(learner.email, NEW_PASSWORD).status_code == 302


def test_a_wrong_current_password_changes_nothing(app, client, learner):
    client.login(learner.email)
    response = change(client, current="not my password")
    assert response.status_code == 400
    assert "This is not your current password." in response.get_data(as_text=True)
    with app.app_context():
        assert accounts.verify_password(db.session.get(User, learner.id), PASSWORD)
    assert client.get("/dashboard").status_code == 200


def test_wrong_current_passwords_count_as_failed_logins(app, client, learner):
    client.login(learner.email)
    answers = [change(client, current=f"guess number {n}").status_code for n in range(10)]
    assert answers == [400] * 10
    assert change(client).status_code == 429  # even the right one waits
    assert Client(app.test_client()).login(learner.email).status_code == 429


def test_the_change_needs_a_login_and_the_csrf_token(client, learner):
    response = change(client)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    client.login(learner.email)
    assert client.post("/account/password", {}, csrf=False).status_code == 400
    assert client.get("/account/password").status_code == 405


def test_a_change_spends_unused_reset_links(app, client, learner):
    token = _reset_token(app, learner)
    client.login(learner.email)
    assert change(client).status_code == 302
    assert Client(app.test_client()).get(f"/reset/{token}").status_code == 404


# -- the reset by e-mail ---------------------------------------------------------------


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def reset_app(make_app, mailbox):
    return make_app(JOBS_INLINE=True, MAIL_DIR=str(mailbox))


@pytest.fixture
def visitor(reset_app) -> Client:
    return Client(reset_app.test_client())


def mails(mailbox: Path) -> list:
    if not mailbox.exists():
        return []
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(mailbox.glob("*.eml"))
    ]


def link_in(message) -> str:
    body = message.get_body(("plain",)).get_content()
    return re.search(r"http://localhost(/reset/[A-Za-z0-9_-]+)", body).group(1)


def ask(client: Client, email: str):
    return client.post("/password/forgot", {"email": email})


def make_account(app, email: str = "kim@example.com", **values) -> int:
    with app.app_context():
        user = accounts.create_user(email, "Kim Lee", PASSWORD, locale="en", **values)
        return user.id


def test_the_login_page_links_to_the_reset(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in page
    assert client.get("/password/forgot").status_code == 200


def test_known_and_unknown_addresses_get_the_same_answer(reset_app, visitor, mailbox):
    make_account(reset_app)
    known = ask(visitor, "kim@example.com")
    unknown = ask(visitor, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert without_tokens(known.get_data(as_text=True)) == without_tokens(
        unknown.get_data(as_text=True)
    )
    assert "If an account has this e-mail address" in known.get_data(as_text=True)
    sent = mails(mailbox)
    assert [m["To"] for m in sent] == ["kim@example.com"]


def test_the_page_does_the_same_work_for_known_and_unknown_addresses(
    reset_app, visitor, monkeypatch
):
    """The account is looked up in the job, never during the request: the request's work
    (and so its time) cannot tell the two apart."""
    make_account(reset_app)
    queued: list[tuple] = []
    monkeypatch.setattr(jobs, "enqueue", lambda path, *args: queued.append((path, *args)))
    ask(visitor, "Kim@Example.com")
    ask(visitor, "nobody@example.com")
    job = "lms.services.password_reset.send_link"
    assert queued == [
        (job, "kim@example.com", "http://localhost/"),
        (job, "nobody@example.com", "http://localhost/"),
    ]
    with reset_app.app_context():
        assert db.session.scalar(db.select(db.func.count(AccountToken.id))) == 0


def test_the_mail_links_to_a_one_hour_one_time_reset(reset_app, visitor, mailbox):
    user_id = make_account(reset_app)
    other_device = Client(reset_app.test_client())
    other_device.login("kim@example.com")
    ask(visitor, "kim@example.com")
    (message,) = mails(mailbox)
    assert message["Subject"] == "Choose a new password for Innovation Academy"
    body = message.get_body(("plain",)).get_content()
    assert "Hello Kim Lee," in body and "60 minutes" in body
    url = link_in(message)
    token = url.rsplit("/", 1)[1]
    with reset_app.app_context():
        row = db.session.scalar(db.select(AccountToken))
        assert (row.user_id, row.purpose, row.used_at) == (user_id, "reset", None)
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        lifetime = aware(row.expires_at) - utcnow()
        assert timedelta(minutes=59) < lifetime <= timedelta(hours=1)

    page = visitor.get(url)
    assert page.status_code == 200 and "kim@example.com" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    done = visitor.post(url, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert other_device.get("/dashboard").status_code == 302  # every session ended
    assert visitor.login("kim@example.com", PASSWORD).status_code == 400
    assert visitor.login("kim@example.com", NEW_PASSWORD).status_code == 302
    with reset_app.app_context():
        assert db.session.scalar(db.select(AccountToken.used_at)) is not None

    again = Client(reset_app.test_client())
    used = again.get(url)
    unknown = again.get("/reset/" + "A" * 43)
    assert used.status_code == unknown.status_code == 404
    assert main(used) == main(unknown)
    assert INVALID_LINK in main(used)
    posted = again.post(url, {"password": "yet another passphrase", "confirm": "x"})
    assert posted.status_code == 404


def test_an_expired_link_is_the_same_404(reset_app, visitor, mailbox):
    make_account(reset_app)
    ask(visitor, "kim@example.com")
    url = link_in(mails(mailbox)[0])
    with reset_app.app_context():
        row = db.session.scalar(db.select(AccountToken))
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    expired = visitor.get(url)
    assert expired.status_code == 404
    assert main(expired) == main(visitor.get("/reset/nothing-at-all"))


def test_reset_and_setup_links_are_not_interchangeable(app, client, learner, acme):
    reset_token = _reset_token(app, learner)
    assert client.get(f"/account/setup/{reset_token}").status_code == 404
    assert client.get(f"/reset/{acme['setup']}").status_code == 404
    assert client.get(f"/reset/{reset_token}").status_code == 200


def test_disabled_accounts_get_no_mail_and_their_links_stop(reset_app, visitor, mailbox):
    user_id = make_account(reset_app)
    ask(visitor, "kim@example.com")
    url = link_in(mails(mailbox)[0])
    with reset_app.app_context():
        db.session.get(User, user_id).active = False
        db.session.commit()
    assert visitor.get(url).status_code == 404
    assert ask(visitor, "kim@example.com").status_code == 200
    assert len(mails(mailbox)) == 1


def test_a_new_password_through_a_link_spends_the_other_links(reset_app, visitor, mailbox):
    make_account(reset_app)
    ask(visitor, "kim@example.com")
    ask(visitor, "kim@example.com")
    first, second = (link_in(message) for message in mails(mailbox))
    assert first != second
    done = visitor.post(second, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302
    assert visitor.get(first).status_code == 404


def test_the_base_url_setting_makes_the_links(make_app, mailbox):
    app = make_app(JOBS_INLINE=True, MAIL_DIR=str(mailbox), BASE_URL="https://lms.example.org/")
    make_account(app)
    client = Client(app.test_client())
    ask(client, "kim@example.com")
    body = mails(mailbox)[0].get_body(("plain",)).get_content()
    assert re.search(r"https://lms\.example\.org/reset/[A-Za-z0-9_-]{40,}", body)


def test_reset_requests_are_rate_limited_per_address_and_per_email(make_app, mailbox):
    app = make_app(
        JOBS_INLINE=True,
        MAIL_DIR=str(mailbox),
        PASSWORD_RESET_RATE_LIMIT="2/hour",
        PASSWORD_RESET_IP_RATE_LIMIT="4/hour",
    )
    make_account(app)
    client = Client(app.test_client())
    assert [ask(client, "kim@example.com").status_code for _ in range(3)] == [200, 200, 429]
    limited = ask(client, "kim@example.com")
    assert "Too many requests for a new password" in limited.get_data(as_text=True)
    assert len(mails(mailbox)) == 2
    # The same answer for an unknown address: the limit does not tell them apart.
    assert [ask(client, "nobody@example.com").status_code for _ in range(3)] == [200, 200, 429]
    # Four requests came from this address: a fifth e-mail is refused there...
    assert ask(client, "third@example.com").status_code == 429
    # ...but not from another address.
    elsewhere = Client(app.test_client())
    elsewhere.raw.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert ask(elsewhere, "third@example.com").status_code == 200


def test_bad_reset_forms_are_400(visitor):
    assert visitor.post("/password/forgot", {"email": "not an address"}).status_code == 400
    assert visitor.post("/password/forgot", {"email": ""}).status_code == 400
    assert visitor.post("/password/forgot", {"email": "x@example.com"}, csrf=False).status_code == (
        400
    )
