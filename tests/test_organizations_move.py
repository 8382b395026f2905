"""Organizers move an account between organizations: the person and their records go, the
old organization's managers lose sight of them, its groups and its plan let them go (what
was assigned to them alone is cancelled, for the record), the move is audited; and every
refusal (not an organizer, unknown or same organization, another organization's member)
changes nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from lms.extensions import db
from lms.models import Assignment, Organization, StaffGroupMember, TrainingTime, User
from lms.models._base import utcnow
from lms.services import hours, plans, staff_groups
from lms.services import organizations as service
from lms.services.errors import Conflict
from tests.conftest import Client


@pytest.fixture
def parks(app, make_user, course, organizer):
    """Acme (manager, staff member in group "Lab" with a direct and a group assignment and an
    hour of training) and Beta (its manager)."""
    manager_a = make_user("manager@acme.example", organization="Acme", is_manager=True)
    mover = make_user("mover@acme.example", organization="Acme", is_manager=True)
    manager_b = make_user("manager@beta.example", organization="Beta", is_manager=True)
    with app.app_context():
        acme = db.session.get(Organization, manager_a.organization_id)
        lab = staff_groups.create_group(acme, "Lab")
        staff_groups.add_to_group(lab, mover.id)
        due = plans.today() + timedelta(days=30)
        by = db.session.get(User, manager_a.id)
        direct = plans.assign(acme.id, by, due_on=due, user_id=mover.id, course_id=course.id)
        grouped = plans.assign(acme.id, by, due_on=due, group_id=lab.id, camp_id=course.camp_id)
        db.session.add(
            TrainingTime(
                source_key="test:mover", user_id=mover.id, source="video", seconds=3600,
                day=hours.local_day(utcnow()),
            )
        )  # fmt: skip
        db.session.commit()
        return {
            "acme": acme.id, "beta": manager_b.organization_id, "lab": lab.id,
            "mover": mover, "manager_a": manager_a, "manager_b": manager_b,
            "direct": direct.id, "grouped": grouped.id, "organizer": organizer,
        }  # fmt: skip


def logged_in(app, email: str) -> Client:
    client = Client(app.test_client())
    assert client.login(email).status_code == 302
    return client


def move_url(world: dict, user_id: int | None = None, org: int | None = None) -> str:
    user_id = world["mover"].id if user_id is None else user_id
    return f"/admin/organizations/{org or world['acme']}/members/{user_id}/move"


def state(app) -> tuple:
    with app.app_context():
        return (
            db.session.execute(
                db.select(User.id, User.organization_id, User.is_manager).order_by(User.id)
            ).all(),
            sorted(db.session.execute(db.select(StaffGroupMember.__table__)).all()),
            db.session.execute(
                db.select(Assignment.id, Assignment.cancelled_at).order_by(Assignment.id)
            ).all(),
        )


def test_an_organizer_moves_an_account_with_its_records(app, parks, caplog):
    client = logged_in(app, parks["organizer"].email)
    page = client.get(f"/admin/organizations/{parks['acme']}").get_data(as_text=True)
    assert "Move to another organization" in page and ">Beta</option>" in page
    with caplog.at_level(logging.INFO, logger="lms.security"):
        response = client.post(move_url(parks), {"to": str(parks["beta"])})
    assert response.status_code == 302
    assert "mover is now on the staff of Beta." in client.get(
        response.headers["Location"]
    ).get_data(as_text=True)
    (line,) = [r.getMessage() for r in caplog.records if "account_moved" in r.getMessage()]
    mover = parks["mover"]
    assert f"user={mover.id} from_org={parks['acme']} to_org={parks['beta']}" in line
    assert "was_manager=True assignments_cancelled=1" in line
    assert f"by={parks['organizer'].id}" in line and "@" not in line
    with app.app_context():
        moved = db.session.get(User, mover.id)
        assert (moved.organization_id, moved.is_manager) == (parks["beta"], False)
        assert db.session.get(StaffGroupMember, (parks["lab"], mover.id)) is None
        direct = db.session.get(Assignment, parks["direct"])
        assert direct.cancelled_at is not None  # kept in Acme's plan, for the record
        assert db.session.get(Assignment, parks["grouped"]).cancelled_at is None
        assert plans.for_learner(moved) == []  # Acme's plan no longer covers them
        assert plans.learners(db.session.get(Assignment, parks["grouped"])) == []
        assert (
            db.session.scalar(  # the ledger goes with them
                db.select(db.func.sum(TrainingTime.seconds)).filter_by(user_id=mover.id)
            )
            == 3600
        )


def test_the_old_manager_loses_sight_and_the_new_one_gains_it(app, parks):
    mover = parks["mover"]
    old, new = logged_in(app, parks["manager_a"].email), logged_in(app, parks["manager_b"].email)
    assert mover.email in old.get(f"/organizations/{parks['acme']}/").get_data(as_text=True)
    assert new.get(f"/people/{mover.id}/archive").status_code == 404
    logged_in(app, parks["organizer"].email).post(move_url(parks), {"to": str(parks["beta"])})
    assert mover.email not in old.get(f"/organizations/{parks['acme']}/").get_data(as_text=True)
    assert old.get(f"/people/{mover.id}/archive").status_code == 404
    assert mover.email in new.get(f"/organizations/{parks['beta']}/").get_data(as_text=True)
    assert new.get(f"/people/{mover.id}/archive").status_code == 200
    # The mover was Acme's manager: its pages are closed to them now.
    assert logged_in(app, mover.email).get(f"/organizations/{parks['acme']}/").status_code == 404


REFUSALS = [
    ("manager_a", "beta", 403),  # managers never move anyone
    ("manager_b", "beta", 403),
    ("organizer", "acme", 400),  # the same organization
    ("organizer", 999999, 404),  # unknown
    ("organizer", "junk", 404),
    ("organizer", "", 400),
    ("organizer", None, 400),
]


def test_refusals_change_nothing(app, parks):
    before = state(app)
    for who, to, status in REFUSALS:
        client = logged_in(app, parks[who].email)
        data = {} if to is None else {"to": str(parks.get(to, to))}
        assert client.post(move_url(parks), data).status_code == status, (who, to)
    assert state(app) == before


def test_ids_outside_the_source_organization_are_404(app, parks):
    """Beta's manager, by Acme's URL; an unknown organization; an unknown account."""
    before = state(app)
    client = logged_in(app, parks["organizer"].email)
    beta_manager = parks["manager_b"].id
    assert client.post(move_url(parks, beta_manager), {"to": str(parks["beta"])}).status_code == 404
    assert client.post(move_url(parks, 999999), {"to": str(parks["beta"])}).status_code == 404
    url = move_url(parks, org=999999)
    assert client.post(url, {"to": str(parks["beta"])}).status_code == 404
    assert state(app) == before


def test_without_the_csrf_token_nothing_moves(app, parks):
    before = state(app)
    client = logged_in(app, parks["organizer"].email)
    assert client.post(move_url(parks), {"to": str(parks["beta"])}, csrf=False).status_code == 400
    assert state(app) == before


def test_someone_who_left_meanwhile_is_a_conflict(app, parks):
    """The person was taken off the staff between loading them and the move: the move's
    other writes are rolled back with it."""
    with app.app_context():
        acme = db.session.get(Organization, parks["acme"])
        person = db.session.get(User, parks["mover"].id)
        db.session.execute(db.update(User).where(User.id == person.id).values(organization_id=None))
        db.session.commit()
        with pytest.raises(Conflict):
            service.leave(acme, person, parks["beta"])
        assert db.session.get(User, person.id).organization_id is None
        assert db.session.get(Assignment, parks["direct"]).cancelled_at is None
        assert db.session.get(StaffGroupMember, (parks["lab"], person.id)) is not None


def test_removing_from_the_staff_also_cancels_what_was_assigned_to_them_alone(app, parks):
    client = logged_in(app, parks["organizer"].email)
    url = f"/organizations/{parks['acme']}/staff/{parks['mover'].id}/remove"
    assert client.post(url).status_code == 302
    with app.app_context():
        assert db.session.get(User, parks["mover"].id).organization_id is None
        assert db.session.get(Assignment, parks["direct"]).cancelled_at is not None
        assert db.session.get(Assignment, parks["grouped"]).cancelled_at is None
