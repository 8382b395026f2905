"""The set-password page of imported staff and the password-reset page are one
implementation (lms.web.auth.password_link_page) with their own words."""

from __future__ import annotations

import pytest

from lms.extensions import db
from lms.models import User
from lms.services import account_tokens
from tests.conftest import PASSWORD
from tests.test_plans import login

NEW = "a new passphrase 2027"


def link(app, user_id: int, purpose: str) -> str:
    with app.app_context():
        made = account_tokens.issue_setup_token(db.session.get(User, user_id), purpose=purpose)
        db.session.commit()
        return made.token


@pytest.mark.parametrize(
    ("purpose", "url", "invalid", "done"),
    [
        ("setup", "/account/setup/{}", "Ask your manager for a new one.",
         "Your password is set. Log in with your e-mail address."),
        ("reset", "/reset/{}", "Ask for a new one on the log-in page.",
         "Your password is changed. Log in with the new password."),
    ],
)  # fmt: skip
def test_both_links_set_the_password_once_and_end_this_browsers_login(
    app, make_user, purpose, url, invalid, done
):
    owner = make_user("owner@example.com")
    other = make_user("other@example.com")
    token = link(app, owner.id, purpose)
    browser = login(app, other.email)  # someone else's login in this browser
    page = browser.get(url.format(token))
    assert page.status_code == 200 and "owner@example.com" in page.get_data(as_text=True)
    mismatch = browser.post(url.format(token), {"password": NEW, "confirm": NEW + "!"})
    assert mismatch.status_code == 400
    answer = browser.post(url.format(token), {"password": NEW, "confirm": NEW})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    assert done in browser.get("/login").get_data(as_text=True)
    assert browser.get("/account").status_code == 302  # the other login ended too
    spent = browser.get(url.format(token))
    assert spent.status_code == 404 and invalid in spent.get_data(as_text=True)
    fresh = login(app, None)
    assert fresh.login(owner.email, PASSWORD).status_code == 400  # the old password is gone
    assert fresh.login(owner.email, NEW).status_code == 302
