"""Organizations: organizers' admin pages, the managers' staff pages and groups, and who may
see what (every route in a permission matrix, tampered ids included)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from lms.extensions import db
from lms.models import (
    Invite,
    Organization,
    StaffGroup,
    StaffGroupMember,
    TrainingTime,
    User,
)
from lms.services import hours, invites, staff, staff_groups
from lms.services import organizations as service
from tests.conftest import Client
from tests.test_query_counts import count_queries


@dataclass
class World:
    org_a: int
    org_b: int
    manager_a: User
    manager_b: User
    staff_a: User
    newcomer_a: User
    staff_b: User
    loner: User
    group_a: int
    group_b: int
    invite_a: int
    invite_b: int


@pytest.fixture
def world(app, make_user) -> World:
    """Two organizations, each with a manager, staff, a group and an invite link (jobs, such
    as mail, run inline)."""
    app.config["JOBS_INLINE"] = True
    manager_a = make_user("manager.a@example.com", organization="Acme", is_manager=True)
    staff_a = make_user("staff.a@example.com", organization="Acme")
    newcomer_a = make_user("newcomer.a@example.com", organization="Acme")
    manager_b = make_user("manager.b@example.com", organization="Beta", is_manager=True)
    staff_b = make_user("staff.b@example.com", organization="Beta")
    loner = make_user("loner@example.com")
    with app.app_context():
        ids = {}
        for label, manager, member in (("a", manager_a, staff_a), ("b", manager_b, staff_b)):
            organization = db.session.get(Organization, member.organization_id)
            group = staff_groups.create_group(organization, f"Sales {label}")
            staff_groups.add_to_group(group, member.id)
            invite, _token = invites.create_invite(
                organization, by=db.session.get(User, manager.id), group_id=group.id
            )
            ids[label] = (organization.id, group.id, invite.id)
    return World(
        org_a=ids["a"][0],
        org_b=ids["b"][0],
        manager_a=manager_a,
        manager_b=manager_b,
        staff_a=staff_a,
        newcomer_a=newcomer_a,
        staff_b=staff_b,
        loner=loner,
        group_a=ids["a"][1],
        group_b=ids["b"][1],
        invite_a=ids["a"][2],
        invite_b=ids["b"][2],
    )


def snapshot(app) -> tuple:
    """Everything the organization pages can change."""
    with app.app_context():
        return (
            db.session.execute(
                db.select(
                    Organization.id, Organization.name, Organization.monthly_target_hours
                ).order_by(Organization.id)
            ).all(),
            db.session.execute(
                db.select(User.id, User.organization_id, User.is_manager).order_by(User.id)
            ).all(),
            db.session.execute(
                db.select(StaffGroup.id, StaffGroup.name).order_by(StaffGroup.id)
            ).all(),
            sorted(db.session.execute(db.select(StaffGroupMember.__table__)).all()),
            db.session.execute(
                db.select(Invite.id, Invite.uses, Invite.revoked_at).order_by(Invite.id)
            ).all(),
        )


# -- the permission matrix -------------------------------------------------------------

CSV = b"email,name,group\nfresh@example.com,Fresh Person,Sales a\n"


def _links_payload(app, org_id: int) -> str:
    from lms.web.organizations.imports import links_serializer

    with app.test_request_context():
        return links_serializer().dumps(
            {"org": org_id, "links": [["x@example.com", "X", "http://x/", "2030-01-01"]]}
        )


# (method, path, form data, status for an allowed viewer)
ORG_ROUTES = [
    ("get", "/organizations/{org}/", None, 200),
    ("post", "/organizations/{org}/staff/{staff}/remove", {}, 302),
    ("get", "/organizations/{org}/groups", None, 200),
    ("post", "/organizations/{org}/groups", {"name": "Research"}, 302),
    ("post", "/organizations/{org}/groups/{group}/rename", {"name": "Renamed"}, 302),
    ("post", "/organizations/{org}/groups/{group}/delete", {}, 302),
    ("post", "/organizations/{org}/groups/{group}/members", {"user": "{newcomer}"}, 302),
    ("post", "/organizations/{org}/groups/{group}/members/{staff}/remove", {}, 302),
    ("get", "/organizations/{org}/invites", None, 200),
    ("post", "/organizations/{org}/invites", {"group": "", "days": "7", "max_uses": "3"}, 200),
    ("post", "/organizations/{org}/invites/{invite}/revoke", {}, 302),
    (
        "post",
        "/organizations/{org}/invites/mail",
        {"emails": "new@example.com", "mail_group": "{group}", "mail_days": "7", "language": "en"},
        302,
    ),
    ("post", "/organizations/{org}/setup-links", {"user": "{staff}"}, 302),
    ("get", "/organizations/{org}/import", None, 200),
    ("post", "/organizations/{org}/import", {"file": "csv"}, 200),
    ("post", "/organizations/{org}/import/confirm", {"csv_text": CSV.decode()}, 200),
    ("post", "/organizations/{org}/import/links.csv", {"links": "signed"}, 200),
]
ADMIN_ROUTES = [
    ("get", "/admin/organizations", None, 200),
    ("post", "/admin/organizations", {"name": "Gamma", "monthly_target_hours": ""}, 302),
    ("get", "/admin/organizations/{org}", None, 200),
    ("post", "/admin/organizations/{org}/rename", {"name": "Acme Ltd"}, 302),
    ("post", "/admin/organizations/{org}/target", {"monthly_target_hours": "20"}, 302),
    ("post", "/admin/organizations/{org}/members", {"email": "loner@example.com"}, 302),
    ("post", "/admin/organizations/{org}/managers/{staff}/appoint", {}, 302),
    ("post", "/admin/organizations/{org}/managers/{manager}/dismiss", {}, 302),
    ("post", "/admin/organizations/{org}/members/{staff}/move", {"to": "{org_b}"}, 302),
]


def fill(app, world: World, path: str, data: dict | None, side: str = "a") -> tuple:
    """The route for organization A, or with organization B's objects (``side="b"``)."""
    values = {
        "org": world.org_a,
        "org_b": world.org_b,
        "staff": (world.staff_a if side == "a" else world.staff_b).id,
        "manager": (world.manager_a if side == "a" else world.manager_b).id,
        "newcomer": (world.newcomer_a if side == "a" else world.staff_b).id,
        "group": world.group_a if side == "a" else world.group_b,
        "invite": world.invite_a if side == "a" else world.invite_b,
    }
    if data is None:
        return path.format(**values), None
    filled = {key: value.format(**values) for key, value in data.items()}
    if "file" in filled:
        filled["file"] = (io.BytesIO(CSV), "staff.csv")
    if "links" in filled:
        filled["links"] = _links_payload(app, world.org_a if side == "a" else world.org_b)
    return path.format(**values), filled


