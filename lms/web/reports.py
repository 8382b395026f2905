"""Reports for organizers (every organization) and managers (their own): pages and CSV.

The query string is checked by :class:`~lms.web.report_forms.ReportFilterForm`: a
malformed parameter is a 400 with a message saying which; an organization the viewer may
not see is the same 404 as an unknown one. The CSV exports are one table
(:data:`EXPORTS`: a report's rows and columns) served by one view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user, login_required

from lms.models import Assignment, Camp, Organization
from lms.services import charts, people, plans, reports
from lms.services.live import local
from lms.web.downloads import csv_response
from lms.web.report_forms import ReportFilterForm

bp = Blueprint("reports", __name__, url_prefix="/reports")

PAGE_SIZE = 100
MAX_PERIOD_DAYS = 731
DEFAULT_PERIOD_DAYS = 90


@dataclass
class Filters:
    """The checked filters of a report page."""

    scope: people.Scope
    organization: Organization | None
    camp: Camp | None
    month: date
    start: date | None
    end: date | None
    page: int

    def args(self, **changes: Any) -> dict[str, Any]:
        """The query arguments that give these filters again (for links)."""
        values = {
            "organization": self.organization.id if self.organization else None,
            "camp": self.camp.id if self.camp else None,
            "month": self.month.strftime("%Y-%m"),
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }
        values.update(changes)
        return {key: value for key, value in values.items() if value not in (None, "")}

    def base_args(self) -> dict[str, Any]:
        """Only the organization and the camp (links to the other reports)."""
        return self.args(month=None, page=None, **{"from": None, "to": None})

    @property
    def tag(self) -> str:
        """A part of the CSV file name naming the organization and the camp."""
        parts = []
        if self.organization is not None:
            parts.append(f"org{self.organization.id}")
        if self.camp is not None:
            parts.append(f"camp{self.camp.id}")
        return "-".join(parts)

    @property
    def period(self) -> str:
        """The period's part of a CSV file name: ``from_to`` (either may be empty)."""
        if self.start is None and self.end is None:
            return ""
        start = self.start.isoformat() if self.start else ""
        end = self.end.isoformat() if self.end else ""
        return f"{start}_{end}"

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE


def filters(default_period: bool = False) -> Filters:
    """Parse and check the filters: 400 for a malformed or impossible one, 404 when the
    viewer may not see the organization."""
    form = ReportFilterForm(request.args)
    if not form.validate():
        abort(400, form.first_error())
    scope = people.scope_for(current_user, form.organization.data)
    if scope is None:
        abort(404)
    organization = None
    if scope.organization_id is not None:
        organization = reports.find_organization(scope.organization_id)
        if organization is None:
            abort(404)
    camp = None
    if form.camp.data is not None:
        camp = reports.find_camp(form.camp.data)
        if camp is None:
            abort(400, _("There is no camp with this number."))
    start, end = form.start.data, form.end.data
    today = plans.today()
    if default_period:
        end = end or today
        start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS)
    if start is not None and end is not None:
        if start > end:
            abort(400, _("The period ends before it starts."))
        if (end - start).days > MAX_PERIOD_DAYS:
            abort(400, _("The period is longer than two years."))
    month = form.month.data or today.replace(day=1)
    return Filters(scope, organization, camp, month, start, end, form.page.data or 1)


def archive_href(user_id: int, organization_id: int | None) -> str | None:
    """The learner's archive, when the viewer may see it (None: no link)."""
    if not people.may_view_records(current_user, user_id, organization_id):
        return None
    return url_for("archive.person", user_id=user_id)


def _page_options(selected: Filters) -> dict[str, Any]:
    """What every report page shows: the filter choices, the current filters, the links."""
    organizations = reports.filter_organizations() if current_user.is_organizer else []
    return {
        "filters": selected,
        "organizations": organizations,
        "camps": reports.filter_camps(),
        "archive_href": archive_href,
    }


# -- pages ------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> str:
    selected = filters()
    summary = reports.hours_summary(selected.scope, selected.month, selected.camp)
    return render_template(
        "reports/index.html",
        summary=summary,
        chart=charts.hours_bars(summary),
        **_page_options(selected),
    )


