"""Training plans: courses or whole camps assigned to staff or staff groups, with due dates.

Who an assignment covers is computed, never stored: its learner, or whoever is in its group
now (a ``UNION`` of the direct rows and the group members, in SQL), always limited to the
staff of the assignment's organization. The status of each (assignment, learner) is computed
by the database in the same query:

* ``done`` — course: the enrollment is completed; camp: every published, non-archived course
  of the camp is completed (a camp without such a course is never done). ``done_at`` is the
  completion (the last one for a camp) and ``done_late`` whether it came after the due day.
* ``late`` — not done and the due day has passed (in the academy's time zone).
* ``on_track`` — not done, due today or later.

Every function runs a fixed number of queries, whatever the number of learners.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Date, Select, and_, bindparam, case, cast, func, literal, or_, select, union
from sqlalchemy.orm import aliased, joinedload
from sqlalchemy.orm.interfaces import LoaderOption
from sqlalchemy.sql import ColumnElement, Subquery
from sqlalchemy.sql.elements import BindParameter

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
from lms.models._base import academy_timezone, utcnow
from lms.services import loading, people
from lms.services.camps import visible_camps
from lms.services.errors import Invalid
from lms.services.hours import local_day

STATUSES = ("done", "on_track", "late")


class PlanError(Invalid):
    """An assignment the rules refuse; the message is shown."""


def today() -> date:
    return local_day(utcnow())


def local_date(moment: ColumnElement[datetime]) -> ColumnElement[date]:
    """SQL: the academy's calendar day of a UTC timestamp column."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(academy_timezone(), moment), Date)
    # SQLite has no zone database: lms.database gives each connection this function, which
    # converts with Python's (daylight-saving time included).
    return func.lms_local_date(moment, academy_timezone())


def _published_course() -> ColumnElement[bool]:
    return and_(Course.status == "published", Course.archived_at.is_(None))


def assignees(
    *criteria: ColumnElement[bool], user_id: int | BindParameter[int] | None = None
) -> Subquery:
    """(assignment_id, user_id): the learners each assignment covers now.

    ``criteria`` filter the assignments; ``user_id`` keeps one learner's rows only. The
    organization check drops people who left the organization (or a group of another one).
    """
    direct = select(Assignment.id.label("assignment_id"), Assignment.user_id).where(
        Assignment.user_id.is_not(None), *criteria
    )
    grouped = (
        select(Assignment.id, StaffGroupMember.user_id)
        .join(StaffGroupMember, StaffGroupMember.group_id == Assignment.group_id)
        .where(*criteria)
    )
    if user_id is not None:
        direct = direct.where(Assignment.user_id == user_id)
        grouped = grouped.where(StaffGroupMember.user_id == user_id)
    pairs = union(direct, grouped).subquery("pairs")
    member = aliased(User)
    plan = aliased(Assignment)
    return (
        select(pairs.c.assignment_id, pairs.c.user_id)
        .join(plan, plan.id == pairs.c.assignment_id)
        .join(member, member.id == pairs.c.user_id)
        .where(or_(plan.organization_id.is_(None), member.organization_id == plan.organization_id))
        .subquery("assignees")
    )


def statuses(
    *criteria: ColumnElement[bool],
    user_id: int | BindParameter[int] | None = None,
    on: date | BindParameter[date] | None = None,
) -> Subquery:
    """Subquery: assignment_id, user_id, due_on, done_at, done_late, status — one row per
    (assignment, learner) of the assignments ``criteria`` select."""
    on = today() if on is None else on
    pairs = assignees(*criteria, user_id=user_id)
    camp_courses = (
        select(Course.camp_id, func.count(Course.id).label("courses"))
        .where(_published_course())
        .group_by(Course.camp_id)
        .subquery("camp_courses")
    )
    camp_done = (
        select(
            Enrollment.user_id,
            Course.camp_id,
            func.count(Enrollment.id).label("completed"),
            func.max(Enrollment.completed_at).label("last"),
        )
        .join(Course, Course.id == Enrollment.course_id)
        .where(
            Enrollment.completed_at.is_not(None),
            _published_course(),
            Enrollment.user_id.in_(select(pairs.c.user_id)),
        )
        .group_by(Enrollment.user_id, Course.camp_id)
        .subquery("camp_done")
    )
    done_at = case(
        (Assignment.course_id.is_not(None), Enrollment.completed_at),
        (
            and_(camp_courses.c.courses > 0, camp_done.c.completed >= camp_courses.c.courses),
            camp_done.c.last,
        ),
        else_=None,
    ).label("done_at")
    progress = (
        select(pairs.c.assignment_id, pairs.c.user_id, Assignment.due_on, done_at)
        .join(Assignment, Assignment.id == pairs.c.assignment_id)
        .outerjoin(
            Enrollment,
            and_(
                Enrollment.user_id == pairs.c.user_id,
                Enrollment.course_id == Assignment.course_id,
            ),
        )
        .outerjoin(camp_courses, camp_courses.c.camp_id == Assignment.camp_id)
        .outerjoin(
            camp_done,
            and_(
                camp_done.c.user_id == pairs.c.user_id,
                camp_done.c.camp_id == Assignment.camp_id,
            ),
        )
        .subquery("progress")
    )
    return select(
        progress.c.assignment_id,
        progress.c.user_id,
        progress.c.due_on,
        progress.c.done_at,
        case(
            (
                and_(
                    progress.c.done_at.is_not(None),
                    local_date(progress.c.done_at) > progress.c.due_on,
                ),
                True,
            ),
            else_=False,
        ).label("done_late"),
        case(
            (progress.c.done_at.is_not(None), literal("done")),
            (progress.c.due_on < on, literal("late")),
            else_=literal("on_track"),
        ).label("status"),
    ).subquery("statuses")


