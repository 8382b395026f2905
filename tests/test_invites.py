"""Invite links: made by managers, shown once, stored as a hash; joining by registering or
with an existing account; expiry, revocation and the use limit, also under concurrency."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import timedelta

import pytest

from lms.extensions import db
from lms.models import Invite, Organization, StaffGroupMember, User
from lms.models._base import utcnow
from lms.services import invites as service
from lms.services import staff_groups
from lms.services.errors import Conflict, NotFound
from tests.conftest import PASSWORD, Client

INVALID = "This invite link does not work"


@pytest.fixture
def acme(app, make_user):
    """Organization Acme with its manager and a group; returns (org id, group id, manager)."""
    manager = make_user("manager@acme.example", organization="Acme", is_manager=True)
    with app.app_context():
        group = staff_groups.create_group(
            db.session.get(Organization, manager.organization_id), "Lab"
        )
        return manager.organization_id, group.id, manager


def make_invite(app, org_id: int, manager: User, **kwargs) -> tuple[int, str]:
    with app.app_context():
        invite, token = service.create_invite(
            db.session.get(Organization, org_id), by=db.session.get(User, manager.id), **kwargs
        )
        return invite.id, token


def registration(email: str = "new@example.com", **changes) -> dict:
    data = {
        "name": "New Colleague",
        "email": email,
        "password": PASSWORD,
        "confirm": PASSWORD,
        "locale": "en",
    }
    data.update(changes)
    return data


def uses(app, invite_id: int) -> int:
    with app.app_context():
        return db.session.get(Invite, invite_id).uses


def test_a_manager_makes_a_link_shown_once_and_stored_as_a_hash(app, client, acme):
    org_id, group_id, manager = acme
    client.login(manager.email)
    response = client.post(
        f"/organizations/{org_id}/invites",
        {"group": str(group_id), "days": "30", "max_uses": "5"},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    token = re.search(r"/invite/([A-Za-z0-9_-]{40,})", page).group(1)
    with app.app_context():
        invite = db.session.scalar(db.select(Invite))
        assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (invite.token_hash,)
        assert (invite.group_id, invite.max_uses, invite.uses) == (group_id, 5, 0)
        days = (invite.expires_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None)).days
        assert days == 29  # 30 days from now, less the seconds since
    listing = client.get(f"/organizations/{org_id}/invites").get_data(as_text=True)
    assert token not in listing
    assert "0 / 5" in listing and "Lab" in listing


@pytest.mark.parametrize(
    "data",
    [
        {"group": "", "days": "0", "max_uses": "5"},
        {"group": "", "days": "91", "max_uses": "5"},
        {"group": "", "days": "14", "max_uses": "0"},
        {"group": "", "days": "14", "max_uses": "501"},
        {"group": "", "days": "", "max_uses": "5"},
        {"group": "", "days": "x", "max_uses": "5"},
    ],
)
def test_bad_invite_forms_are_400(app, client, acme, data):
    org_id, _group_id, manager = acme
    client.login(manager.email)
    assert client.post(f"/organizations/{org_id}/invites", data).status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Invite.id))) == 0


def test_the_defaults_are_14_days_and_50_uses(app, client, acme):
    org_id, _group_id, manager = acme
    client.login(manager.email)
    page = client.get(f"/organizations/{org_id}/invites").get_data(as_text=True)
    assert 'name="days"' in page and 'value="14"' in page and 'value="50"' in page


def test_a_visitor_registers_and_joins_the_organization_and_group(app, client, acme):
    org_id, group_id, manager = acme
    invite_id, token = make_invite(app, org_id, manager, group_id=group_id)
    page = client.get(f"/invite/{token}")
    assert page.status_code == 200
    assert "Join Acme" in page.get_data(as_text=True)
    response = client.post(f"/invite/{token}", registration())
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200  # logged in
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(email="new@example.com"))
        assert (user.organization_id, user.is_manager, user.role) == (org_id, False, "learner")
        assert db.session.get(StaffGroupMember, (group_id, user.id)) is not None
    assert uses(app, invite_id) == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"password": "short", "confirm": "short"},
        {"confirm": "something else entirely"},
        {"email": "not-an-email"},
        {"name": ""},
        {"name": "Bad\x07Name"},
    ],
)
def test_registration_through_a_link_follows_the_registration_rules(app, client, acme, changes):
    org_id, _group_id, manager = acme
    invite_id, token = make_invite(app, org_id, manager)
    assert client.post(f"/invite/{token}", registration(**changes)).status_code == 400
    assert uses(app, invite_id) == 0
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 1


def test_a_taken_email_asks_to_log_in_and_counts_no_use(app, client, acme, learner):
    org_id, _group_id, manager = acme
    invite_id, token = make_invite(app, org_id, manager)
    response = client.post(f"/invite/{token}", registration(learner.email.upper()))
    assert response.status_code == 400
    assert "Log in, then open this link again" in response.get_data(as_text=True)
    assert uses(app, invite_id) == 0


def test_a_logged_in_user_without_organization_accepts(app, client, acme, learner):
    org_id, group_id, manager = acme
    invite_id, token = make_invite(app, org_id, manager, group_id=group_id)
    client.login(learner.email)
    page = client.get(f"/invite/{token}").get_data(as_text=True)
    assert "Join Acme" in page and 'name="password"' not in page
    assert client.post(f"/invite/{token}", {}).status_code == 302
    with app.app_context():
        assert db.session.get(User, learner.id).organization_id == org_id
        assert db.session.get(StaffGroupMember, (group_id, learner.id)) is not None
    assert uses(app, invite_id) == 1
    # again: already staff, no use counted
    assert "already" in client.get(f"/invite/{token}").get_data(as_text=True)
    assert client.post(f"/invite/{token}", {}).status_code == 302
    assert uses(app, invite_id) == 1
    assert client.post(f"/invite/{token}", {}, csrf=False).status_code == 400


def test_a_member_of_another_organization_is_refused_with_409(app, client, acme, make_user):
    org_id, _group_id, manager = acme
    other = make_user("someone@beta.example", organization="Beta")
    invite_id, token = make_invite(app, org_id, manager)
    client.login(other.email)
    for response in (client.get(f"/invite/{token}"), client.post(f"/invite/{token}", {})):
        assert response.status_code == 409
        assert "Your account belongs to another organization" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, other.id).organization_id != org_id
        with pytest.raises(Conflict):
            service.accept_invite(token, db.session.get(User, other.id))
    assert uses(app, invite_id) == 0


def _expire(app, invite_id):
    with app.app_context():
        db.session.get(Invite, invite_id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def _revoke(app, invite_id):
    with app.app_context():
        db.session.get(Invite, invite_id).revoked_at = utcnow()
        db.session.commit()


def _use_up(app, invite_id):
    with app.app_context():
        invite = db.session.get(Invite, invite_id)
        invite.uses = invite.max_uses
        db.session.commit()


@pytest.mark.parametrize("spoil", [_expire, _revoke, _use_up, None])
def test_expired_revoked_used_up_and_unknown_links_get_the_same_404(app, acme, learner, spoil):
    org_id, _group_id, manager = acme
    invite_id, token = make_invite(app, org_id, manager, max_uses=2)
    if spoil is None:
        token = token[:-4] + "AAAA"
    else:
        spoil(app, invite_id)
    anonymous = Client(app.test_client())
    logged_in = Client(app.test_client())
    logged_in.login(learner.email)
    bodies = set()
    for client in (anonymous, logged_in):
        for response in (
            client.get(f"/invite/{token}"),
            client.post(f"/invite/{token}", registration()),
        ):
            assert response.status_code == 404
            body = response.get_data(as_text=True)
            assert INVALID in body
            bodies.add(body.split("<main", 1)[1].split("</main>", 1)[0])
    assert len(bodies) == 1  # the same page, logged in or not
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 2
        assert db.session.get(User, learner.id).organization_id is None


def test_a_link_stops_after_max_uses(app, acme):
    org_id, _group_id, manager = acme
    invite_id, token = make_invite(app, org_id, manager, max_uses=2)
    for number in range(2):
        browser = Client(app.test_client())
        assert (
            browser.post(f"/invite/{token}", registration(f"n{number}@x.example")).status_code
            == 302
        )
    browser = Client(app.test_client())
    assert browser.post(f"/invite/{token}", registration("late@x.example")).status_code == 404
    assert uses(app, invite_id) == 2
    listing = Client(app.test_client())
    listing.login(manager.email)
    assert "No active link." in listing.get(f"/organizations/{org_id}/invites").get_data(
        as_text=True
    )


def test_revoking_a_link_stops_it(app, client, acme):
    org_id, _group_id, manager = acme
    invite_id, token = make_invite(app, org_id, manager)
    client.login(manager.email)
    assert client.post(f"/organizations/{org_id}/invites/{invite_id}/revoke", {}).status_code == 302
    assert client.get(f"/invite/{token}").status_code == 404
    assert client.post(f"/organizations/{org_id}/invites/{invite_id}/revoke", {}).status_code == 404


def test_parallel_accepts_never_exceed_max_uses(app, acme, make_user):
    org_id, _group_id, manager = acme
    invite_id, token = make_invite(app, org_id, manager, max_uses=3)
    people = [make_user(f"racer{number}@example.com") for number in range(10)]
    barrier = threading.Barrier(len(people))
    results: list[str] = []

    def accept(user_id: int) -> None:
        with app.app_context():
            user = db.session.get(User, user_id)
            barrier.wait()
            try:
                service.accept_invite(token, user)
            except NotFound:
                results.append("refused")
            else:
                results.append("joined")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=accept, args=(person.id,)) for person in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["joined"] * 3 + ["refused"] * 7
    assert uses(app, invite_id) == 3
    with app.app_context():
        joined = db.session.scalar(
            db.select(db.func.count(User.id)).where(
                User.organization_id == org_id, User.email.like("racer%")
            )
        )
        assert joined == 3


def test_parallel_registrations_never_exceed_max_uses(app, acme):
    org_id, _group_id, manager = acme
    invite_id, token = make_invite(app, org_id, manager, max_uses=2)
    barrier = threading.Barrier(6)
    results: list[str] = []

    def register(number: int) -> None:
        with app.test_request_context():
            barrier.wait()
            try:
                service.register_with_invite(
                    token, email=f"p{number}@example.com", name="P", password=PASSWORD
                )
            except NotFound:
                results.append("refused")
            else:
                results.append("joined")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=register, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["joined"] * 2 + ["refused"] * 4
    assert uses(app, invite_id) == 2
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 3
