"""The one mail path (backends, templates in the recipient's language, production checks)
and what managers send through it: invite links and set-password links by e-mail —
one single-use link per address, limits against repeats and floods, no link in a log or
a job's arguments, and another organization's ids answering 404."""

from __future__ import annotations

import html
import io
import logging
import re
from email.message import EmailMessage

import pytest

from lms.config import production_problems
from lms.extensions import db
from lms.models import AccountToken, Invite, Organization, StaffGroup, StaffGroupMember, User
from lms.services import jobs, mail, staff_mail
from lms.services import staff_groups as service
from lms.services.account_tokens import unusable_password
from tests.conftest import Client

LINK = re.compile(r"https?://\S+")


def outbox(app) -> list[EmailMessage]:
    with app.app_context():
        return list(mail.outbox())


def link_in(message: EmailMessage) -> str:
    (found,) = LINK.findall(message.get_content())
    return found


@pytest.fixture
def acme(app, make_user):
    """Acme (its manager, a group "Lab") and Beta (its manager, a group): jobs run inline."""
    app.config["JOBS_INLINE"] = True
    manager = make_user("manager@acme.example", organization="Acme", is_manager=True)
    beta_manager = make_user("manager@beta.example", organization="Beta", is_manager=True)
    with app.app_context():
        lab = service.create_group(db.session.get(Organization, manager.organization_id), "Lab")
        beta_group = service.create_group(
            db.session.get(Organization, beta_manager.organization_id), "Beta team"
        )
        return manager, beta_manager, lab.id, beta_group.id


def logged_in(app, email: str) -> Client:
    client = Client(app.test_client())
    assert client.login(email).status_code == 302
    return client


# -- the mail service ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "backend"),
    [
        ({}, "log"),
        ({"TESTING": True}, "memory"),
        ({"TESTING": True, "MAIL_DIR": "mailbox"}, "file"),
        ({"PRODUCTION": True}, "file"),
        ({"SMTP_URL": "smtp://relay", "TESTING": True}, "smtp"),
        ({"MAIL_BACKEND": " LOG ", "SMTP_URL": "smtp://relay"}, "log"),
    ],
)
def test_the_backend_follows_the_settings(config, backend):
    assert mail.backend_name(config) == backend


def test_an_unknown_backend_says_which_exist():
    with pytest.raises(mail.MailConfigError, match="smtp, file, log, memory"):
        mail.backend_name({"MAIL_BACKEND": "pigeon"})


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"MAIL_BACKEND": "log"}, "for development and tests"),
        ({"MAIL_BACKEND": "memory"}, "for development and tests"),
        ({"MAIL_BACKEND": "smtp"}, "LMS_SMTP_URL is not set"),
        ({"SMTP_URL": "http://relay"}, "must start with smtp://"),
    ],
)
def test_production_refuses_mail_settings_that_lose_mail_or_log_links(settings, problem):
    found = mail.problems({"PRODUCTION": True, **settings})
    assert len(found) == 1 and problem in found[0]
    assert any(problem in line for line in production_problems({"PRODUCTION": True, **settings}))
    assert mail.problems({"PRODUCTION": True, "SMTP_URL": "smtps://u:p@relay"}) == []
    assert mail.problems({"PRODUCTION": True}) == []  # .eml files, as before


def test_tests_keep_messages_with_their_html_alternative(app):
    with app.app_context():
        assert mail.send("kim@example.com", "Hi", "Plain 中文\n", html="<p>Rich</p>") is None
        (message,) = mail.outbox()
    assert message.get_content_type() == "multipart/alternative"
    plain, rich = message.iter_parts()
    assert plain.get_content() == "Plain 中文\n" and rich.get_content() == "<p>Rich</p>\n"


def test_development_prints_the_message_to_the_log(make_app, caplog):
    app = make_app(sync=False, TESTING=False)
    with app.app_context(), caplog.at_level(logging.WARNING, logger="lms.mail"):
        mail.send("kim@example.com", "Subject 主题", "Open http://localhost/x\n")
    (record,) = [r for r in caplog.records if r.name == "lms.mail"]
    assert "To: kim@example.com" in record.getMessage()
    assert "Open http://localhost/x" in record.getMessage()