@bp.get("/hours")
@login_required
def hours() -> str:
    selected = filters()
    rows = reports.monthly_hours(
        selected.scope, selected.month, selected.camp, limit=PAGE_SIZE + 1, offset=selected.offset
    )
    summary = reports.hours_summary(selected.scope, selected.month, selected.camp)
    return render_template(
        "reports/hours.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        summary=summary,
        chart=charts.hours_bars(summary),
        camp_target=selected.camp.monthly_target_hours if selected.camp else None,
        **_page_options(selected),
    )


@bp.get("/hours-grid")
@login_required
def hours_grid() -> str:
    """Learners × the twelve months that end with the chosen one."""
    selected = filters()
    grid = reports.hours_grid(
        selected.scope, selected.month, selected.camp, limit=PAGE_SIZE + 1, offset=selected.offset
    )
    return render_template(
        "reports/hours_grid.html",
        grid=grid,
        rows=grid.rows[:PAGE_SIZE],
        more=len(grid.rows) > PAGE_SIZE,
        legend=charts.share_legend(),
        **_page_options(selected),
    )


@bp.get("/attendance")
@login_required
def attendance() -> str:
    selected = filters(default_period=True)
    args = (selected.scope, selected.start, selected.end, selected.camp)
    sessions = reports.attendance_by_session(*args)
    return render_template(
        "reports/attendance.html",
        sessions=sessions,
        series=reports.attendance_by_series(*args),
        chart=charts.session_bars(sessions),
        **_page_options(selected),
    )


@bp.get("/completion")
@login_required
def completion() -> str:
    selected = filters()
    args = (selected.scope, selected.camp, selected.start, selected.end)
    course_rows = reports.completion_by_course(*args)
    return render_template(
        "reports/completion.html",
        course_rows=course_rows,
        chart=charts.completion_bars(course_rows),
        camp_rows=reports.completion_by_camp(*args),
        **_page_options(selected),
    )


@bp.get("/overdue")
@login_required
def overdue() -> str:
    selected = filters()
    args = (selected.scope, selected.camp, selected.start, selected.end)
    rows = reports.overdue(*args, limit=PAGE_SIZE + 1, offset=selected.offset)
    return render_template(
        "reports/overdue.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        total=reports.overdue_count(*args),
        **_page_options(selected),
    )


# -- CSV exports: one table, one view ---------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A CSV column: its header and the cell of a row."""

    header: LazyString | str
    cell: Callable[[Any], object]


@dataclass(frozen=True)
class Export:
    """A report as CSV: its rows for the filters, its columns, and its file name's parts
    (``name``-``part``-``tag``, empty parts left out)."""

    rows: Callable[[Filters], Iterable[Any]]
    columns: Callable[[Filters], Sequence[Column]]
    part: Callable[[Filters], str]
    default_period: bool = False


def _fixed(*columns: Column) -> Callable[[Filters], Sequence[Column]]:
    return lambda _selected: columns


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


def _subject(assignment: Assignment) -> str:
    if assignment.course is not None:
        return f"{assignment.course.camp.title} › {assignment.course.title}"
    return _("Whole camp: %(camp)s", camp=assignment.camp.title)


def _month_part(selected: Filters) -> str:
    return selected.month.strftime("%Y-%m")


def _grid_part(selected: Filters) -> str:
    months = reports.grid_months(selected.month)
    return f"{months[0]:%Y-%m}_{months[-1]:%Y-%m}"


ATTENDANCE_COUNTS = (
    Column(_l("Registered"), lambda r: r.registered),
    Column(_l("Present"), lambda r: r.present),
    Column(_l("Late"), lambda r: r.late),
    Column(_l("Excused"), lambda r: r.excused),
    Column(_l("Absent"), lambda r: r.absent),
    Column(_l("Attendance rate (%)"), lambda r: r.rate),
)
COMPLETION_COUNTS = (
    Column(_l("Enrolled"), lambda r: r.enrolled),
    Column(_l("Completed"), lambda r: r.completed),
    Column(_l("Completion rate (%)"), lambda r: r.rate),
)
LEARNER = (
    Column(_l("Organization"), lambda r: r.organization),
    Column(_l("Name"), lambda r: r.name),
    Column(_l("E-mail"), lambda r: r.email),
)


def _grid_columns(selected: Filters) -> list[Column]:
    months = reports.grid_months(selected.month)
    return [
        *LEARNER,
        *(
            Column(month.strftime("%Y-%m"), lambda r, index=index: r.hours[index])
            for index, month in enumerate(months)
        ),
        Column(_l("Total (h)"), lambda r: r.total),
    ]


