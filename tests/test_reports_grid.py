"""The reports' filter form, the hours report's learner × month grid (page and CSV) and the
links from report rows to the learners' archives."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from werkzeug.datastructures import MultiDict

from lms.extensions import db
from lms.models import Organization, User
from lms.services import people, plans, reports
from lms.web.report_forms import ReportFilterForm
from tests import test_reports
from tests.test_plans import assign, login
from tests.test_query_counts import count_queries
from tests.test_reports import MARCH, camp_id, ledger, read_csv

world = test_reports.world
month_hours = test_reports.month_hours
report_clock = test_reports.report_clock

GRID_MONTHS = [f"2026-{month:02d}" for month in range(4, 13)] + ["2027-01", "2027-02", "2027-03"]


# -- the filter form --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"organization": "１２"}, "organization must be a number."),
        ({"camp": "+3"}, "camp must be a number."),
        ({"page": "100001"}, "page must be a number from 1 to 100000."),
        ({"month": "2027-03-01"}, "The month must be written YYYY-MM."),
        ({"month": "2101-01"}, "The month must be written YYYY-MM."),
        ({"from": "2027-3-1"}, "from must be a date written YYYY-MM-DD."),
        ({"to": "1999-12-31"}, "to must be a date written YYYY-MM-DD."),
        ({"organization": "x", "camp": "y"}, "organization must be a number."),
    ],
)
@pytest.mark.engine_independent
def test_the_filter_form_names_the_first_bad_parameter(app, args, message):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        form = ReportFilterForm(MultiDict(args))
        assert not form.validate()
        assert form.first_error() == message


@pytest.mark.engine_independent
def test_the_filter_form_reads_good_values_and_ignores_spaces(app):
    args = {"organization": " 7 ", "camp": "", "month": "2027-03", "from": "2027-03-01",
            "to": "2027-03-31", "page": "2"}  # fmt: skip
    with app.test_request_context(headers={"Accept-Language": "en"}):
        form = ReportFilterForm(MultiDict(args))
        assert form.validate(), form.errors
        assert (form.organization.data, form.camp.data, form.month.data, form.page.data) == (
            7,
            None,
            MARCH,
            2,
        )
        assert (form.start.data, form.end.data) == (date(2027, 3, 1), date(2027, 3, 31))
        assert form.first_error() is None


def test_a_bad_parameter_is_a_400_page_in_chinese_and_json_for_json_clients(app, organizer, world):
    client = login(app, organizer.email)
    with app.app_context():
        db.session.execute(db.update(User).filter_by(id=organizer.id).values(locale="zh_CN"))
        db.session.commit()
    page = client.get("/reports/hours-grid?month=2027-13")
    assert page.status_code == 400
    assert "月份格式必须为 YYYY-MM。" in page.get_data(as_text=True)
    answer = client.get("/reports/hours.csv?page=0", headers={"Accept": "application/json"})
    assert answer.status_code == 400
    assert answer.get_json()["status"] == 400
    assert "100000" in answer.get_json()["message"]


# -- the grid ---------------------------------------------------------------------------


def grid(app, organization_id=None, camp=None) -> reports.HoursGrid:
    with app.app_context():
        scope = people.Scope(organization_id, everyone=organization_id is None)
        return reports.hours_grid(
            scope, MARCH, db.session.get(reports.Camp, camp) if camp else None
        )


def test_the_grid_has_twelve_months_per_learner_with_totals(app, world, month_hours):
    ledger(app, world.ann.id, date(2026, 4, 1), 2, "first-month")  # the grid's first day
    ledger(app, world.ann.id, date(2026, 3, 31), 9, "before")  # the day before: not counted
    found = grid(app, world.org_a)
    assert [m.strftime("%Y-%m") for m in found.months] == GRID_MONTHS
    by_email = {row.email: row for row in found.rows}
    assert set(by_email) == {"ann@acme.example", "al@acme.example", "evil@acme.example",
                             "boss@acme.example"}  # fmt: skip
    ann = by_email["ann@acme.example"]
    assert ann.hours == [2.0] + [0.0] * 10 + [11.0]  # April 2027's 50 h is after the grid
    assert ann.total == 13.0
    assert ann.buckets[-1] == "met" and ann.buckets[0] == "under_25" and ann.buckets[1] == "none"
    assert by_email["al@acme.example"].hours[-1] == 5.0  # 7 h and a -2 h correction
    assert by_email["al@acme.example"].buckets[-1] == "under_75"  # 5 of Acme's 10 h
    assert found.learners == 4
    assert found.month_hours == [2.0] + [0.0] * 10 + [17.0]
    assert found.total == 19.0


def test_the_whole_academys_grid_counts_every_organization_and_february(app, world, month_hours):
    found = grid(app)
    bob = next(row for row in found.rows if row.email == "bob@beta.example")
    assert bob.hours[-2:] == [40.0, 13.0] and bob.target == 12
    assert bob.buckets[-2:] == ["met", "met"]
    assert found.month_hours[-2:] == [40.0, 30.0]


def test_a_camp_filter_counts_only_the_camps_time(app, world, month_hours):
    found = grid(app, world.org_a, camp_id(app, "startup-growth"))
    ann = next(row for row in found.rows if row.email == "ann@acme.example")
    assert ann.hours[-1] == 8.0


def test_the_grid_runs_a_fixed_number_of_queries(app, world, month_hours, make_user):
    def queries() -> int:
        with count_queries(app) as counted:
            grid(app)
        return len(counted)

    before = queries()
    for number in range(15):
        person = make_user(f"extra{number}@acme.example", organization="Acme")
        ledger(app, person.id, date(2026, 5 + number % 6, 3), 1, f"x{number}")
    assert queries() == before == 2


def test_the_grid_page_shows_heat_cells_totals_and_a_legend(app, world, month_hours):
    client = login(app, world.manager_a.email)
    page = client.get("/reports/hours-grid?month=2027-03").get_data(as_text=True)
    assert "Training hours, 2026-04 to 2027-03" in page
    assert page.count('<th scope="col" class="num">20') == 12
    assert 'class="num heat-met" title="2027-03: 11.0 of 10 hours">11.0</td>' in page
    assert 'class="num heat-under_75"' in page and "Total of 4 learners" in page
    assert 'class="swatch heat-none"' in page and "75–100%" in page
    assert 'href="/reports/hours-grid.csv?' in page
    # the two views of the hours report link to each other, keeping the filters
    kept = f"organization={world.org_a}&amp;month=2027-03"
    assert f'href="/reports/hours?{kept}"' in page
    hours_page = client.get("/reports/hours?month=2027-03").get_data(as_text=True)
    assert f'href="/reports/hours-grid?{kept}"' in hours_page


def test_the_grid_page_in_chinese(app, world, month_hours):
    with app.app_context():
        db.session.execute(db.update(User).filter_by(id=world.manager_a.id).values(locale="zh_CN"))
        db.session.commit()
    page = login(app, world.manager_a.email).get("/reports/hours-grid?month=2027-03")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "培训学时，2026-04 至 2027-03" in text and "十二个月" in text and "合计" in text


def test_the_grid_csv_has_a_column_per_month_and_a_totals_row(app, world, month_hours):
    client = login(app, world.manager_a.email)
    response = client.get("/reports/hours-grid.csv?month=2027-03")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="hours-grid-2026-04_2027-03-org{world.org_a}.csv"'
    )
    rows = read_csv(response)
    assert rows[0] == ["Organization", "Name", "E-mail", *GRID_MONTHS, "Total (h)"]
    ann = next(row for row in rows if row[2] == "ann@acme.example")
    assert ann == ["Acme", "ann", "ann@acme.example", *["0.0"] * 11, "11.0", "11.0"]
    evil = next(row for row in rows if row[2] == "evil@acme.example")
    assert evil[1].startswith("'=")  # a formula stays text
    assert rows[-1] == ["Total", "", "", *["0.0"] * 11, "17.0", "17.0"]
    assert len(rows) == 1 + 4 + 1


def test_the_grid_pages_by_a_hundred_learners(app, world, make_user):
    for number in range(101):
        make_user(f"p{number:03d}@acme.example", organization="Acme")
    client = login(app, world.manager_a.email)
    first = client.get("/reports/hours-grid?month=2027-03").get_data(as_text=True)
    assert f'organization={world.org_a}&amp;month=2027-03&amp;page=2"' in first
    second = client.get("/reports/hours-grid?month=2027-03&page=2").get_data(as_text=True)
    assert second.count('<th scope="row">') == 105 - 100 + 1  # five learners and the totals
    assert "Total of 105 learners" in second


# -- links to the archives --------------------------------------------------------------

ARCHIVE = re.compile(r'<a href="/people/(\d+)/archive">([^<]*)</a>')


def linked(page: str) -> dict[str, int]:
    return {name: int(user_id) for user_id, name in ARCHIVE.findall(page)}


@pytest.mark.parametrize(
    "url", ["/reports/hours?month=2027-03", "/reports/hours-grid?month=2027-03"]
)
def test_report_names_link_to_the_archive(app, world, month_hours, organizer, url):
    manager_page = login(app, world.manager_a.email).get(url).get_data(as_text=True)
    assert linked(manager_page)["ann"] == world.ann.id
    assert set(linked(manager_page)) >= {"ann", "al", "boss"}
    organizer_page = login(app, organizer.email).get(url).get_data(as_text=True)
    assert linked(organizer_page)["bob"] == world.bob.id
    archive = login(app, world.manager_a.email).get(f"/people/{world.ann.id}/archive")
    assert archive.status_code == 200


def test_overdue_names_link_to_the_archive(app, world, organizer, course):
    assign(app, world.org_a, plans.today() - timedelta(days=5), user_id=world.al.id,
           course_id=course.id)  # fmt: skip
    for email in (world.manager_a.email, organizer.email):
        page = login(app, email).get("/reports/overdue").get_data(as_text=True)
        assert linked(page) == {"al": world.al.id}


def test_no_link_where_the_viewer_may_not_see_the_archive(app, world):
    """The rows' links follow the archive's rule: another organization's manager gets no
    link (the name stays as text), as they get a 404 from the archive itself."""
    from flask_login import login_user

    from lms.web.reports import archive_href

    with app.test_request_context():
        login_user(db.session.get(User, world.manager_b.id))
        assert archive_href(world.ann.id, world.org_a) is None
        assert archive_href(world.bob.id, world.org_b) == f"/people/{world.bob.id}/archive"
        macros = app.jinja_env.get_template("reports/_filters.html").module
        assert str(macros.learner_name("<Ann>", None)).strip() == "&lt;Ann&gt;"
        assert str(macros.learner_name("Bob", "/people/1/archive")).strip() == (
            '<a href="/people/1/archive">Bob</a>'
        )
    assert (
        login(app, world.manager_b.email).get(f"/people/{world.ann.id}/archive").status_code == 404
    )


def test_the_link_rule_is_the_archives(app, world, organizer):
    with app.test_request_context():
        ann, manager_a, manager_b = (db.session.get(User, u.id) for u in
                                     (world.ann, world.manager_a, world.manager_b))  # fmt: skip
        org = db.session.get(Organization, world.org_a)
        for viewer in (manager_a, manager_b, db.session.get(User, organizer.id), ann):
            assert people.may_view_records(viewer, ann.id, org.id) == people.can_view_person(
                viewer, ann
            )
        assert people.may_view_records(manager_a, ann.id, org.id)
        assert not people.may_view_records(manager_b, ann.id, org.id)