@pytest.mark.parametrize(
    ("locale", "subject", "phrase"),
    [
        ("en", "Acme invites you to Innovation Academy", "invites you to train at the academy"),
        ("zh_CN", "Acme邀请您加入创新学院", "邀请您作为其员工参加学院的培训"),
    ],
)
def test_templates_are_rendered_in_the_recipients_language(app, locale, subject, phrase):
    with app.app_context():
        rendered = mail.render(
            "invite", locale, organization="Acme", url="https://x/i/t", expires="2030-01-02"
        )
    assert rendered[0] == subject
    assert phrase in rendered[1] and "https://x/i/t" in rendered[1] and "2030-01-02" in rendered[1]
    assert rendered[2] is None  # no HTML template


def test_a_subject_is_one_line_whatever_the_context(app):
    with app.app_context():
        subject, _text, _html = mail.render(
            "invite", "en", organization="Evil\r\nBcc: all@example.com", url="u", expires="d"
        )
    assert "\n" not in subject and "\r" not in subject


def test_links_outside_a_request_need_the_configured_address(app):
    with app.app_context():
        with pytest.raises(mail.MailConfigError):
            mail.base_url()
        app.config["BASE_URL"] = "https://lms.example.org/camp/"
        assert mail.link(mail.base_url(), "organizations.invite", token="abc") == (
            "https://lms.example.org/camp/invite/abc"
        )


# -- invite links by e-mail ----------------------------------------------------------------


def invite_mail(client: Client, org_id: int, emails: str = "", **fields: str):
    data = {"emails": emails, "mail_group": "", "mail_days": "7", "language": "en", **fields}
    return client.post(f"/organizations/{org_id}/invites/mail", data)


def test_each_address_gets_its_own_single_use_invite(app, acme, make_user):
    manager, _beta, lab, _other = acme
    make_user("known@example.com", locale="zh_CN")
    client = logged_in(app, manager.email)
    response = invite_mail(
        client,
        manager.organization_id,
        "New.One@Example.com, new.one@example.com；known@example.com\nthird@example.com",
        mail_group=str(lab),
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Sending by e-mail to: new.one@example.com, known@example.com, third" in page
    messages = {message["To"]: message for message in outbox(app)}
    assert sorted(messages) == ["known@example.com", "new.one@example.com", "third@example.com"]
    assert messages["new.one@example.com"]["Subject"] == "Acme invites you to Innovation Academy"
    assert messages["known@example.com"]["Subject"] == "Acme邀请您加入创新学院"
    links = {to: link_in(message) for to, message in messages.items()}
    assert len(set(links.values())) == 3
    with app.app_context():
        invites = db.session.scalars(db.select(Invite).order_by(Invite.id)).all()
        mailed = [invite for invite in invites if invite.max_uses == 1]
        assert len(mailed) == 3
        assert {(i.group_id, i.created_by_id, i.uses) for i in mailed} == {(lab, manager.id, 0)}
    # The link registers its visitor into Acme and Lab, once.
    visitor = Client(app.test_client())
    path = links["third@example.com"].removeprefix("http://localhost")
    response = visitor.post(
        path,
        {"name": "Third", "email": "third@example.com", "password": "a long enough password",
         "confirm": "a long enough password", "locale": "en"},
    )  # fmt: skip
    assert response.status_code == 302
    with app.app_context():
        person = db.session.scalar(db.select(User).filter_by(email="third@example.com"))
        assert person.organization_id == manager.organization_id
        assert db.session.get(StaffGroupMember, (lab, person.id)) is not None
    assert Client(app.test_client()).get(path).status_code == 404  # used up


def test_a_second_click_sends_nothing_more(app, acme):
    manager, *_ = acme
    client = logged_in(app, manager.email)
    assert invite_mail(client, manager.organization_id, "once@example.com").status_code == 302
    response = invite_mail(client, manager.organization_id, "once@example.com, two@example.com")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "so not again: once@example.com" in page
    assert [message["To"] for message in outbox(app)] == ["once@example.com", "two@example.com"]


def test_the_organization_has_a_limit(app, acme):
    manager, *_ = acme
    app.config["STAFF_MAIL_RATE_LIMIT"] = "2/day"
    client = logged_in(app, manager.email)
    response = invite_mail(client, manager.organization_id, "a@example.com b@example.com c@x.org")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "as many messages as it may for now. Try again later: c@x.org" in page
    assert len(outbox(app)) == 2


BAD_LISTS = [
    ({"emails": ""}, "This field is required."),
    ({"emails": " ,;\n"}, "Enter at least one e-mail address."),
    ({"emails": "good@example.com, not-an-address"}, "not e-mail addresses: not-an-address"),
    ({"emails": "x@" + "a" * 250 + ".com"}, "These are not e-mail addresses"),
    ({"emails": ",".join(f"p{n}@example.com" for n in range(51))}, "at most 50 addresses"),
    ({"emails": "a@example.com\r\nBcc: all@example.com"}, "These are not e-mail addresses"),
    ({"emails": "a@example.com", "mail_days": "0"}, "between 1 and 90"),
    ({"emails": "a@example.com", "mail_days": "91"}, "between 1 and 90"),
    ({"emails": "a@example.com", "mail_days": "many"}, "Not a valid integer value."),
]


def test_bad_forms_are_400_and_send_nothing(app, acme):
    manager, *_ = acme
    client = logged_in(app, manager.email)
    for fields, message in BAD_LISTS:
        response = invite_mail(client, manager.organization_id, **fields)
        assert response.status_code == 400, fields
        assert message in response.get_data(as_text=True), fields
    assert outbox(app) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Invite.id))) == 0


