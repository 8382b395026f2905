"""The ``lms.security`` log: which events are written, that no secret is, and that no value
a visitor chose can forge a log line."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from email import message_from_bytes, policy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lms.services import audit
from tests.conftest import PASSWORD, Client

NEW_PASSWORD = "a new and longer passphrase"


@pytest.fixture
def security_log(caplog):
    caplog.set_level(logging.INFO, logger="lms.security")
    return caplog


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "lms.security"]


def events(caplog) -> list[str]:
    return [line.split(" ", 1)[0] for line in lines(caplog)]


def line_of(caplog, name: str) -> str:
    found = [line for line in lines(caplog) if line.split(" ", 1)[0] == name]
    assert found, f"no {name} in {lines(caplog)}"
    return found[-1]


# -- the escaping ----------------------------------------------------------------------


@given(st.text(max_size=500))
def test_cleaned_values_hold_no_control_characters(value):
    cleaned = audit.clean(value)
    assert not any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in cleaned), (
        cleaned
    )
    assert len(cleaned) <= audit.MAX_VALUE * 6 + 1


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp", "Cs"))))
def test_printable_text_is_kept_except_backslashes(value):
    value = value[: audit.MAX_VALUE]
    assert audit.clean(value) == value.replace("\\", "\\\\")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\r\nb", "a\\r\\nb"),
        ("tab\there", "tab\\there"),
        ("nul\x00esc\x1bdel\x7f", "nul\\x00esc\\x1bdel\\x7f"),
        ("c1\x85\x9b", "c1\\x85\\x9b"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_control_characters_are_escaped(value, expected):
    assert audit.clean(value) == expected


def test_long_values_are_cut():
    assert audit.clean("x" * 1000) == "x" * audit.MAX_VALUE + "…"


def test_email_fingerprints_are_short_and_normalised():
    assert audit.email_id("Kim@Example.com ") == audit.email_id("kim@example.com")
    assert re.fullmatch(r"[0-9a-f]{12}", audit.email_id("kim@example.com"))
    assert audit.email_id(None) == ""


def test_values_with_spaces_or_equals_signs_are_quoted(app, security_log):
    with app.test_request_context("/x"):
        audit.event("something", detail='a b="c"')
    assert 'detail="a b=\\"c\\""' in line_of(security_log, "something")


# -- events ----------------------------------------------------------------------------


def test_logins_logouts_and_failures_are_logged(client, learner, security_log):
    client.login(learner.email, "wrong password!")
    failed = line_of(security_log, "login_failed")
    assert f"email={audit.email_id(learner.email)}" in failed
    assert "ip=127.0.0.1" in failed and "path=/login" in failed
    assert security_log.records[-1].levelno == logging.WARNING
    client.login(learner.email)
    assert f"user={learner.id}" in line_of(security_log, "login")
    client.logout()
    assert f"user={learner.id}" in line_of(security_log, "logout")


def test_rate_limited_logins_are_logged(client, learner, security_log):
    for _ in range(11):
        client.login(learner.email, "wrong password!")
    limited = line_of(security_log, "rate_limited")
    assert "scope=login" in limited and audit.email_id(learner.email) in limited


def test_password_changes_and_resets_are_logged(make_app, learner, tmp_path, security_log):
    app = make_app(JOBS_INLINE=True, MAIL_DIR=str(tmp_path / "mail"))
    client = Client(app.test_client())
    client.login(learner.email)
    client.post(
        "/account/password",
        {"current_password": "wrong password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert f"user={learner.id}" in line_of(security_log, "password_change_failed")
    client.post(
        "/account/password",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert f"user={learner.id}" in line_of(security_log, "password_changed")
    visitor = Client(app.test_client())
    visitor.post("/password/forgot", {"email": learner.email})
    visitor.post("/password/forgot", {"email": "nobody@example.com"})
    requested = [line for line in lines(security_log) if line.startswith("password_reset_req")]
    assert len(requested) == 2
    assert f"user={learner.id}" in line_of(security_log, "password_reset_mailed")
    assert audit.email_id("nobody@example.com") in line_of(
        security_log, "password_reset_no_account"
    )
    raw = next((tmp_path / "mail").glob("*.eml")).read_bytes()
    mail = message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()
    url = re.search(r"http://localhost(/reset/[A-Za-z0-9_-]+)", mail).group(1)
    visitor.post(url, {"password": "yet another passphrase", "confirm": "yet another passphrase"})
    done = line_of(security_log, "password_set_by_link")
    assert f"user={learner.id}" in done and "purpose=reset" in done
    assert "path=/reset/<token>" in done  # the link's token is a credential: not logged

    text = "\n".join(lines(security_log))
    for secret in (PASSWORD, NEW_PASSWORD, "yet another passphrase", url.rsplit("/", 1)[1]):
        assert secret not in text
    assert learner.email not in text and "nobody@example.com" not in text
    assert client.raw.get_cookie("session").value not in text


def test_role_changes_and_disabling_are_logged(client, learner, organizer, security_log):
    client.login(organizer.email)
    client.post(f"/admin/users/{learner.id}", {"role": "trainer", "active": "1"})
    changed = line_of(security_log, "role_changed")
    assert f"user={learner.id}" in changed and f"by={organizer.id}" in changed
    assert "old=learner new=trainer" in changed
    client.post(f"/admin/users/{learner.id}", {"role": "trainer", "active": "0"})
    assert f"user={learner.id} by={organizer.id}" in line_of(security_log, "account_disabled")
    assert events(security_log).count("role_changed") == 1  # unchanged roles are not logged


def test_forbidden_requests_and_csrf_failures_are_logged(client, learner, security_log):
    client.login(learner.email)
    assert client.get("/admin/users").status_code == 403
    denied = line_of(security_log, "access_denied")
    assert f"user={learner.id}" in denied and "path=/admin/users" in denied
    assert client.post("/account/password", {}, csrf=False).status_code == 400
    refused = line_of(security_log, "csrf_refused")
    assert "path=/account/password" in refused and "reason=" in refused
    assert client.get("/no-such-page").status_code == 404
    assert events(security_log).count("access_denied") == 1  # 404s are not logged


# -- no forged lines -------------------------------------------------------------------

FORGED = "\r\nlogin user=1 ip=10.0.0.1 path=/admin"


def test_an_email_with_line_breaks_cannot_forge_a_line(client, security_log):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logging.getLogger("lms.security").addHandler(handler)
    try:
        client.login(f"x@example.com{FORGED}", "wrong password!")
        client.post("/password/forgot", {"email": f"y@example.com{FORGED}"})
    finally:
        logging.getLogger("lms.security").removeHandler(handler)
    written = stream.getvalue().splitlines()
    assert len(written) == len(lines(security_log)) >= 1
    assert all(line.split(" ", 1)[0] in ("login_failed",) for line in written)
    assert not any("\n" in line or "\r" in line for line in lines(security_log))


def test_a_path_with_line_breaks_is_escaped(client, learner, security_log):
    client.login(learner.email)
    forged = "/admin/camps/x%0d%0alogin%20user=1%e2%80%a8/enable"
    assert client.post(forged).status_code == 403
    denied = line_of(security_log, "access_denied")
    assert "\n" not in denied and "\r" not in denied and "\u2028" not in denied
    assert 'path="/admin/camps/x\\r\\nlogin user=1\\u2028/enable"' in denied


def test_unhandled_errors_log_the_path_escaped(make_app, caplog):
    from flask import Blueprint

    app = make_app(sync=False)
    broken = Blueprint("broken", __name__)

    @broken.get("/broken/<rest>")
    def fail(rest: str) -> str:
        raise RuntimeError("boom")

    app.register_blueprint(broken)
    response = app.test_client().get("/broken/a%0d%0aforged")
    assert response.status_code == 500
    record = next(r for r in caplog.records if r.getMessage().startswith("unhandled error"))
    assert record.getMessage() == "unhandled error on GET /broken/a\\r\\nforged"


def test_the_app_lets_info_events_through(app):
    assert logging.getLogger("lms.security").getEffectiveLevel() <= logging.INFO
