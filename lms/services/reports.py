"""Reports for organizers and managers: hours against the target, attendance, completion,
overdue assignments.

Every figure is aggregated by the database (``GROUP BY``, ``SUM``, ``COUNT … FILTER``,
``CASE``) and each function runs a fixed number of queries, whatever the amount of data.
The :class:`~lms.services.people.Scope` decides whose rows count: a manager's reports
only ever count their own organization's staff.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from flask import current_app
from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import contains_eager, joinedload
from sqlalchemy.sql import ColumnElement, Select, Subquery

from lms.extensions import db
from lms.models import (
    Assignment,
    Camp,
    Course,
    Enrollment,
    LiveSeries,
    LiveSession,
    Organization,
    Registration,
    TrainingTime,
    User,
)
from lms.models import Attendance as AttendanceRow
from lms.models._base import utcnow
from lms.services import plans
from lms.services.hours import academy_zone, percent_of_target
from lms.services.people import Scope


def utc_start(day: date) -> datetime:
    """The UTC instant a day starts in the academy's time zone."""
    return datetime.combine(day, time(), tzinfo=academy_zone()).astimezone(UTC)


def percent(part: int, whole: int) -> int | None:
    return min(100, round(100 * part / whole)) if whole else None


def _staff_ids(scope: Scope) -> Select[int]:
    return select(User.id).where(scope.restrict(User.organization_id))


# -- (a) hours per learner against the monthly target -----------------------------------

# Buckets of the distribution chart: share of the target reached.
HOUR_BUCKETS = ("none", "under_25", "under_50", "under_75", "under_100", "met")


@dataclass(frozen=True)
class HoursRow:
    user_id: int
    name: str
    email: str
    organization: str
    seconds: int
    target: int  # hours
    organization_id: int | None = None

    @property
    def hours(self) -> float:
        return round(max(0, self.seconds) / 3600, 1)

    @property
    def met(self) -> bool:
        return self.seconds >= self.target * 3600

    @property
    def percent(self) -> int:
        return percent_of_target(self.seconds, self.target)


@dataclass
class HoursSummary:
    learners: int = 0
    met: int = 0
    seconds: int = 0
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(HOUR_BUCKETS, 0))

    @property
    def hours(self) -> float:
        return round(max(0, self.seconds) / 3600, 1)

    @property
    def percent_met(self) -> int | None:
        return percent(self.met, self.learners)


def _target(camp: Camp | None) -> ColumnElement[int]:
    """The target in hours: the camp's when a camp filter with its own target is set, else the
    learner's organization's, else the academy's default."""
    if camp is not None and camp.monthly_target_hours is not None:
        return literal(int(camp.monthly_target_hours))
    default = int(current_app.config["MONTHLY_TARGET_HOURS"])
    return func.coalesce(Organization.monthly_target_hours, default)


def _per_learner(
    scope: Scope, camp: Camp | None, months: list[date], sums: Mapping[str, ColumnElement[Any]]
) -> Select[*tuple[Any, ...]]:
    """Per learner of the scope: id, name, email, organization (name and id), target, and
    each of ``sums`` (sums over their ledger rows in ``months``, 0 without any).

    A manager's (or one organization's) scope is that organization's staff. The whole
    academy's (``scope.everyone``) adds the learners of no organization — their organization
    is ``""`` and their target the camp's or the academy's default — and anyone else of no
    organization with time in the months (a trainer who took a course, say).
    """
    query = (
        select(TrainingTime.user_id, *(column.label(name) for name, column in sums.items()))
        .where(
            TrainingTime.day >= months[0],
            TrainingTime.day < months[-1] + relativedelta(months=1),
        )
        .group_by(TrainingTime.user_id)
    )
    if camp is not None:
        query = query.where(TrainingTime.camp_id == camp.id)
    if not scope.everyone:
        query = query.where(TrainingTime.user_id.in_(_staff_ids(scope)))
    totals = query.subquery("totals")
    if scope.everyone:
        counted = or_(
            User.organization_id.is_not(None),
            User.role == "learner",
            totals.c.user_id.is_not(None),
        )
    else:
        counted = scope.restrict(User.organization_id)
    return (
        select(
            User.id.label("user_id"),
            User.name,
            User.email,
            func.coalesce(Organization.name, "").label("organization"),
            User.organization_id,
            _target(camp).label("target"),
            *(func.coalesce(totals.c[name], 0).label(name) for name in sums),
        )
        .outerjoin(Organization, Organization.id == User.organization_id)
        .outerjoin(totals, totals.c.user_id == User.id)
        .where(counted)
    )


