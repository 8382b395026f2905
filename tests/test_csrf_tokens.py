"""Pages reuse a recent signature of the session's CSRF token (lms.web.csrf_tokens).

The token a page carries is still one Flask-WTF accepts, the same in the layout and in the
forms a view builds; it is signed once a minute per session token rather than per page, and
never handed to another session or kept from a request that changed its session's token.
"""

from __future__ import annotations

import re

import pytest
from flask import session
from flask_wtf import csrf as flask_wtf_csrf
from flask_wtf.csrf import generate_csrf

from lms.web import csrf_tokens
from tests.conftest import CSRF, Client

META = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def signatures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every CSRF token Flask-WTF signs."""
    signed: list[str] = []

    class Counting(flask_wtf_csrf.URLSafeTimedSerializer):
        def dumps(self, *args, **kwargs):
            token = super().dumps(*args, **kwargs)
            signed.append(token)
            return token

    monkeypatch.setattr(flask_wtf_csrf, "URLSafeTimedSerializer", Counting)
    monkeypatch.setattr(csrf_tokens, "_signed", {})
    return signed


def meta_token(client: Client, url: str = "/") -> str:
    return META.search(client.get(url).get_data(as_text=True)).group(1)


def test_pages_reuse_one_signature_and_it_is_accepted(client, learner, signatures):
    client.login(learner.email)
    meta_token(client)  # the session's new token, made and signed: not kept from this request
    signatures.clear()
    tokens = {meta_token(client) for _ in range(3)} | {meta_token(client, "/dashboard")}
    assert len(tokens) == 1 and len(signatures) == 1
    (token,) = tokens
    answer = client.post("/language", {"locale": "en", "csrf_token": token}, csrf=False)
    assert answer.status_code == 302


def test_a_views_form_carries_the_reused_token(client, signatures):
    client.get("/login")  # anonymous: the session's token made (and signed)
    first = client.get("/login").get_data(as_text=True)  # signed, and kept
    again = client.get("/login").get_data(as_text=True)  # reused
    assert CSRF.search(again).group(1) == META.search(again).group(1)
    assert CSRF.search(again).group(1) == CSRF.search(first).group(1)
    assert len(signatures) == 2


def test_a_signature_is_reused_for_a_minute(client, learner, signatures, monkeypatch):
    client.login(learner.email)
    meta_token(client)
    meta_token(client)
    signed = len(signatures)
    clock = csrf_tokens.time.monotonic() + csrf_tokens.REUSE_SECONDS
    monkeypatch.setattr(csrf_tokens.time, "monotonic", lambda: clock)
    meta_token(client)
    assert len(signatures) == signed + 1


def test_each_session_gets_its_own_token(app, make_user, signatures):
    people = [make_user(f"p{n}@example.com") for n in range(2)]
    clients = [Client(app.test_client()) for _ in people]
    for client, person in zip(clients, people, strict=True):
        client.login(person.email)
    first, second = (meta_token(client) for client in clients)
    assert first != second
    refused = clients[1].post("/language", {"locale": "en", "csrf_token": first}, csrf=False)
    assert refused.status_code == 400


def test_a_new_login_gets_a_new_token_and_the_old_one_is_refused(client, learner, signatures):
    anonymous = meta_token(client, "/login")
    client.login(learner.email)
    for _ in range(2):
        logged_in = meta_token(client)
        assert logged_in != anonymous
    old = client.post("/language", {"locale": "en", "csrf_token": anonymous}, csrf=False)
    assert old.status_code == 400


def test_a_request_that_changes_the_sessions_token_keeps_nothing(make_app, signatures):
    app = make_app()

    @app.get("/test-replace-token")
    def replace_token() -> str:
        token = generate_csrf()  # signed for the session's token
        session["csrf_token"] = "another"
        return token

    client = app.test_client()
    client.get("/login")
    old = client.get("/test-replace-token").get_data(as_text=True)
    assert "another" not in {key[1] for key in csrf_tokens._signed}, "old token kept as new"
    page = client.get("/login").get_data(as_text=True)
    assert META.search(page).group(1) != old
    with app.test_request_context():
        session["csrf_token"] = "another"
        flask_wtf_csrf.validate_csrf(META.search(page).group(1))  # of the session's new token