def request(client: Client, method: str, path: str, data: dict | None):
    if method == "get":
        return client.get(path)
    return client.post(path, data)


def as_viewer(app, email: str | None) -> Client:
    client = Client(app.test_client())
    if email is not None:
        assert client.login(email).status_code == 302
    return client


def test_every_route_is_in_the_matrix(app):
    covered = {path for _m, path, _d, _s in ORG_ROUTES + ADMIN_ROUTES}
    covered |= {"/invite/{token}", "/account/setup/{token}"}  # tests/test_invites.py, …import.py
    names = {
        "<int:org_id>": "{org}",
        "<int:user_id>": "{staff}",
        "<int:group_id>": "{group}",
        "<int:invite_id>": "{invite}",
        "<token>": "{token}",
    }
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("organizations."):
            path = rule.rule
            for old, new in names.items():
                path = path.replace(old, new)
            routes.add(path.replace("<action>", "appoint"))
    assert routes - covered == set()


@pytest.mark.parametrize("allowed", ["manager", "organizer"])
@pytest.mark.parametrize(("method", "path", "data", "status"), ORG_ROUTES)
def test_organization_routes_by_role(
    app, make_user, world, organizer, allowed, method, path, data, status
):
    trainer = make_user("trainer@example.com", role="trainer")
    before = snapshot(app)
    url, form = fill(app, world, path, data)
    assert request(as_viewer(app, None), method, url, form).status_code == 302  # to login
    for email in (world.loner.email, trainer.email, world.manager_b.email):
        url, form = fill(app, world, path, data)
        assert request(as_viewer(app, email), method, url, form).status_code == 404, email
    assert snapshot(app) == before
    viewer = world.manager_a.email if allowed == "manager" else organizer.email
    url, form = fill(app, world, path, data)
    response = request(as_viewer(app, viewer), method, url, form)
    assert response.status_code == status, response.get_data(as_text=True)