# -- creating and cancelling ------------------------------------------------------------


def organization_for(viewer: User, organization_id: int) -> Organization | None:
    """The organization whose plan ``viewer`` may manage (an organizer's any, a manager's
    own); None for any other, and for one that does not exist."""
    if people.scope_for(viewer, organization_id) is None:
        return None
    return db.session.get(Organization, organization_id)


def staff_of(organization_id: int) -> list[User]:
    """The active staff of an organization, by name: whom a manager may assign to."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.organization_id == organization_id, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def groups_of(organization_id: int) -> list[StaffGroup]:
    return list(
        db.session.scalars(
            select(StaffGroup)
            .where(StaffGroup.organization_id == organization_id)
            .order_by(StaffGroup.name)
        )
    )


@dataclass
class Subjects:
    """What may be assigned: enabled camps, and their published courses."""

    camps: list[Camp]
    courses: list[Course]


def subjects() -> Subjects:
    camps = visible_camps()
    courses = list(
        db.session.scalars(
            select(Course)
            .where(Course.camp_id.in_([camp.id for camp in camps]), _published_course())
            .order_by(Course.camp_id, Course.position, Course.id)
        )
    )
    order = {camp.id: index for index, camp in enumerate(camps)}
    courses.sort(key=lambda course: (order[course.camp_id], course.position, course.id))
    by_id = {camp.id: camp for camp in camps}
    for course in courses:  # the form names each course with its camp
        loading.set_loaded(course, "camp", by_id[course.camp_id])
    return Subjects(camps, courses)


def assign(
    organization_id: int,
    by: User,
    *,
    due_on: date,
    note: str = "",
    user_id: int | None = None,
    group_id: int | None = None,
    course_id: int | None = None,
    camp_id: int | None = None,
) -> Assignment:
    """Add an assignment to an organization's plan; raises :class:`PlanError`. Commits."""
    if (user_id is None) == (group_id is None):
        raise PlanError(_("Choose one staff member or one group."))
    if (course_id is None) == (camp_id is None):
        raise PlanError(_("Choose one course or one camp."))
    if due_on < today():
        raise PlanError(_("The due date is in the past."))
    if user_id is not None:
        person = db.session.get(User, user_id)
        if person is None or person.organization_id != organization_id or not person.active:
            raise PlanError(_("This person is not on the organization's staff."))
    if group_id is not None:
        group = db.session.get(StaffGroup, group_id)
        if group is None or group.organization_id != organization_id:
            raise PlanError(_("This group does not belong to the organization."))
    visible = {camp.id for camp in visible_camps()}
    if course_id is not None:
        course = db.session.get(Course, course_id)
        if course is None or not course.is_published or course.camp_id not in visible:
            raise PlanError(_("This course cannot be assigned."))
    if camp_id is not None and camp_id not in visible:
        raise PlanError(_("This camp cannot be assigned."))
    assignment = Assignment(
        organization_id=organization_id,
        user_id=user_id,
        group_id=group_id,
        course_id=course_id,
        camp_id=camp_id,
        due_on=due_on,
        note=note.strip()[:200],
        assigned_by_id=by.id,
    )
    db.session.add(assignment)
    db.session.commit()
    return assignment


def find(organization_id: int, assignment_id: int) -> Assignment | None:
    """The organization's assignment with this id; another organization's is None."""
    return db.session.scalar(
        select(Assignment)
        .where(Assignment.id == assignment_id, Assignment.organization_id == organization_id)
        .options(*subject_loads())
    )


def cancel(assignment: Assignment) -> bool:
    """Mark the assignment cancelled (the row stays); False when it already was. Commits."""
    if assignment.cancelled_at is not None:
        return False
    assignment.cancelled_at = utcnow()
    db.session.commit()
    return True


# -- reading ----------------------------------------------------------------------------


def subject_loads() -> list[LoaderOption]:
    """What a plan page shows of an assignment: its course or camp, and whom it is for."""
    return [*learner_loads(), joinedload(Assignment.user), joinedload(Assignment.group)]


def learner_loads() -> list[LoaderOption]:
    """What a learner's own list shows of an assignment (``plans/_mine.html``): its course
    (with the camp) or its camp — not whom it is for, which is the learner or their group."""
    return [joinedload(Assignment.course).joinedload(Course.camp), joinedload(Assignment.camp)]