def _grid_rows(selected: Filters) -> list[Any]:
    """The grid's learners, then a last row with each month's total."""
    grid = reports.hours_grid(selected.scope, selected.month, selected.camp)
    totals = reports.GridRow(0, "", "", _("Total"), None, 0, grid.month_seconds)
    return [*grid.rows, totals]


EXPORTS: dict[str, Export] = {
    "hours": Export(
        rows=lambda f: reports.monthly_hours(f.scope, f.month, f.camp),
        columns=_fixed(
            *LEARNER,
            Column(_l("Hours"), lambda r: r.hours),
            Column(_l("Target (h)"), lambda r: r.target),
            Column(_l("Met"), lambda r: _yes_no(r.met)),
        ),
        part=_month_part,
    ),
    "hours-grid": Export(
        rows=_grid_rows,
        columns=_grid_columns,
        part=_grid_part,
    ),
    "attendance": Export(
        rows=lambda f: reports.attendance_by_session(f.scope, f.start, f.end, f.camp),
        columns=_fixed(
            Column(
                _l("Start"),
                lambda r: local(r.session.starts_at, r.session.timezone).strftime("%Y-%m-%d %H:%M"),
            ),
            Column(_l("Session"), lambda r: r.session.title),
            Column(_l("Series"), lambda r: r.session.series.title if r.session.series else ""),
            *ATTENDANCE_COUNTS,
        ),
        part=lambda f: f.period,
        default_period=True,
    ),
    "attendance-series": Export(
        rows=lambda f: reports.attendance_by_series(f.scope, f.start, f.end, f.camp),
        columns=_fixed(
            Column(_l("Series"), lambda r: r.series.title),
            Column(_l("Sessions"), lambda r: r.sessions),
            *ATTENDANCE_COUNTS,
        ),
        part=lambda f: f.period,
        default_period=True,
    ),
    "completion": Export(
        rows=lambda f: reports.completion_by_course(f.scope, f.camp, f.start, f.end),
        columns=_fixed(
            Column(_l("Camp"), lambda r: r.course.camp.title),
            Column(_l("Course"), lambda r: r.course.title),
            *COMPLETION_COUNTS,
        ),
        part=lambda f: f.period,
    ),
    "completion-camps": Export(
        rows=lambda f: reports.completion_by_camp(f.scope, f.camp, f.start, f.end),
        columns=_fixed(
            Column(_l("Camp"), lambda r: r.camp.title),
            Column(_l("Courses"), lambda r: r.courses),
            *COMPLETION_COUNTS,
        ),
        part=lambda f: f.period,
    ),
    "overdue": Export(
        rows=lambda f: reports.overdue(f.scope, f.camp, f.start, f.end),
        columns=_fixed(
            Column(_l("Organization"), lambda r: r.organization),
            Column(_l("Name"), lambda r: r.user.name),
            Column(_l("E-mail"), lambda r: r.user.email),
            Column(_l("Course or camp"), lambda r: _subject(r.assignment)),
            Column(_l("Group"), lambda r: r.assignment.group.name if r.assignment.group else ""),
            Column(_l("Due"), lambda r: r.assignment.due_on.isoformat()),
            Column(_l("Days overdue"), lambda r: r.days),
        ),
        part=lambda _f: plans.today().isoformat(),
    ),
}


def export(name: str) -> Response:
    """The CSV of the report ``name`` (a key of :data:`EXPORTS`) for the request's filters."""
    table = EXPORTS[name]
    selected = filters(default_period=table.default_period)
    columns = table.columns(selected)
    file_name = "-".join(part for part in (name, table.part(selected), selected.tag) if part)
    return csv_response(
        ([column.cell(row) for column in columns] for row in table.rows(selected)),
        [str(column.header) for column in columns],
        file_name,
    )


def _export_view(name: str) -> Callable[[], Response]:
    def view() -> Response:
        return export(name)

    view.__doc__ = f"The {name} report as CSV."
    return login_required(view)


for _name in EXPORTS:  # /reports/hours.csv is the endpoint reports.hours_csv, and so on
    bp.add_url_rule(
        f"/{_name}.csv", endpoint=f"{_name.replace('-', '_')}_csv", view_func=_export_view(_name)
    )