# Routes with ids of groups, invites or members; forms naming a group; a links list of B.
TAMPERED = [route for route in ORG_ROUTES if "{" in route[1].replace("{org}", "")] + [
    ("post", "/organizations/{org}/invites", {"group": "{group}", "days": "7", "max_uses": "3"}, 0),
    ("post", "/organizations/{org}/import/links.csv", {"links": "signed"}, 0),
    (
        "post",
        "/organizations/{org}/invites/mail",
        {"emails": "x@example.com", "mail_group": "{group}", "mail_days": "7", "language": "en"},
        0,
    ),
    ("post", "/organizations/{org}/setup-links", {"user": "{staff}"}, 0),
]


@pytest.mark.parametrize(("method", "path", "data", "status"), TAMPERED)
def test_ids_of_another_organization_are_404(app, world, method, path, data, status):
    """Manager A puts organization B's group, invite or member ids in A's URLs and forms."""
    before = snapshot(app)
    url, form = fill(app, world, path, data, side="b")
    response = request(as_viewer(app, world.manager_a.email), method, url, form)
    assert response.status_code == 404
    assert snapshot(app) == before


@pytest.mark.parametrize(("method", "path", "data", "status"), ADMIN_ROUTES)
def test_admin_routes_are_for_organizers(
    app, make_user, world, organizer, method, path, data, status
):
    trainer = make_user("trainer@example.com", role="trainer")
    before = snapshot(app)
    url, form = fill(app, world, path, data)
    assert request(as_viewer(app, None), method, url, form).status_code == 302
    for email in (world.loner.email, trainer.email, world.manager_a.email, world.manager_b.email):
        url, form = fill(app, world, path, data)
        assert request(as_viewer(app, email), method, url, form).status_code == 403, email
    assert snapshot(app) == before
    url, form = fill(app, world, path, data)
    assert request(as_viewer(app, organizer.email), method, url, form).status_code == status


def test_unknown_organizations_are_404_for_organizers(app, client, organizer):
    client.login(organizer.email)
    assert client.get("/admin/organizations/999999").status_code == 404
    assert client.get("/organizations/999999/").status_code == 404
    assert client.get("/organizations/99999999999/").status_code == 404


def test_posts_without_the_csrf_token_are_refused(app, client, world):
    client.login(world.manager_a.email)
    before = snapshot(app)
    response = client.post(f"/organizations/{world.org_a}/groups", {"name": "X"}, csrf=False)
    assert response.status_code == 400
    assert snapshot(app) == before


# -- organizers: organizations, targets, managers --------------------------------------


def test_organizers_create_and_list_organizations(app, client, world, organizer):
    client.login(organizer.email)
    response = client.post("/admin/organizations", {"name": " Gamma ", "monthly_target_hours": "8"})
    assert response.status_code == 302
    page = client.get("/admin/organizations").get_data(as_text=True)
    assert "Gamma" in page and "8 h" in page
    assert "Acme" in page and world.manager_a.name in page
    assert "12 h (academy default)" in page
    with app.app_context():
        gamma = db.session.scalar(db.select(Organization).filter_by(name="Gamma"))
        assert gamma.monthly_target_hours == 8


@pytest.mark.parametrize("name", ["Acme", "acme", "  ACME "])
def test_a_duplicate_name_is_a_clear_409_and_writes_nothing(app, client, world, organizer, name):
    client.login(organizer.email)
    before = snapshot(app)
    response = client.post("/admin/organizations", {"name": name, "monthly_target_hours": ""})
    assert response.status_code == 409
    assert "An organization with this name exists already." in response.get_data(as_text=True)
    response = client.post(f"/admin/organizations/{world.org_b}/rename", {"name": name})
    assert response.status_code == 409
    assert "An organization with this name exists already." in response.get_data(as_text=True)
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"name": "", "monthly_target_hours": ""}, 400),
        ({"name": "X" * 201, "monthly_target_hours": ""}, 400),
        ({"name": "Bad\x01", "monthly_target_hours": ""}, 400),
        ({"name": "Ok", "monthly_target_hours": "745"}, 400),
        ({"name": "Ok", "monthly_target_hours": "-1"}, 400),
        ({"name": "Ok", "monthly_target_hours": "many"}, 400),
    ],
)
def test_bad_organization_forms_are_400(app, client, organizer, data, status):
    client.login(organizer.email)
    assert client.post("/admin/organizations", data).status_code == status
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Organization.id))) == 0


