import pytest

from lms.extensions import db
from lms.models import AuthSession, User
from tests.conftest import PASSWORD


def register(client, **fields):
    data = {
        "name": "Liu Yang",
        "email": "liu@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "locale": "en",
    }
    data.update(fields)
    return client.post("/register", data)


def test_registering_creates_a_learner_and_logs_in(client, app):
    response = register(client)
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email="liu@example.com"))
        assert user.role == "learner"
        assert user.password_hash != PASSWORD


def test_registering_cannot_choose_a_role(client, app):
    register(client, role="organizer", is_manager="y", organization_id="1")
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email="liu@example.com"))
        assert (user.role, user.is_manager, user.organization_id) == ("learner", False, None)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-email"}, "Invalid email address"),
        ({"password": "short", "confirm": "short"}, "at least 10 characters"),
        ({"password": "1234567890", "confirm": "1234567890"}, "one of the most common"),
        ({"password": "Liu Yang Li", "confirm": "Liu Yang Li", "name": "liu yang li"}, "or name"),
        ({"confirm": "something else entirely"}, "The passwords differ"),
        ({"name": ""}, "This field is required"),
        ({"locale": "xx"}, "Not a valid choice"),
    ],
)
def test_registration_errors_are_explained(client, app, fields, message):
    response = register(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_an_email_registers_only_once(client, learner):
    response = register(client, email="LEARNER@example.com")
    assert response.status_code == 400
    assert "already registered" in response.get_data(as_text=True)


def test_login_and_logout(client, learner):
    response = client.login(learner.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    assert client.logout().status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_wrong_password_and_unknown_account_get_the_same_answer(client, learner):
    wrong = client.login(learner.email, "not the password")
    unknown = client.login("nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong e-mail or password" in wrong.get_data(as_text=True)
    assert "Wrong e-mail or password" in unknown.get_data(as_text=True)


def test_disabled_account_cannot_log_in(client, app, learner):
    with app.app_context():
        db.session.get(User, learner.id).active = False
        db.session.commit()
    assert client.login(learner.email).status_code == 400


def test_a_session_copied_before_logout_no_longer_works(client, app, learner):
    client.login(learner.email)
    stolen = client.raw.get_cookie("session").value
    client.logout()
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/dashboard")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_logout_ends_only_that_login(client, app, learner):
    client.login(learner.email)
    other_device = type(client)(app.test_client())
    other_device.login(learner.email)
    client.logout()
    assert other_device.get("/dashboard").status_code == 200
    with app.app_context():
        sessions = db.session.scalars(db.select(AuthSession)).all()
        assert sorted(s.revoked_at is None for s in sessions) == [False, True]


def test_disabling_an_account_ends_its_sessions(client, app, learner):
    client.login(learner.email)
    with app.app_context():
        db.session.get(User, learner.id).active = False
        db.session.commit()
    assert client.get("/dashboard").status_code == 302


def test_login_starts_a_new_session(client, learner):
    client.get("/login")
    before = client.raw.get_cookie("session").value
    client.login(learner.email)
    after = client.raw.get_cookie("session").value
    assert before != after


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/%0d%0aSet-Cookie:x=1",
        " //evil.example",
    ],
)
def test_login_never_redirects_off_site(client, learner, target):
    response = client.post("/login", {"email": learner.email, "password": PASSWORD, "next": target})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in location.split("?")[0] or location == "/dashboard"


def test_login_returns_to_a_local_next_page(client, learner, course):
    target = f"/camps/{course.camp.slug}/{course.slug}/"
    response = client.post("/login", {"email": learner.email, "password": PASSWORD, "next": target})
    assert response.headers["Location"] == target


def test_forms_without_a_csrf_token_are_refused(client, learner):
    response = client.post("/login", {"email": learner.email, "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)


def test_logout_needs_a_post_with_csrf(client, learner):
    client.login(learner.email)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout", csrf=False).status_code == 400
    assert client.get("/dashboard").status_code == 200


def test_authenticated_pages_are_not_cached(client, learner):
    client.login(learner.email)
    assert client.get("/dashboard").headers["Cache-Control"] == "no-store"


def test_session_cookie_is_httponly_and_samesite(client, learner):
    response = client.login(learner.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_account_page_shows_the_user(client, learner):
    client.login(learner.email)
    page = client.get("/account").get_data(as_text=True)
    assert learner.email in page


def test_static_assets_stay_cacheable_when_logged_in(client, learner):
    client.login(learner.email)
    response = client.get("/static/css/app.css")
    assert response.headers.get("Cache-Control") != "no-store"


def test_failed_logins_are_rate_limited_per_account(client, app, learner):
    answers = [client.login(learner.email, "wrong password!").status_code for _ in range(11)]
    assert answers[:10] == [400] * 10 and answers[10] == 429
    assert client.login(learner.email).status_code == 429  # even the right password waits
    other_device = type(client)(app.test_client())
    other_device.raw.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert other_device.login(learner.email).status_code == 429  # the account is the key


def test_failed_logins_are_rate_limited_per_address(client, make_user):
    for number in range(10):
        client.login(f"nobody{number}@example.com", "wrong password!")
    assert client.login("someone-else@example.com", "wrong password!").status_code == 429