@dataclass
class PlanItem:
    """An assignment with its counts of learners per status."""

    assignment: Assignment
    assigned_by: str | None
    learners: int = 0
    done: int = 0
    done_late: int = 0
    on_track: int = 0
    late: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.learners) if self.learners else 0


def plan(organization_id: int) -> list[PlanItem]:
    """The organization's assignments, soonest due first (cancelled ones last), with counts.

    Two queries: the assignments, and the counts grouped by assignment.
    """
    by = aliased(User)
    rows = db.session.execute(
        select(Assignment, by.name)
        .outerjoin(by, by.id == Assignment.assigned_by_id)
        .where(Assignment.organization_id == organization_id)
        .options(*subject_loads())
        .order_by(Assignment.cancelled_at.is_not(None), Assignment.due_on, Assignment.id)
    ).all()
    items = {assignment.id: PlanItem(assignment, name) for assignment, name in rows}
    if not items:
        return []
    found = statuses(Assignment.organization_id == organization_id)
    counts = db.session.execute(
        select(
            found.c.assignment_id,
            func.count(),
            func.count().filter(found.c.status == "done"),
            func.count().filter(found.c.done_late.is_(True)),
            func.count().filter(found.c.status == "on_track"),
            func.count().filter(found.c.status == "late"),
        ).group_by(found.c.assignment_id)
    )
    for assignment_id, learners, done, done_late, on_track, late in counts:
        item = items[assignment_id]
        item.learners, item.done, item.done_late = learners, done, done_late
        item.on_track, item.late = on_track, late
    return list(items.values())


@dataclass
class LearnerStatus:
    user: User
    status: str
    done_at: datetime | None
    done_late: bool

    @property
    def done_on(self) -> date | None:
        return local_day(self.done_at) if self.done_at else None


def learners(assignment: Assignment) -> list[LearnerStatus]:
    """Everyone an assignment covers, with their status, by name (one query)."""
    found = statuses(Assignment.id == assignment.id)
    rows = db.session.execute(
        select(User, found.c.status, found.c.done_at, found.c.done_late)
        .join(found, found.c.user_id == User.id)
        .order_by(User.name, User.id)
    )
    return [
        LearnerStatus(user, status, done_at, bool(late)) for user, status, done_at, late in rows
    ]


@dataclass
class MyAssignment:
    assignment: Assignment
    status: str
    done_at: datetime | None
    done_late: bool

    @property
    def done_on(self) -> date | None:
        return local_day(self.done_at) if self.done_at else None

    @property
    def course(self) -> Course | None:
        return self.assignment.course

    @property
    def camp(self) -> Camp | None:
        return self.assignment.camp or (self.course.camp if self.course else None)

    @property
    def available(self) -> bool:
        """Can the learner open it (a published course of an enabled camp)?"""
        camp = self.camp
        if camp is None or not camp.enabled:
            return False
        return self.course is None or self.course.is_published


def for_learner(user: User) -> list[MyAssignment]:
    """The learner's open assignments (not cancelled): late first, then by due date."""
    found = statuses(Assignment.cancelled_at.is_(None), user_id=user.id)
    order = case((found.c.status == "late", 0), (found.c.status == "on_track", 1), else_=2)
    rows = db.session.execute(
        select(Assignment, found.c.status, found.c.done_at, found.c.done_late)
        .join(found, found.c.assignment_id == Assignment.id)
        .where(found.c.user_id == user.id)
        .options(*learner_loads())
        .order_by(order, Assignment.due_on, Assignment.id)
    ).all()
    return [MyAssignment(a, status, done_at, bool(late)) for a, status, done_at, late in rows]


# The dashboard's first assignments of a learner: the statement above built once per database
# and time zone, with the learner, the day and the number shown as parameters (the dashboard
# runs it on every visit; building it is most of its cost).
_FIRST_FOR_LEARNER: dict[tuple[str, str], Select[Assignment, Any, Any, Any]] = {}


def _first_for_learner_statement() -> Select[Assignment, Any, Any, Any]:
    slot = (db.session.get_bind().dialect.name, academy_timezone())
    statement = _FIRST_FOR_LEARNER.get(slot)
    if statement is None:
        user_id: BindParameter[int] = bindparam("user_id")
        on: BindParameter[date] = bindparam("on")
        found = statuses(Assignment.cancelled_at.is_(None), user_id=user_id, on=on)
        order = case((found.c.status == "late", 0), (found.c.status == "on_track", 1), else_=2)
        statement = _FIRST_FOR_LEARNER[slot] = (
            select(Assignment, found.c.status, found.c.done_at, found.c.done_late)
            .join(found, found.c.assignment_id == Assignment.id)
            .where(found.c.user_id == user_id)
            .options(*learner_loads())
            .order_by(order, Assignment.due_on, Assignment.id)
            .limit(bindparam("shown"))
        )
    return statement


def first_for_learner(user: User, shown: int) -> list[MyAssignment]:
    """The first ``shown`` of :func:`for_learner`'s assignments, in its order."""
    rows = db.session.execute(
        _first_for_learner_statement(), {"user_id": user.id, "on": today(), "shown": shown}
    ).all()
    return [MyAssignment(a, status, done_at, bool(late)) for a, status, done_at, late in rows]