def test_the_target_is_set_and_cleared(app, client, world, organizer):
    client.login(organizer.email)
    url = f"/admin/organizations/{world.org_a}/target"
    assert client.post(url, {"monthly_target_hours": "0"}).status_code == 302
    with app.app_context():
        assert db.session.get(Organization, world.org_a).monthly_target_hours == 0
        assert hours.target_hours(db.session.get(User, world.staff_a.id)) == 0
    assert client.post(url, {"monthly_target_hours": "744"}).status_code == 302
    assert client.post(url, {"monthly_target_hours": "745"}).status_code == 400
    assert client.post(url, {"monthly_target_hours": ""}).status_code == 302
    with app.app_context():
        assert db.session.get(Organization, world.org_a).monthly_target_hours is None
        assert hours.target_hours(db.session.get(User, world.staff_a.id)) == 12


def test_organizers_add_members_by_email_and_appoint_managers(app, client, world, organizer):
    client.login(organizer.email)
    base = f"/admin/organizations/{world.org_a}"
    assert client.post(base + "/members", {"email": "LONER@example.com"}).status_code == 302
    response = client.post(base + "/members", {"email": world.staff_b.email})
    assert response.status_code == 409
    assert "belongs to Beta. To move it here" in response.get_data(as_text=True)
    response = client.post(base + "/members", {"email": "nobody@example.com"})
    assert response.status_code == 400
    assert "No account has this e-mail address." in response.get_data(as_text=True)
    assert client.post(f"{base}/managers/{world.loner.id}/appoint", {}).status_code == 302
    assert client.post(f"{base}/managers/{world.staff_b.id}/appoint", {}).status_code == 404
    assert client.post(f"{base}/managers/{world.loner.id}/promote", {}).status_code == 404
    with app.app_context():
        loner = db.session.get(User, world.loner.id)
        assert (loner.organization_id, loner.is_manager) == (world.org_a, True)
        assert db.session.get(User, world.staff_b.id).organization_id == world.org_b
    # the new manager sees the organization's pages and the navigation link
    theirs = as_viewer(app, world.loner.email)
    assert theirs.get(f"/organizations/{world.org_a}/").status_code == 200
    assert "My organization" in theirs.get("/").get_data(as_text=True)
    assert client.post(f"{base}/managers/{world.loner.id}/dismiss", {}).status_code == 302
    assert theirs.get(f"/organizations/{world.org_a}/").status_code == 404


def test_the_navigation_offers_the_right_link(app, world, organizer):
    assert "My organization" in as_viewer(app, world.manager_a.email).get("/").get_data(
        as_text=True
    )
    page = as_viewer(app, organizer.email).get("/").get_data(as_text=True)
    assert 'href="/admin/organizations"' in page
    staff_page = as_viewer(app, world.staff_a.email).get("/").get_data(as_text=True)
    assert "My organization" not in staff_page and "/admin/organizations" not in staff_page


# -- the staff page --------------------------------------------------------------------


def test_the_staff_page_lists_only_the_organizations_staff(app, world):
    today = hours.local_day(hours.utcnow())
    with app.app_context():
        hours.add(key="a1", user_id=world.staff_a.id, source="live", seconds=5400, day=today)
        hours.add(key="a2", user_id=world.staff_a.id, source="video", seconds=1800, day=today)
        last_month = staff.month_bounds(today)[0] - timedelta(days=1)
        hours.add(key="old", user_id=world.staff_a.id, source="live", seconds=36000, day=last_month)
        hours.add(key="b1", user_id=world.staff_b.id, source="live", seconds=7200, day=today)
        db.session.commit()
    page = as_viewer(app, world.manager_a.email).get(f"/organizations/{world.org_a}/")
    text = page.get_data(as_text=True)
    assert world.staff_a.email in text and world.newcomer_a.email in text
    assert world.staff_b.email not in text and world.loner.email not in text
    assert "2.0 / 12 h" in text  # 1.5 h + 0.5 h this month; last month's 10 h left out
    assert "Sales a" in text
    assert f'href="/people/{world.staff_a.id}/archive"' in text


def test_the_staff_page_runs_a_fixed_number_of_queries(app, make_user, world):
    client = as_viewer(app, world.manager_a.email)
    url = f"/organizations/{world.org_a}/"
    client.get(url)
    with count_queries(app) as statements:
        assert client.get(url).status_code == 200
    few = len(statements)
    today = hours.local_day(hours.utcnow())
    for number in range(12):
        person = make_user(f"more{number}@example.com", organization="Acme")
        with app.app_context():
            hours.add(key=f"m{number}", user_id=person.id, source="live", seconds=600, day=today)
            db.session.add(StaffGroupMember(group_id=world.group_a, user_id=person.id))
            db.session.commit()
    with count_queries(app) as statements:
        page = client.get(url)
    assert page.status_code == 200 and "more11@example.com" in page.get_data(as_text=True)
    assert len(statements) == few