def test_another_organizations_group_is_404_and_sends_nothing(app, acme):
    manager, _beta, _lab, beta_group = acme
    client = logged_in(app, manager.email)
    response = invite_mail(
        client, manager.organization_id, "a@example.com", mail_group=str(beta_group)
    )
    assert response.status_code == 404
    response = invite_mail(client, manager.organization_id, "a@example.com", mail_group="junk")
    assert response.status_code == 404
    assert outbox(app) == []


def test_no_link_reaches_the_job_arguments_or_the_log(app, acme, monkeypatch, caplog):
    manager, *_ = acme
    queued: list[tuple] = []
    real = jobs.enqueue
    monkeypatch.setattr(
        jobs, "enqueue", lambda path, *args: (queued.append(args), real(path, *args))
    )
    with caplog.at_level(logging.INFO):
        invite_mail(logged_in(app, manager.email), manager.organization_id, "li@example.com")
    (message,) = outbox(app)
    token = link_in(message).rsplit("/", 1)[-1]
    ((org_id, address, group, days, by, locale, base, occasion),) = queued
    assert (org_id, address, group, days, by, locale) == (
        manager.organization_id, "li@example.com", None, 7, manager.id, "en",
    )  # fmt: skip
    assert base == "http://localhost/"
    assert re.fullmatch("[0-9a-f]{16}", occasion) and occasion not in token  # a retry's key
    assert token not in caplog.text and "li@example.com" not in caplog.text
    assert "invite_mailed" in caplog.text


def test_a_message_that_cannot_be_sent_leaves_no_usable_link(app, acme, monkeypatch):
    manager, *_ = acme

    def refuse(*_args, **_kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(mail, "send", refuse)
    with app.app_context(), pytest.raises(OSError):
        staff_mail.send_invite(
            manager.organization_id, "a@example.com", None, 7, manager.id, "en", "http://x/"
        )
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Invite.id))) == 0


def test_a_group_deleted_before_the_job_runs_is_left_out(app, acme):
    manager, _beta, lab, _other = acme
    with app.app_context():
        service.delete_group(db.session.get(StaffGroup, lab))
        staff_mail.send_invite(
            manager.organization_id, "a@example.com", lab, 7, manager.id, "en", "http://x/"
        )
        (invite,) = db.session.scalars(db.select(Invite)).all()
        assert invite.group_id is None and invite.max_uses == 1


# -- set-password links by e-mail ----------------------------------------------------------


