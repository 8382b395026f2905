"""Reports for organizers (every organization) and managers (their own): pages and CSV.

Every query parameter is checked here: a malformed one is a 400 with a message saying
which, an organization the viewer may not see is the same 404 as an unknown one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.extensions import db
from lms.models import Camp, Organization
from lms.services import people, plans, reports
from lms.services.live import local
from lms.web.downloads import csv_response

bp = Blueprint("reports", __name__, url_prefix="/reports")

PAGE_SIZE = 100
MAX_PAGE = 100000
MAX_PERIOD_DAYS = 731
DEFAULT_PERIOD_DAYS = 90
ID = re.compile(r"[0-9]{1,10}")
MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_ID = 2**31 - 1
FIRST_YEAR, LAST_YEAR = 2000, 2100  # reports reach no further (and dates stay computable)


@dataclass(frozen=True)
class Bar:
    """One bar of a chart."""

    label: str
    value: float | None
    title: str
    cls: str = ""


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


def _id(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not ID.fullmatch(value) or int(value) > MAX_ID:
        abort(400, _("%(name)s must be a number.", name=name))
    return int(value)


def _day(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        if not DAY.fullmatch(value):
            raise ValueError(value)
        found = date.fromisoformat(value)
    except ValueError:
        found = None
    if found is None or not FIRST_YEAR <= found.year <= LAST_YEAR:
        abort(400, _("%(name)s must be a date written YYYY-MM-DD.", name=name))
    return found


def _month(today: date) -> date:
    value = request.args.get("month", "").strip()
    if not value:
        return today.replace(day=1)
    match = MONTH.fullmatch(value)
    if match is None or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        abort(400, _("The month must be written YYYY-MM."))
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        abort(400, _("The month must be written YYYY-MM."))
    return date(year, month, 1)


def filters(default_period: bool = False) -> Filters:
    """Parse and check the filters; 404 when the viewer may not see the organization."""
    today = plans.today()
    organization_id = _id("organization")
    scope = people.scope_for(current_user, organization_id)
    if scope is None:
        abort(404)
    organization = None
    if scope.organization_id is not None:
        organization = db.get_or_404(Organization, scope.organization_id)
    camp = None
    camp_id = _id("camp")
    if camp_id is not None:
        camp = db.session.get(Camp, camp_id)
        if camp is None:
            abort(400, _("There is no camp with this number."))
    start, end = _day("from"), _day("to")
    if default_period:
        end = end or today
        start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS)
    if start is not None and end is not None:
        if start > end:
            abort(400, _("The period ends before it starts."))
        if (end - start).days > MAX_PERIOD_DAYS:
            abort(400, _("The period is longer than two years."))
    page = _id("page")
    if page is None:
        page = 1
    elif not 1 <= page <= MAX_PAGE:
        abort(400, _("page must be a number from 1 to %(last)d.", last=MAX_PAGE))
    return Filters(scope, organization, camp, _month(today), start, end, page)


def _page_options(selected: Filters) -> dict[str, Any]:
    """What every report page shows: the filter choices and the current filters."""
    organizations = (
        list(db.session.scalars(db.select(Organization).order_by(Organization.name)))
        if current_user.is_organizer
        else []
    )
    camps = list(db.session.scalars(db.select(Camp).order_by(Camp.position, Camp.id)))
    return {"filters": selected, "organizations": organizations, "camps": camps}


def _name(*parts: str) -> str:
    return "-".join(part for part in parts if part)


# -- charts -----------------------------------------------------------------------------

CHART_SESSIONS = 60


def hours_bars(summary: reports.HoursSummary) -> list[Bar]:
    """The distribution of learners by the share of their target reached."""
    labels = {
        "none": _("none"),
        "under_25": "0–25%",
        "under_50": "25–50%",
        "under_75": "50–75%",
        "under_100": "75–100%",
        "met": _("met"),
    }
    return [
        Bar(
            labels[key],
            summary.buckets[key],
            _("%(share)s: %(num)d learners", share=labels[key], num=summary.buckets[key]),
            "met" if key == "met" else "",
        )
        for key in reports.HOUR_BUCKETS
    ]


def session_bars(rows: list[reports.SessionAttendance]) -> list[Bar]:
    """Attendance rate of the last sessions of the period that have a rate: a session the
    table shows as "—" (nobody registered) is left out rather than drawn as 0 %."""
    bars = []
    for row in [row for row in rows if row.rate is not None][-CHART_SESSIONS:]:
        day = local(row.session.starts_at, row.session.timezone)
        bars.append(
            Bar(
                day.strftime("%m-%d"),
                row.rate,
                f"{day:%Y-%m-%d} {row.session.title}: {row.rate}%",
                "low" if row.rate < 50 else "",
            )
        )
    return bars


def completion_bars(rows: list[reports.CourseCompletion]) -> list[Bar]:
    return [
        Bar(
            row.course.title,
            row.rate,
            _(
                "%(course)s: %(completed)d of %(enrolled)d completed",
                course=row.course.title,
                completed=row.completed,
                enrolled=row.enrolled,
            ),
            f"camp-{row.course.camp.slug}",
        )
        for row in rows
        if row.enrolled
    ]


# -- pages ------------------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> str:
    selected = filters()
    summary = reports.hours_summary(selected.scope, selected.month, selected.camp)
    return render_template(
        "reports/index.html",
        summary=summary,
        chart=hours_bars(summary),
        **_page_options(selected),
    )


@bp.get("/hours")
@login_required
def hours() -> str:
    selected = filters()
    offset = (selected.page - 1) * PAGE_SIZE
    rows = reports.monthly_hours(
        selected.scope, selected.month, selected.camp, limit=PAGE_SIZE + 1, offset=offset
    )
    summary = reports.hours_summary(selected.scope, selected.month, selected.camp)
    return render_template(
        "reports/hours.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        summary=summary,
        chart=hours_bars(summary),
        camp_target=selected.camp.monthly_target_hours if selected.camp else None,
        **_page_options(selected),
    )


@bp.get("/hours.csv")
@login_required
def hours_csv() -> Response:
    selected = filters()
    rows = reports.monthly_hours(selected.scope, selected.month, selected.camp)
    return csv_response(
        (
            (r.organization, r.name, r.email, r.hours, r.target, _("yes") if r.met else _("no"))
            for r in rows
        ),
        [_("Organization"), _("Name"), _("E-mail"), _("Hours"), _("Target (h)"), _("Met")],
        _name("hours", selected.month.strftime("%Y-%m"), selected.tag),
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
        chart=session_bars(sessions),
        **_page_options(selected),
    )


def _period(selected: Filters) -> str:
    if selected.start is None and selected.end is None:
        return ""
    start = selected.start.isoformat() if selected.start else ""
    end = selected.end.isoformat() if selected.end else ""
    return f"{start}_{end}"


@bp.get("/attendance.csv")
@login_required
def attendance_csv() -> Response:
    selected = filters(default_period=True)
    rows = reports.attendance_by_session(
        selected.scope, selected.start, selected.end, selected.camp
    )
    return csv_response(
        (
            (
                local(r.session.starts_at, r.session.timezone).strftime("%Y-%m-%d %H:%M"),
                r.session.title,
                r.session.series.title if r.session.series else "",
                r.registered,
                r.present,
                r.late,
                r.excused,
                r.absent,
                r.rate,
            )
            for r in rows
        ),
        [
            _("Start"),
            _("Session"),
            _("Series"),
            _("Registered"),
            _("Present"),
            _("Late"),
            _("Excused"),
            _("Absent"),
            _("Attendance rate (%)"),
        ],
        _name("attendance", _period(selected), selected.tag),
    )


@bp.get("/attendance-series.csv")
@login_required
def attendance_series_csv() -> Response:
    selected = filters(default_period=True)
    rows = reports.attendance_by_series(selected.scope, selected.start, selected.end, selected.camp)
    return csv_response(
        (
            (
                r.series.title,
                r.sessions,
                r.registered,
                r.present,
                r.late,
                r.excused,
                r.absent,
                r.rate,
            )
            for r in rows
        ),
        [
            _("Series"),
            _("Sessions"),
            _("Registered"),
            _("Present"),
            _("Late"),
            _("Excused"),
            _("Absent"),
            _("Attendance rate (%)"),
        ],
        _name("attendance-series", _period(selected), selected.tag),
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
        chart=completion_bars(course_rows),
        camp_rows=reports.completion_by_camp(*args),
        **_page_options(selected),
    )


@bp.get("/completion.csv")
@login_required
def completion_csv() -> Response:
    selected = filters()
    rows = reports.completion_by_course(selected.scope, selected.camp, selected.start, selected.end)
    return csv_response(
        ((r.course.camp.title, r.course.title, r.enrolled, r.completed, r.rate) for r in rows),
        [_("Camp"), _("Course"), _("Enrolled"), _("Completed"), _("Completion rate (%)")],
        _name("completion", _period(selected), selected.tag),
    )


@bp.get("/completion-camps.csv")
@login_required
def completion_camps_csv() -> Response:
    selected = filters()
    rows = reports.completion_by_camp(selected.scope, selected.camp, selected.start, selected.end)
    return csv_response(
        ((r.camp.title, r.courses, r.enrolled, r.completed, r.rate) for r in rows),
        [_("Camp"), _("Courses"), _("Enrolled"), _("Completed"), _("Completion rate (%)")],
        _name("completion-camps", _period(selected), selected.tag),
    )


@bp.get("/overdue")
@login_required
def overdue() -> str:
    selected = filters()
    args = (selected.scope, selected.camp, selected.start, selected.end)
    offset = (selected.page - 1) * PAGE_SIZE
    rows = reports.overdue(*args, limit=PAGE_SIZE + 1, offset=offset)
    return render_template(
        "reports/overdue.html",
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        total=reports.overdue_count(*args),
        **_page_options(selected),
    )


def _subject(assignment: Any) -> str:
    if assignment.course is not None:
        return f"{assignment.course.camp.title} › {assignment.course.title}"
    return _("Whole camp: %(camp)s", camp=assignment.camp.title)


@bp.get("/overdue.csv")
@login_required
def overdue_csv() -> Response:
    selected = filters()
    rows = reports.overdue(selected.scope, selected.camp, selected.start, selected.end)
    return csv_response(
        (
            (
                r.organization,
                r.user.name,
                r.user.email,
                _subject(r.assignment),
                r.assignment.group.name if r.assignment.group else "",
                r.assignment.due_on.isoformat(),
                r.days,
            )
            for r in rows
        ),
        [
            _("Organization"),
            _("Name"),
            _("E-mail"),
            _("Course or camp"),
            _("Group"),
            _("Due"),
            _("Days overdue"),
        ],
        _name("overdue", plans.today().isoformat(), selected.tag),
    )