def staff_chart(page: str) -> list[str]:
    """The bar values of the staff page's chart, in the order of the buckets."""
    start = page.index('aria-labelledby="staff-hours-chart-title"')
    svg = page[start : page.index("</svg>", start)]
    return re.findall(r'class="value">([0-9]+)</text>', svg)


def test_the_staff_page_charts_the_staff_against_the_target(app, make_user, world):
    """Acme (the academy's 12 h): the staff member 12 h this month (met), the newcomer 4 h
    (a third), the manager none; Beta's staff and last month's time do not count."""
    today = hours.local_day(hours.utcnow())
    last_month = staff.month_bounds(today)[0] - timedelta(days=1)
    with app.app_context():
        hours.add(key="a1", user_id=world.staff_a.id, source="live", seconds=12 * 3600, day=today)
        hours.add(key="n1", user_id=world.newcomer_a.id, source="video", seconds=4 * 3600,
                  day=today)  # fmt: skip
        hours.add(key="n0", user_id=world.newcomer_a.id, source="video", seconds=40 * 3600,
                  day=last_month)  # fmt: skip
        hours.add(key="b1", user_id=world.staff_b.id, source="live", seconds=12 * 3600, day=today)
        db.session.commit()
    client = as_viewer(app, world.manager_a.email)
    url = f"/organizations/{world.org_a}/"
    client.get(url)
    with count_queries(app) as statements:
        page = client.get(url).get_data(as_text=True)
    few = len(statements)
    assert "Staff by share of this month's target reached" in page
    # none, 0–25%, 25–50%, 50–75%, 75–100%, met
    assert staff_chart(page) == ["1", "0", "1", "0", "0", "1"]
    assert page.count('class="bar met"') == 1
    assert "1 of 3 met the target this month." in page
    assert f'href="/reports/hours?organization={world.org_a}"' in page
    # Beta's manager sees their own: the staff member met the target, the manager did not
    beta = as_viewer(app, world.manager_b.email).get(f"/organizations/{world.org_b}/")
    assert staff_chart(beta.get_data(as_text=True)) == ["1", "0", "0", "0", "0", "1"]
    # more staff, more hours: the same number of queries, the chart counts them all
    for number in range(10):
        person = make_user(f"more{number}@example.com", organization="Acme")
        with app.app_context():
            hours.add(key=f"m{number}", user_id=person.id, source="live",
                      seconds=(number + 1) * 3600, day=today)  # fmt: skip
            db.session.commit()
    with count_queries(app) as statements:
        page = client.get(url).get_data(as_text=True)
    assert len(statements) == few
    # 1–2 h under 25%; 3–5 h under 50%; 6–8 h under 75%; 9–11 h under 100%; 12+ h met
    assert staff_chart(page) == ["1", "2", "4", "3", "2", "1"]  # with the 4 h and 12 h above
    assert "1 of 13 met the target this month." in page


def test_an_empty_staff_page_has_no_chart(app, organizer):
    with app.app_context():
        organization = service.create_organization("Empty", None)
        org = organization.id
    page = as_viewer(app, organizer.email).get(f"/organizations/{org}/").get_data(as_text=True)
    assert "Nobody is on the staff yet." in page and "staff-hours-chart" not in page


def test_removing_from_the_organization_keeps_the_account_and_records(app, world):
    today = hours.local_day(hours.utcnow())
    with app.app_context():
        hours.add(key="kept", user_id=world.staff_a.id, source="live", seconds=600, day=today)
        db.session.commit()
    client = as_viewer(app, world.manager_a.email)
    response = client.post(f"/organizations/{world.org_a}/staff/{world.staff_a.id}/remove", {})
    assert response.status_code == 302
    with app.app_context():
        person = db.session.get(User, world.staff_a.id)
        assert person.organization_id is None and person.active
        assert db.session.scalar(db.select(StaffGroupMember).filter_by(user_id=person.id)) is None
        assert db.session.scalar(db.select(TrainingTime).filter_by(user_id=person.id)) is not None
    assert as_viewer(app, world.staff_a.email).get("/dashboard").status_code == 200
    # gone from the page, and a second removal is a 404
    assert world.staff_a.email not in client.get(f"/organizations/{world.org_a}/").get_data(
        as_text=True
    )
    url = f"/organizations/{world.org_a}/staff/{world.staff_a.id}/remove"
    assert client.post(url, {}).status_code == 404