def imported(app, client: Client, org_id: int, rows: str) -> str:
    """Import ``rows`` (after the header) and return the done page."""
    data = ("email,name\n" + rows).encode()
    page = client.post(
        f"/organizations/{org_id}/import", {"file": (io.BytesIO(data), "s.csv")}
    ).get_data(as_text=True)
    text = html.unescape(re.search(r'name="csv_text" type="hidden" value="([^"]*)"', page)[1])
    response = client.post(f"/organizations/{org_id}/import/confirm", {"csv_text": text})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_imported_staff_get_their_link_by_mail_and_set_a_password(app, acme):
    manager, *_ = acme
    org_id = manager.organization_id
    client = logged_in(app, manager.email)
    done = imported(app, client, org_id, "wang@example.com,王芳\nkim@example.com,Kim\n")
    ids = re.findall(r'name="user" value="(\d+)"', done)
    assert len(ids) == 2
    with app.app_context():  # Kim reads English
        db.session.scalar(db.select(User).filter_by(email="kim@example.com")).locale = "en"
        db.session.commit()
    staff_page = client.get(f"/organizations/{org_id}/").get_data(as_text=True)
    assert staff_page.count("no password yet") == 2
    response = client.post(f"/organizations/{org_id}/setup-links", {"user": ids})
    assert response.status_code == 302
    messages = {message["To"]: message for message in outbox(app)}
    assert messages["wang@example.com"]["Subject"] == "设置您的创新学院密码"
    assert "王芳" in messages["wang@example.com"].get_content()
    assert messages["kim@example.com"]["Subject"] == "Set your password for Innovation Academy"
    path = link_in(messages["kim@example.com"]).removeprefix("http://localhost")
    visitor = Client(app.test_client())
    new = "a fresh password for kim"
    assert visitor.post(path, {"password": new, "confirm": new}).status_code == 302
    assert visitor.login("kim@example.com", new).status_code == 302
    staff_page = client.get(f"/organizations/{org_id}/").get_data(as_text=True)
    assert staff_page.count("no password yet") == 1
    # Everyone still waiting (no ids): Wang only, and not again within ten minutes.
    response = client.post(f"/organizations/{org_id}/setup-links")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "so not again: 王芳" in page
    assert len(outbox(app)) == 2
    with app.app_context():
        kim = db.session.scalar(db.select(User).filter_by(email="kim@example.com"))
        assert (
            db.session.scalar(
                db.select(db.func.count(AccountToken.id)).where(
                    AccountToken.user_id == kim.id, AccountToken.used_at.is_(None)
                )
            )
            == 0
        )  # the import's link was spent with the mailed one


def test_people_with_a_password_get_nothing(app, acme, make_user):
    manager, *_ = acme
    colleague = make_user("colleague@acme.example", organization="Acme")
    client = logged_in(app, manager.email)
    response = client.post(
        f"/organizations/{manager.organization_id}/setup-links", {"user": [str(colleague.id)]}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Everyone chosen has set a password already" in page
    assert outbox(app) == []


def test_ids_outside_the_organization_are_refused_and_send_nothing(app, acme):
    manager, beta_manager, *_ = acme
    client = logged_in(app, manager.email)
    with app.app_context():
        person = User(  # imported into Beta: waiting for a password
            email="waiting@beta.example", name="Waiting", password_hash=unusable_password(),
            organization_id=beta_manager.organization_id,
        )  # fmt: skip
        db.session.add(person)
        db.session.commit()
        other = person.id
    url = f"/organizations/{manager.organization_id}/setup-links"
    for users, status in (([str(other)], 404), (["999999"], 404), (["x"], 400)):
        assert client.post(url, {"user": users}).status_code == status, users
    assert outbox(app) == []


def test_a_job_for_someone_who_left_or_set_a_password_sends_nothing(app, acme):
    manager, beta_manager, *_ = acme
    with app.app_context():
        person = User(
            email="left@example.com", name="Left", password_hash=unusable_password(),
            organization_id=beta_manager.organization_id,
        )  # fmt: skip
        db.session.add(person)
        db.session.commit()
        staff_mail.send_setup_link(person.id, manager.organization_id, "http://x/")
        staff_mail.send_setup_link(manager.id, manager.organization_id, "http://x/")
        staff_mail.send_setup_link(999999, manager.organization_id, "http://x/")
        assert mail.outbox() == []
        assert db.session.scalar(db.select(db.func.count(AccountToken.id))) == 0
