"""Training plans: assigning courses and camps, due dates, group membership, who sees what."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import (
    Assignment,
    Camp,
    Course,
    Enrollment,
    Organization,
    StaffGroup,
    StaffGroupMember,
    User,
)
from lms.services import plans
from tests.conftest import Client
from tests.test_query_counts import count_queries


@dataclass
class World:
    org_a: int
    org_b: int
    manager_a: User
    manager_b: User
    staff_a: User
    staff_a2: User
    staff_b: User
    group_a: int
    group_b: int


def add_group(app, organization_id: int, name: str, members: list[int]) -> int:
    with app.app_context():
        group = StaffGroup(organization_id=organization_id, name=name)
        db.session.add(group)
        db.session.flush()
        for user_id in members:
            db.session.add(StaffGroupMember(group_id=group.id, user_id=user_id))
        db.session.commit()
        return group.id


def org_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Organization.id).filter_by(name=name))


@pytest.fixture
def world(app, make_user) -> World:
    manager_a = make_user("boss@acme.example", organization="Acme", is_manager=True)
    staff_a = make_user("ann@acme.example", organization="Acme")
    staff_a2 = make_user("al@acme.example", organization="Acme")
    manager_b = make_user("boss@beta.example", organization="Beta", is_manager=True)
    staff_b = make_user("bob@beta.example", organization="Beta")
    org_a, org_b = org_id(app, "Acme"), org_id(app, "Beta")
    return World(
        org_a, org_b, manager_a, manager_b, staff_a, staff_a2, staff_b,
        add_group(app, org_a, "Key talent", [staff_a.id]),
        add_group(app, org_b, "Sales", [staff_b.id]),
    )  # fmt: skip


def today() -> date:
    return plans.today()


def assign(app, organization_id, due_on, **values) -> int:
    """An assignment written directly (so due dates in the past are possible)."""
    with app.app_context():
        assignment = Assignment(organization_id=organization_id, due_on=due_on, **values)
        db.session.add(assignment)
        db.session.commit()
        return assignment.id


def complete(app, user_id: int, course_id: int, at: datetime | None = None) -> None:
    with app.app_context():
        db.session.add(
            Enrollment(
                user_id=user_id,
                course_id=course_id,
                status="completed",
                completed_at=at or datetime.now(UTC),
            )
        )
        db.session.commit()


def status_of(app, assignment_id: int, user_id: int) -> tuple[str, bool] | None:
    with app.app_context():
        found = plans.statuses(Assignment.id == assignment_id)
        row = db.session.execute(
            db.select(found.c.status, found.c.done_late).where(found.c.user_id == user_id)
        ).first()
        return (row[0], bool(row[1])) if row else None


def covered(app, assignment_id: int) -> set[int]:
    with app.app_context():
        found = plans.statuses(Assignment.id == assignment_id)
        return set(db.session.scalars(db.select(found.c.user_id)))


def login(app, email: str | None) -> Client:
    client = Client(app.test_client())
    if email is not None:
        assert client.login(email).status_code == 302
    return client


# -- due dates and status ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "status"), [(-30, "late"), (-1, "late"), (0, "on_track"), (1, "on_track")]
)
def test_status_follows_the_due_date(app, world, course, days, status):
    found = assign(app, world.org_a, today() + timedelta(days=days), user_id=world.staff_a.id,
                   course_id=course.id)  # fmt: skip
    assert status_of(app, found, world.staff_a.id) == (status, False)


def test_a_course_done_on_time_or_late(app, world, course):
    due = date(2027, 5, 10)
    on_time = assign(app, world.org_a, due, user_id=world.staff_a.id, course_id=course.id)
    late = assign(app, world.org_a, due, user_id=world.staff_a2.id, course_id=course.id)
    # 23:00 in Shanghai on the due day, and 01:00 the day after.
    complete(app, world.staff_a.id, course.id, datetime(2027, 5, 10, 15, 0, tzinfo=UTC))
    complete(app, world.staff_a2.id, course.id, datetime(2027, 5, 10, 17, 0, tzinfo=UTC))
    assert status_of(app, on_time, world.staff_a.id) == ("done", False)
    assert status_of(app, late, world.staff_a2.id) == ("done", True)


def test_an_enrollment_not_completed_is_not_done(app, world, course):
    found = assign(app, world.org_a, today() - timedelta(days=1), user_id=world.staff_a.id,
                   course_id=course.id)  # fmt: skip
    with app.app_context():
        db.session.add(Enrollment(user_id=world.staff_a.id, course_id=course.id))
        db.session.commit()
    assert status_of(app, found, world.staff_a.id) == ("late", False)


def test_a_camp_is_done_when_every_published_course_is_completed(app, world, course):
    with app.app_context():
        camp = db.session.get(Camp, course.camp_id)
        published = db.session.scalars(
            db.select(Course.id).where(
                Course.camp_id == camp.id, Course.status == "published",
                Course.archived_at.is_(None),
            )
        ).all()  # fmt: skip
        db.session.add_all([
            Course(camp_id=camp.id, slug="draft-x", title_zh="草稿", title_en="Draft"),
            Course(camp_id=camp.id, slug="old-x", title_zh="旧", title_en="Old",
                   status="published", archived_at=datetime.now(UTC)),
        ])  # fmt: skip
        db.session.commit()
    assert len(published) >= 2
    found = assign(app, world.org_a, today() + timedelta(days=5), user_id=world.staff_a.id,
                   camp_id=course.camp_id)  # fmt: skip
    now = datetime.now(UTC)
    for course_id in published[:-1]:
        complete(app, world.staff_a.id, course_id, now - timedelta(days=10))
    assert status_of(app, found, world.staff_a.id) == ("on_track", False)
    complete(app, world.staff_a.id, published[-1], now - timedelta(days=1))
    assert status_of(app, found, world.staff_a.id) == ("done", False)
    with app.app_context():
        mine = plans.for_learner(db.session.get(User, world.staff_a.id))
    assert [m.done_on for m in mine] == [plans.local_day(now - timedelta(days=1))]


def test_a_camp_done_after_its_due_date_is_done_late(app, world, course):
    with app.app_context():
        course_ids = db.session.scalars(
            db.select(Course.id).where(
                Course.camp_id == course.camp_id, Course.status == "published"
            )
        ).all()
    found = assign(app, world.org_a, date(2027, 1, 31), user_id=world.staff_a.id,
                   camp_id=course.camp_id)  # fmt: skip
    for number, course_id in enumerate(course_ids):
        complete(app, world.staff_a.id, course_id, datetime(2027, 1, 20 + number, tzinfo=UTC))
    complete_late = datetime(2027, 2, 2, tzinfo=UTC)
    with app.app_context():
        db.session.execute(
            db.update(Enrollment)
            .where(Enrollment.user_id == world.staff_a.id, Enrollment.course_id == course_ids[0])
            .values(completed_at=complete_late)
        )
        db.session.commit()
    assert status_of(app, found, world.staff_a.id) == ("done", True)


def test_a_group_assignment_follows_the_members(app, world, course):
    found = assign(app, world.org_a, today(), group_id=world.group_a, course_id=course.id)
    assert covered(app, found) == {world.staff_a.id}
    with app.app_context():
        db.session.add(StaffGroupMember(group_id=world.group_a, user_id=world.staff_a2.id))
        db.session.commit()
    assert covered(app, found) == {world.staff_a.id, world.staff_a2.id}
    with app.app_context():
        db.session.execute(
            db.delete(StaffGroupMember).where(StaffGroupMember.user_id == world.staff_a.id)
        )
        db.session.commit()
    assert covered(app, found) == {world.staff_a2.id}


def test_people_who_leave_the_organization_leave_its_plan(app, world, course):
    direct = assign(app, world.org_a, today(), user_id=world.staff_a.id, course_id=course.id)
    grouped = assign(app, world.org_a, today(), group_id=world.group_a, course_id=course.id)
    with app.app_context():
        db.session.get(User, world.staff_a.id).organization_id = world.org_b
        db.session.commit()
    assert covered(app, direct) == set() and covered(app, grouped) == set()


def test_someone_in_a_group_and_assigned_directly_counts_once_per_assignment(app, world, course):
    assign(app, world.org_a, today(), group_id=world.group_a, course_id=course.id)
    assign(app, world.org_a, today(), user_id=world.staff_a.id, course_id=course.id)
    with app.app_context():
        items = plans.plan(world.org_a)
    assert [item.learners for item in items] == [1, 1]


# -- the service refuses what the form would not offer -----------------------------------


def test_the_service_refuses_bad_assignments(app, world, course):
    with app.test_request_context():
        by = db.session.get(User, world.manager_a.id)
        good = {"due_on": today(), "user_id": world.staff_a.id, "course_id": course.id}
        cases = [
            {**good, "due_on": today() - timedelta(days=1)},
            {**good, "user_id": world.staff_b.id},
            {**good, "user_id": None, "group_id": world.group_b},
            {**good, "user_id": None},
            {**good, "camp_id": course.camp_id},
            {**good, "course_id": 999999},
        ]
        for values in cases:
            with pytest.raises(plans.PlanError):
                plans.assign(world.org_a, by, **values)
        draft = Course(camp_id=course.camp_id, slug="draft-y", title_zh="草", title_en="D")
        db.session.add(draft)
        db.session.commit()
        with pytest.raises(plans.PlanError):
            plans.assign(world.org_a, by, **{**good, "course_id": draft.id})
        assert plans.assign(world.org_a, by, **good).id


def test_whose_plan_a_viewer_may_manage(app, world, organizer, make_user):
    learner = make_user("solo@example.com")
    with app.app_context():

        def found(user: User, organization_id: int) -> int | None:
            organization = plans.organization_for(db.session.get(User, user.id), organization_id)
            return None if organization is None else organization.id

        assert found(world.manager_a, world.org_a) == world.org_a
        assert found(world.manager_a, world.org_b) is None  # another organization's
        assert found(world.staff_a, world.org_a) is None  # staff, not a manager
        assert found(learner, world.org_a) is None
        assert found(organizer, world.org_b) == world.org_b
        assert found(organizer, 999999) is None


# -- pages ------------------------------------------------------------------------------


def test_a_manager_assigns_a_course_and_sees_the_counts(app, world, course):
    client = login(app, world.manager_a.email)
    page = client.get(f"/organizations/{world.org_a}/plan")
    assert page.status_code == 200
    due = (today() + timedelta(days=14)).isoformat()
    response = client.post(
        f"/organizations/{world.org_a}/plan",
        {"assignee": f"group:{world.group_a}", "subject": f"course:{course.id}",
         "due_on": due, "note": "Before the audit"},
    )  # fmt: skip
    assert response.status_code == 302
    with app.app_context():
        created = db.session.scalar(db.select(Assignment))
        assert (created.group_id, created.course_id, created.note) == (
            world.group_a, course.id, "Before the audit",
        )  # fmt: skip
        assert created.assigned_by_id == world.manager_a.id
    complete(app, world.staff_a.id, course.id)
    page = client.get(f"/organizations/{world.org_a}/plan").get_data(as_text=True)
    assert "Before the audit" in page and 'value="100"' in page
    detail = client.get(f"/organizations/{world.org_a}/plan/{created.id}").get_data(as_text=True)
    assert world.staff_a.name in detail and "done" in detail


def test_an_organizer_assigns_a_whole_camp_to_one_person(app, world, organizer, course):
    client = login(app, organizer.email)
    response = client.post(
        f"/organizations/{world.org_b}/plan",
        {"assignee": f"user:{world.staff_b.id}", "subject": f"camp:{course.camp_id}",
         "due_on": today().isoformat()},
    )  # fmt: skip
    assert response.status_code == 302
    with app.app_context():
        created = db.session.scalar(db.select(Assignment))
    assert (created.organization_id, created.camp_id) == (world.org_b, course.camp_id)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"due_on": "2000-01-01"}, "The due date is in the past."),
        ({"due_on": "2027-02-30"}, "Not a valid date value."),
        ({"due_on": ""}, "This field is required."),
        ({"assignee": "user:{staff_b}"}, "Not a valid choice."),
        ({"assignee": "group:{group_b}"}, "Not a valid choice."),
        ({"assignee": "user:abc"}, "Not a valid choice."),
        ({"subject": "course:999999"}, "Not a valid choice."),
        ({"note": "x" * 201}, "Field cannot be longer than 200 characters."),
    ],
)
def test_bad_assignments_are_400_and_write_nothing(app, world, course, values, message):
    client = login(app, world.manager_a.email)
    data = {"assignee": f"user:{world.staff_a.id}", "subject": f"course:{course.id}",
            "due_on": today().isoformat(), "note": ""}  # fmt: skip
    data.update(
        {k: v.format(staff_b=world.staff_b.id, group_b=world.group_b) for k, v in values.items()}
    )
    response = client.post(f"/organizations/{world.org_a}/plan", data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Assignment.id))) == 0


def test_assigning_needs_the_csrf_token(app, world, course):
    client = login(app, world.manager_a.email)
    response = client.post(
        f"/organizations/{world.org_a}/plan",
        {"assignee": f"user:{world.staff_a.id}", "subject": f"course:{course.id}",
         "due_on": today().isoformat()},
        csrf=False,
    )  # fmt: skip
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Assignment.id))) == 0


def test_cancelling_keeps_the_row_and_hides_it_from_the_learner(app, world, course):
    found = assign(app, world.org_a, today(), user_id=world.staff_a.id, course_id=course.id)
    learner = login(app, world.staff_a.email)
    assert course.title_en in learner.get("/plan").get_data(as_text=True)
    manager = login(app, world.manager_a.email)
    assert manager.post(f"/organizations/{world.org_a}/plan/{found}/cancel").status_code == 302
    with app.app_context():
        assert db.session.get(Assignment, found).cancelled_at is not None
    assert course.title_en not in learner.get("/plan").get_data(as_text=True)
    assert "cancelled" in manager.get(f"/organizations/{world.org_a}/plan").get_data(as_text=True)
    again = manager.post(f"/organizations/{world.org_a}/plan/{found}/cancel", csrf=False)
    assert again.status_code == 400


def test_learners_see_their_plan_on_the_dashboard_and_on_plan(app, world, course):
    assign(app, world.org_a, today() - timedelta(days=3), user_id=world.staff_a.id,
           course_id=course.id, note="Quarterly")  # fmt: skip
    assign(app, world.org_a, today() + timedelta(days=3), group_id=world.group_a,
           camp_id=course.camp_id)  # fmt: skip
    assign(app, world.org_b, today(), user_id=world.staff_b.id, course_id=course.id,
           note="Beta only")  # fmt: skip
    client = login(app, world.staff_a.email)
    for url in ("/plan", "/dashboard"):
        page = client.get(url).get_data(as_text=True)
        assert "My training plan" in page
        assert "Quarterly" in page and "Beta only" not in page
        assert 'class="tag warn">late' in page and "on track" in page
        assert f'/camps/{course.camp.slug}/{course.slug}/"' in page
        assert f'/camps/{course.camp.slug}/"' in page
    other = login(app, world.staff_a2.email).get("/plan").get_data(as_text=True)
    assert "Nothing is assigned to you." in other


# -- who may do what --------------------------------------------------------------------

ROUTES = [
    ("get", "/organizations/{org}/plan"),
    ("post", "/organizations/{org}/plan"),
    ("get", "/organizations/{org}/plan/{assignment}"),
    ("post", "/organizations/{org}/plan/{assignment}/cancel"),
]


def _request(client: Client, method: str, url: str):
    return client.get(url) if method == "get" else client.post(url, {})


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    ("viewer", "expected"),
    [(None, 302), ("learner", 404), ("trainer", 404), ("manager_b", 404),
     ("manager_a", None), ("organizer", None)],
)  # fmt: skip
def test_permission_matrix(app, world, make_user, course, method, path, viewer, expected):
    make_user("learner@example.com")
    make_user("trainer@example.com", role="trainer")
    make_user("organizer@example.com", role="organizer")
    emails = {"learner": "learner@example.com", "trainer": "trainer@example.com",
              "organizer": "organizer@example.com", "manager_a": world.manager_a.email,
              "manager_b": world.manager_b.email}  # fmt: skip
    found = assign(app, world.org_a, today(), user_id=world.staff_a.id, course_id=course.id)
    client = login(app, emails.get(viewer))
    response = _request(client, method, path.format(org=world.org_a, assignment=found))
    if expected == 302:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif expected == 404:
        assert response.status_code == 404
        with app.app_context():
            assert db.session.get(Assignment, found).cancelled_at is None
    else:  # allowed: the page, a form error (empty form) or the redirect after cancelling
        assert response.status_code in {"get": (200,), "post": (302, 400)}[method]


@pytest.mark.parametrize(("method", "path"), ROUTES[2:])
def test_tampered_assignment_ids_are_404(app, world, course, method, path):
    theirs = assign(app, world.org_b, today(), user_id=world.staff_b.id, course_id=course.id)
    client = login(app, world.manager_a.email)
    for url in (path.format(org=world.org_a, assignment=theirs),
                path.format(org=world.org_b, assignment=theirs),
                path.format(org=world.org_a, assignment=999999)):  # fmt: skip
        assert _request(client, method, url).status_code == 404
    with app.app_context():
        assert db.session.get(Assignment, theirs).cancelled_at is None


def test_unknown_organizations_are_404_for_organizers(app, organizer):
    client = login(app, organizer.email)
    assert client.get("/organizations/999999/plan").status_code == 404
    assert client.get("/organizations/99999999999/plan").status_code == 404


# -- queries ----------------------------------------------------------------------------


def grow(app, world: World, course, start: int, count: int) -> None:
    """Add staff to Acme, each in the group, assigned directly, and with a completion."""
    with app.app_context():
        for number in range(start, start + count):
            user = User(email=f"s{number}@acme.example", name=f"S{number}", password_hash="x",
                        organization_id=world.org_a)  # fmt: skip
            db.session.add(user)
            db.session.flush()
            db.session.add(StaffGroupMember(group_id=world.group_a, user_id=user.id))
            db.session.add(Assignment(organization_id=world.org_a, user_id=user.id,
                                      camp_id=course.camp_id, due_on=today()))  # fmt: skip
            db.session.add(Enrollment(user_id=user.id, course_id=course.id,
                                      completed_at=datetime.now(UTC)))  # fmt: skip
        db.session.commit()


def queries(app, client: Client, url: str) -> int:
    with count_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


def test_plan_pages_run_a_fixed_number_of_queries(app, world, course):
    group_assignment = assign(app, world.org_a, today(), group_id=world.group_a,
                              course_id=course.id)  # fmt: skip
    manager = login(app, world.manager_a.email)
    learner = login(app, world.staff_a.email)
    urls = [
        (manager, f"/organizations/{world.org_a}/plan"),
        (manager, f"/organizations/{world.org_a}/plan/{group_assignment}"),
        (learner, "/plan"),
        (learner, "/dashboard"),
    ]
    grow(app, world, course, 0, 2)
    assign(app, world.org_a, today(), user_id=world.staff_a.id, course_id=course.id)
    for client, url in urls:  # the process's caches filled (lms/cache.py), as in a server
        client.get(url)
    before = [queries(app, client, url) for client, url in urls]
    grow(app, world, course, 2, 20)
    assign(app, world.org_a, today(), user_id=world.staff_a.id, camp_id=course.camp_id)
    assert [queries(app, client, url) for client, url in urls] == before
