"""Organizers create accounts on /admin/users/new: a set-password link or an initial
password, validation, duplicates as a form error, and links to each person's archive."""

from __future__ import annotations

import re

import pytest

from lms.extensions import db
from lms.models import AccountToken, Organization, User
from lms.services import user_admin
from tests.conftest import Client

LINK = re.compile(r'value="(http://localhost/account/setup/[^"]+)"')
STRONG = "correct horse battery staple 7"


def _fields(**changes: str) -> dict[str, str]:
    fields = {
        "name": "张伟 Zhang Wei",
        "email": "Zhang.Wei@Example.com",
        "role": "learner",
        "organization": "0",
        "locale": "zh_CN",
        "password": "",
    }
    return {**fields, **changes}


def _users(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(User.id)))


@pytest.fixture
def acme(app) -> int:
    with app.app_context():
        org = Organization(name="聚光科技")
        db.session.add(org)
        db.session.commit()
        return org.id


def test_only_organizers_create_users(app, client, learner, trainer, organizer):
    for user in (learner, trainer):
        client.login(user.email)
        assert client.get("/admin/users/new").status_code == 403
        assert client.post("/admin/users/new", _fields()).status_code == 403
        client.logout()
    assert _users(app) == 3


def test_a_new_user_gets_a_set_password_link_that_works(app, client, organizer, acme):
    client.login(organizer.email)
    assert client.get("/admin/users/new").status_code == 200
    response = client.post(
        "/admin/users/new", _fields(organization=str(acme), role="trainer", locale="en")
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    link = LINK.search(page).group(1)
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email="zhang.wei@example.com"))
        assert (user.name, user.role, user.locale, user.organization_id) == (
            "张伟 Zhang Wei", "trainer", "en", acme,
        )  # fmt: skip
        assert db.session.scalar(db.select(db.func.count(AccountToken.id))) == 1
        user_id = user.id
    assert f"/people/{user_id}/archive" in page
    # No password opens the account until the link is used.
    person = Client(app.test_client())
    assert person.login("zhang.wei@example.com", STRONG).status_code == 400
    path = link.removeprefix("http://localhost")
    assert person.get(path).status_code == 200
    response = person.post(path, {"password": STRONG, "confirm": STRONG})
    assert response.status_code in (200, 302)
    person = Client(app.test_client())
    assert person.login("zhang.wei@example.com", STRONG).status_code == 302


def test_an_initial_password_instead_of_a_link(app, client, organizer):
    client.login(organizer.email)
    response = client.post("/admin/users/new", _fields(password=STRONG))
    assert response.status_code == 200
    assert "/account/setup/" not in response.get_data(as_text=True)
    assert Client(app.test_client()).login("zhang.wei@example.com", STRONG).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AccountToken.id))) == 0


def test_a_taken_address_is_a_form_error_not_a_500(app, client, organizer, learner):
    client.login(organizer.email)
    before = _users(app)
    response = client.post("/admin/users/new", _fields(email=learner.email.upper()))
    assert response.status_code == 400
    assert "exists already" in response.get_data(as_text=True)
    assert _users(app) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"name": ""},
        {"name": "x" * 101},
        {"name": "a\x00b"},
        {"email": "not-an-address"},
        {"email": ""},
        {"role": "admin"},
        {"locale": "fr"},
        {"organization": "999999"},
        {"organization": "abc"},
        {"password": "short"},
        {"password": "password1234"},
        {"password": "zhang.wei@example.com"},
        {"is_manager": "y"},  # a manager without an organization
    ],
)
def test_invalid_input_is_a_400_and_writes_nothing(app, client, organizer, changes):
    client.login(organizer.email)
    before = _users(app)
    assert client.post("/admin/users/new", _fields(**changes)).status_code == 400
    assert _users(app) == before
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(AccountToken.id))) == 0


def test_the_chinese_form(app, client, organizer, learner):
    client.login(organizer.email)
    client.raw.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9"
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert "新用户" in page and "初始密码" in page
    response = client.post("/admin/users/new", _fields(email=learner.email))
    assert "已存在" in response.get_data(as_text=True)


def test_each_user_row_links_to_their_archive(app, client, organizer, learner):
    client.login(organizer.email)
    page = client.get("/admin/users").get_data(as_text=True)
    assert f'href="/people/{learner.id}/archive"' in page
    assert 'href="/admin/users/new"' in page
    assert client.get(f"/people/{learner.id}/archive").status_code == 200


def test_the_service_refuses_before_writing(app, organizer):
    with app.test_request_context():
        by = db.session.get(User, organizer.id)
        with pytest.raises(user_admin.AccountInvalid):
            user_admin.create_account(
                by=by, email="a@example.com", name="A", role="learner", locale="zh_CN",
                organization_id=2**40,
            )  # fmt: skip
        assert user_admin.get_user(2**40) is None
        assert user_admin.get_user(0) is None
    assert _users(app) == 1