def test_managers_remove_neither_themselves_nor_other_managers(app, make_user, world, organizer):
    other = make_user("second.manager@example.com", organization="Acme", is_manager=True)
    client = as_viewer(app, world.manager_a.email)
    base = f"/organizations/{world.org_a}/staff"
    assert client.post(f"{base}/{world.manager_a.id}/remove", {}).status_code == 400
    assert client.post(f"{base}/{other.id}/remove", {}).status_code == 403
    organizers = as_viewer(app, organizer.email)
    assert organizers.post(f"{base}/{other.id}/remove", {}).status_code == 302
    with app.app_context():
        gone = db.session.get(User, other.id)
        assert (gone.organization_id, gone.is_manager) == (None, False)


# -- staff groups ----------------------------------------------------------------------


def test_groups_are_created_renamed_and_deleted(app, world):
    client = as_viewer(app, world.manager_a.email)
    base = f"/organizations/{world.org_a}/groups"
    assert client.post(base, {"name": "Key talent"}).status_code == 302
    response = client.post(base, {"name": "Key talent"})
    assert response.status_code == 409
    assert "has a group with this name already" in response.get_data(as_text=True)
    assert client.post(base, {"name": "Sales b"}).status_code == 302  # B's name: fine in A
    assert client.post(base, {"name": ""}).status_code == 400
    assert client.post(base, {"name": "x" * 101}).status_code == 400
    response = client.post(f"{base}/{world.group_a}/rename", {"name": "Key talent"})
    assert response.status_code == 409
    assert client.post(f"{base}/{world.group_a}/rename", {"name": ""}).status_code == 400
    assert client.post(f"{base}/{world.group_a}/rename", {"name": "Sales"}).status_code == 302
    page = client.get(base).get_data(as_text=True)
    assert "Sales" in page and "Key talent" in page and world.staff_a.email in page
    assert client.post(f"{base}/{world.group_a}/delete", {}).status_code == 302
    with app.app_context():
        assert db.session.get(StaffGroup, world.group_a) is None
        assert db.session.get(User, world.staff_a.id).organization_id == world.org_a
        assert db.session.get(Invite, world.invite_a).group_id is None


def test_group_members_must_be_staff_of_the_organization(app, world):
    client = as_viewer(app, world.manager_a.email)
    base = f"/organizations/{world.org_a}/groups/{world.group_a}/members"
    assert client.post(base, {"user": str(world.newcomer_a.id)}).status_code == 302
    assert client.post(base, {"user": str(world.newcomer_a.id)}).status_code == 302  # idempotent
    assert client.post(base, {"user": str(world.loner.id)}).status_code == 404
    assert client.post(base, {"user": str(world.staff_b.id)}).status_code == 404
    assert client.post(base, {"user": "nonsense"}).status_code == 404
    assert client.post(base, {"user": ""}).status_code == 400
    assert client.post(f"{base}/{world.newcomer_a.id}/remove", {}).status_code == 302
    assert client.post(f"{base}/{world.newcomer_a.id}/remove", {}).status_code == 404
    with app.app_context():
        members = db.session.scalars(
            db.select(StaffGroupMember.user_id).filter_by(group_id=world.group_a)
        ).all()
        assert members == [world.staff_a.id]


def test_the_training_plan_is_a_tab_of_the_organization(app, world, organizer):
    for email in (world.manager_a.email, organizer.email):
        client = as_viewer(app, email)
        staff = client.get(f"/organizations/{world.org_a}/").get_data(as_text=True)
        assert f'href="/organizations/{world.org_a}/plan"' in staff
        plan = client.get(f"/organizations/{world.org_a}/plan")
        assert plan.status_code == 200
        page = plan.get_data(as_text=True)
        assert 'class="org-nav"' in page
        assert re.search(rf'href="/organizations/{world.org_a}/plan" aria-current="page"', page)
    chinese = as_viewer(app, world.manager_a.email)
    chinese.raw.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    assert "培训计划" in chinese.get(f"/organizations/{world.org_a}/").get_data(as_text=True)
    for email in (world.manager_b.email, world.staff_a.email):  # same access as the other tabs
        assert as_viewer(app, email).get(f"/organizations/{world.org_a}/plan").status_code == 404