def _hours_query(scope: Scope, month: date, camp: Camp | None) -> Select[*tuple[Any, ...]]:
    """Per learner of the scope (see :func:`_per_learner`): their seconds in the month."""
    return _per_learner(scope, camp, [month], {"seconds": func.sum(TrainingTime.seconds)})


def monthly_hours(
    scope: Scope,
    month: date,
    camp: Camp | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[HoursRow]:
    """Each learner's verified time in the month (``month`` is its first day) against their
    target, by organization and name — learners of no organization after the others. One
    query."""
    query = _hours_query(scope, month, camp).order_by(
        User.organization_id.is_(None), Organization.name, User.name, User.id
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [
        HoursRow(
            row.user_id,
            row.name,
            row.email,
            row.organization,
            int(row.seconds),
            row.target,
            row.organization_id,
        )
        for row in db.session.execute(query)
    ]


def hours_summary(scope: Scope, month: date, camp: Camp | None = None) -> HoursSummary:
    """Learners, how many met the target, total time and the distribution. One query."""
    rows = _hours_query(scope, month, camp).subquery("per_learner")
    goal = rows.c.target * 3600
    bucket = case(
        (rows.c.seconds >= goal, literal("met")),
        (rows.c.seconds <= 0, literal("none")),
        (rows.c.seconds * 4 < goal, literal("under_25")),
        (rows.c.seconds * 2 < goal, literal("under_50")),
        (rows.c.seconds * 4 < goal * 3, literal("under_75")),
        else_=literal("under_100"),
    ).label("bucket")
    summary = HoursSummary()
    for name, learners, seconds in db.session.execute(
        select(bucket, func.count(), func.coalesce(func.sum(rows.c.seconds), 0)).group_by(bucket)
    ):
        summary.buckets[name] = learners
        summary.learners += learners
        summary.seconds += int(seconds)
    summary.met = summary.buckets["met"]
    return summary


# -- (b) attendance per live session and per series -------------------------------------


@dataclass
class Attendance:
    registered: int = 0
    present: int = 0
    late: int = 0
    excused: int = 0
    absent: int = 0

    @property
    def attended(self) -> int:
        return self.present + self.late

    @property
    def rate(self) -> int | None:
        """Attended (present or late, substitutes included) among those attended or absent,
        in percent: absences count against it, excused learners and seats taken by a
        substitute do not count twice; None when nobody is recorded either way."""
        return percent(self.attended, self.attended + self.absent)


@dataclass
class SessionAttendance(Attendance):
    session: LiveSession | None = None


@dataclass
class SeriesAttendance(Attendance):
    series: LiveSeries | None = None
    sessions: int = 0


def _attendance_counts(scope: Scope) -> tuple[Subquery, Subquery]:
    """Subqueries per session: registered learners, and attendance by status."""
    registered = (
        select(Registration.session_id, func.count().label("registered"))
        .join(User, User.id == Registration.user_id)
        .where(Registration.status == "registered", scope.restrict(User.organization_id))
        .group_by(Registration.session_id)
        .subquery("registered")
    )
    statuses = [
        func.count().filter(AttendanceRow.status == status).label(status)
        for status in ("present", "late", "excused", "absent")
    ]
    attended = (
        select(AttendanceRow.session_id, *statuses, func.count().label("rows"))
        .join(User, User.id == AttendanceRow.user_id)
        .where(scope.restrict(User.organization_id))
        .group_by(AttendanceRow.session_id)
        .subquery("attended")
    )
    return registered, attended


def _session_filter(
    scope: Scope,
    start: date,
    end: date,
    camp: Camp | None,
    registered: Subquery,
    attended: Subquery,
) -> list[ColumnElement[bool]]:
    """Scheduled sessions that started in the period — and have started by now: a future
    session is not counted (it would read 0 %), in the tables, the chart and the CSVs."""
    criteria = [
        LiveSession.starts_at >= utc_start(start),
        LiveSession.starts_at < utc_start(end + timedelta(days=1)),
        LiveSession.starts_at <= utcnow(),
        LiveSession.status == "scheduled",
    ]
    if camp is not None:
        criteria.append(LiveSession.camp_id == camp.id)
    if not scope.everyone:  # sessions the organization's staff had to do with
        criteria.append(or_(registered.c.registered > 0, attended.c.rows > 0))
    return criteria


def _count_columns(
    registered: Subquery, attended: Subquery, total: bool = False
) -> list[ColumnElement[Any]]:
    columns = [
        registered.c.registered,
        attended.c.present,
        attended.c.late,
        attended.c.excused,
        attended.c.absent,
    ]
    if total:
        return [func.coalesce(func.sum(column), 0) for column in columns]
    return [func.coalesce(column, 0) for column in columns]


def _counts(counts: list[Any]) -> tuple[int, int, int, int, int]:
    """The five counts of :func:`_count_columns` (registered, present, late, excused,
    absent) as the first fields of an :class:`Attendance`."""
    registered, present, late, excused, absent = (int(n) for n in counts)
    return registered, present, late, excused, absent


def attendance_by_session(
    scope: Scope, start: date, end: date, camp: Camp | None = None
) -> list[SessionAttendance]:
    """Sessions that started between ``start`` and ``end`` (academy days, inclusive), with
    registered learners and attendance by status. One query."""
    registered, attended = _attendance_counts(scope)
    rows = db.session.execute(
        select(LiveSession, *_count_columns(registered, attended))
        .outerjoin(registered, registered.c.session_id == LiveSession.id)
        .outerjoin(attended, attended.c.session_id == LiveSession.id)
        .where(*_session_filter(scope, start, end, camp, registered, attended))
        .options(joinedload(LiveSession.series))
        .order_by(LiveSession.starts_at, LiveSession.id)
    )
    return [SessionAttendance(*_counts(counts), session=session) for session, *counts in rows]


def attendance_by_series(
    scope: Scope, start: date, end: date, camp: Camp | None = None
) -> list[SeriesAttendance]:
    """The same, summed per series over its sessions in the period. One query."""
    registered, attended = _attendance_counts(scope)
    rows = db.session.execute(
        select(
            LiveSeries,
            func.count(LiveSession.id),
            *_count_columns(registered, attended, total=True),
        )
        .join(LiveSession, LiveSession.series_id == LiveSeries.id)
        .outerjoin(registered, registered.c.session_id == LiveSession.id)
        .outerjoin(attended, attended.c.session_id == LiveSession.id)
        .where(*_session_filter(scope, start, end, camp, registered, attended))
        .group_by(LiveSeries.id)
        .order_by(LiveSeries.id)
    )
    return [
        SeriesAttendance(*_counts(counts), series=series, sessions=int(sessions))
        for series, sessions, *counts in rows
    ]


# -- (c) completion per camp and per course ---------------------------------------------


@dataclass
class Completion:
    enrolled: int = 0
    completed: int = 0

    @property
    def rate(self) -> int | None:
        return percent(self.completed, self.enrolled)


@dataclass
class CourseCompletion(Completion):
    course: Course | None = None


@dataclass
class CampCompletion(Completion):
    camp: Camp | None = None
    courses: int = 0


def _enrollment_counts(scope: Scope, start: date | None, end: date | None) -> Subquery:
    query = (
        select(
            Enrollment.course_id,
            func.count().label("enrolled"),
            func.count().filter(Enrollment.completed_at.is_not(None)).label("completed"),
        )
        .join(User, User.id == Enrollment.user_id)
        .where(Enrollment.status != "withdrawn", scope.restrict(User.organization_id))
        .group_by(Enrollment.course_id)
    )
    if start is not None:
        query = query.where(Enrollment.enrolled_at >= utc_start(start))
    if end is not None:
        query = query.where(Enrollment.enrolled_at < utc_start(end + timedelta(days=1)))
    return query.subquery("enrolled")


def _course_filter(camp: Camp | None, counts: Subquery) -> list[ColumnElement[bool]]:
    """Published courses, and any other course someone of the scope is enrolled in."""
    criteria = [
        or_(
            and_(Course.status == "published", Course.archived_at.is_(None)),
            counts.c.enrolled > 0,
        )
    ]
    if camp is not None:
        criteria.append(Course.camp_id == camp.id)
    return criteria


def completion_by_course(
    scope: Scope, camp: Camp | None = None, start: date | None = None, end: date | None = None
) -> list[CourseCompletion]:
    """Per course: learners of the scope enrolled (not withdrawn) and completed; with a
    period, only enrollments made in it. One query."""
    counts = _enrollment_counts(scope, start, end)
    rows = db.session.execute(
        select(
            Course,
            func.coalesce(counts.c.enrolled, 0),
            func.coalesce(counts.c.completed, 0),
        )
        .join(Camp, Camp.id == Course.camp_id)
        .outerjoin(counts, counts.c.course_id == Course.id)
        .where(*_course_filter(camp, counts))
        .options(contains_eager(Course.camp))
        .order_by(Camp.position, Camp.id, Course.position, Course.id)
    )
    return [
        CourseCompletion(int(enrolled), int(completed), course=course)
        for course, enrolled, completed in rows
    ]


def completion_by_camp(
    scope: Scope, camp: Camp | None = None, start: date | None = None, end: date | None = None
) -> list[CampCompletion]:
    """The same, summed per camp. One query."""
    counts = _enrollment_counts(scope, start, end)
    rows = db.session.execute(
        select(
            Camp,
            func.count(Course.id),
            func.coalesce(func.sum(counts.c.enrolled), 0),
            func.coalesce(func.sum(counts.c.completed), 0),
        )
        .join(Course, Course.camp_id == Camp.id)
        .outerjoin(counts, counts.c.course_id == Course.id)
        .where(*_course_filter(camp, counts))
        .group_by(Camp.id)
        .order_by(Camp.position, Camp.id)
    )
    return [
        CampCompletion(int(enrolled), int(completed), camp=found, courses=int(courses))
        for found, courses, enrolled, completed in rows
    ]


# -- (d) overdue assignments ------------------------------------------------------------


@dataclass(frozen=True)
class Overdue:
    user: User
    organization: str
    assignment: Assignment

    @property
    def days(self) -> int:
        return (plans.today() - self.assignment.due_on).days


def _overdue_statuses(
    scope: Scope, camp: Camp | None, start: date | None, end: date | None
) -> Subquery:
    criteria = [Assignment.cancelled_at.is_(None), scope.restrict(Assignment.organization_id)]
    if camp is not None:
        in_camp = select(Course.id).where(Course.camp_id == camp.id)
        criteria.append(or_(Assignment.camp_id == camp.id, Assignment.course_id.in_(in_camp)))
    if start is not None:
        criteria.append(Assignment.due_on >= start)
    if end is not None:
        criteria.append(Assignment.due_on <= end)
    return plans.statuses(*criteria)


def overdue(
    scope: Scope,
    camp: Camp | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> list[Overdue]:
    """Learners late on an assignment (not cancelled, due before today, not done), the
    longest overdue first. One query."""
    found = _overdue_statuses(scope, camp, start, end)
    query = (
        select(User, func.coalesce(Organization.name, ""), Assignment)
        .join(found, found.c.user_id == User.id)
        .join(Assignment, Assignment.id == found.c.assignment_id)
        .outerjoin(Organization, Organization.id == Assignment.organization_id)
        .where(found.c.status == "late")
        .options(*plans.subject_loads())
        .order_by(Assignment.due_on, Organization.name, User.name, User.id, Assignment.id)
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [
        Overdue(user, organization, assignment)
        for user, organization, assignment in db.session.execute(query)
    ]


def overdue_count(
    scope: Scope, camp: Camp | None = None, start: date | None = None, end: date | None = None
) -> int:
    found = _overdue_statuses(scope, camp, start, end)
    return db.session.scalars(
        select(func.count()).select_from(found).where(found.c.status == "late")
    ).one()


# -- (e) hours per learner and month: the twelve-month grid ----------------------------

GRID_MONTHS = 12


def grid_months(last: date, count: int = GRID_MONTHS) -> list[date]:
    """The first days of the ``count`` months that end with ``last``'s, oldest first."""
    first = last.replace(day=1)
    return [first - relativedelta(months=count - 1 - index) for index in range(count)]


def share_bucket(seconds: int, target: int) -> str:
    """Which of :data:`HOUR_BUCKETS` ``seconds`` in a month reach of a ``target`` in hours
    (the grid's colour; the same thresholds as :func:`hours_summary`'s distribution)."""
    goal = target * 3600
    if seconds >= goal:
        return "met"
    if seconds <= 0:
        return "none"
    for bucket, share in (("under_25", 0.25), ("under_50", 0.5), ("under_75", 0.75)):
        if seconds < goal * share:
            return bucket
    return "under_100"


def _hours(seconds: int) -> float:
    return round(max(0, seconds) / 3600, 1)


@dataclass(frozen=True)
class GridRow:
    """One learner's verified time in each month of the grid, against their target."""

    user_id: int
    name: str
    email: str
    organization: str
    organization_id: int | None
    target: int  # hours a month
    seconds: tuple[int, ...]  # one per month, oldest first

    @property
    def hours(self) -> list[float]:
        return [_hours(value) for value in self.seconds]

    @property
    def total(self) -> float:
        return _hours(sum(max(0, value) for value in self.seconds))

    @property
    def buckets(self) -> list[str]:
        return [share_bucket(value, self.target) for value in self.seconds]


@dataclass(frozen=True)
class HoursGrid:
    """Learners × months: a page of rows, and the totals of every learner of the scope."""

    months: list[date]
    rows: list[GridRow]
    month_seconds: tuple[int, ...]  # per month, every learner of the scope
    learners: int

    @property
    def month_hours(self) -> list[float]:
        return [_hours(value) for value in self.month_seconds]

    @property
    def total(self) -> float:
        return _hours(sum(self.month_seconds))


def hours_grid(
    scope: Scope,
    last_month: date,
    camp: Camp | None = None,
    *,
    limit: int | None = None,
    offset: int = 0,
) -> HoursGrid:
    """Each learner's verified time in each of the twelve months ending with
    ``last_month``, in the order of :func:`monthly_hours`, and the months' totals over
    every learner of the scope. Two queries, whatever the number of learners and months."""
    months = grid_months(last_month)
    following = [*months[1:], months[-1] + relativedelta(months=1)]
    day, seconds = TrainingTime.day, TrainingTime.seconds
    sums = {
        f"m{index}": func.sum(case((and_(day >= start, day < end), seconds), else_=0))
        for index, (start, end) in enumerate(zip(months, following, strict=True))
    }
    per_learner = _per_learner(scope, camp, months, sums)
    query = per_learner.order_by(
        User.organization_id.is_(None), Organization.name, User.name, User.id
    )
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = [
        GridRow(
            row.user_id,
            row.name,
            row.email,
            row.organization,
            row.organization_id,
            row.target,
            tuple(int(row[f"m{index}"]) for index in range(len(months))),
        )
        for row in db.session.execute(query).mappings()
    ]
    every = per_learner.subquery("per_learner")
    totals = db.session.execute(
        select(
            func.count(),
            *(
                func.coalesce(func.sum(case((every.c[name] > 0, every.c[name]), else_=0)), 0)
                for name in sums
            ),
        )
    ).one()
    return HoursGrid(months, rows, tuple(int(value) for value in totals[1:]), int(totals[0]))


# -- what the filters offer --------------------------------------------------------------


def filter_camps() -> list[Camp]:
    """Every camp, in the catalog's order: the camp filter's choices."""
    return list(db.session.scalars(select(Camp).order_by(Camp.position, Camp.id)))


def filter_organizations() -> list[Organization]:
    """Every organization by name: the organization filter's choices (organizers')."""
    return list(db.session.scalars(select(Organization).order_by(Organization.name)))


def find_camp(camp_id: int) -> Camp | None:
    return db.session.get(Camp, camp_id)


def find_organization(organization_id: int) -> Organization | None:
    return db.session.get(Organization, organization_id)
