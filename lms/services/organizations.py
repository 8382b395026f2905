"""Organizations: the companies of the park, their managers and who is on their staff.

Their staff's month (:mod:`lms.services.staff`), staff groups
(:mod:`lms.services.staff_groups`), invite links (:mod:`lms.services.invites`) and
one-time set-password links (:mod:`lms.services.account_tokens`) have modules of their own.

Who may act is decided by the views with :mod:`lms.services.people` (organizers everywhere,
a manager only in their own organization); the functions here take an organization that
was already found for the viewer and keep every id they are given inside it, so an id of
another organization's member is :class:`~lms.services.errors.NotFound`, exactly like an
unknown one.

Functions that write say whether they commit. A refusal raises a
:class:`~lms.services.errors.DomainError` and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from lms.database import rowcount
from lms.extensions import db
from lms.models import Assignment, Organization, StaffGroup, StaffGroupMember, User
from lms.models._base import utcnow
from lms.services import accounts, audit, loading
from lms.services.errors import Conflict, Forbidden, Invalid, NotFound
from lms.services.people import scope_for
from lms.services.text import clean_name, control_characters

MAX_TARGET_HOURS = 744  # every hour of a 31-day month
ORGANIZATION_NAME_LENGTH = 200
CONTROL = control_characters(keep_line_breaks=False)


def checked_name(name: str, limit: int) -> str:
    """A name as organizations and their groups keep it; :class:`Invalid` when empty, too
    long or with control characters."""
    name = clean_name(name or "")  # no bidi or invisible characters: "Acme" is taken
    if not name:
        raise Invalid(_("Enter a name."))
    if len(name) > limit:
        raise Invalid(_("Use at most %(limit)d characters.", limit=limit))
    if CONTROL.search(name):
        raise Invalid(_("Remove control characters."))
    return name


# -- finding ---------------------------------------------------------------------------


def find_organization(viewer: User, organization_id: int) -> Organization | None:
    """The organization ``viewer`` may manage: any for organizers, their own for managers.

    None for unknown and forbidden ids alike.
    """
    if scope_for(viewer, organization_id) is None:
        return None
    return db.session.get(Organization, organization_id)


def default_target() -> int:
    return int(current_app.config["MONTHLY_TARGET_HOURS"])


def target_of(organization: Organization) -> int:
    """The monthly target of the organization's staff (the academy's default when unset)."""
    if organization.monthly_target_hours is not None:
        return organization.monthly_target_hours
    return default_target()


# -- organizers: organizations and managers --------------------------------------------


@dataclass(frozen=True)
class OrganizationRow:
    organization: Organization
    staff: int
    managers: list[User]


def organization_rows() -> list[OrganizationRow]:
    """Every organization with its staff count and managers, by name (two queries)."""
    counts = (
        select(User.organization_id, func.count(User.id).label("staff"))
        .where(User.organization_id.is_not(None))
        .group_by(User.organization_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Organization, func.coalesce(counts.c.staff, 0))
        .outerjoin(counts, counts.c.organization_id == Organization.id)
        .order_by(Organization.name, Organization.id)
    ).all()
    managers: dict[int | None, list[User]] = {}
    for manager in db.session.scalars(
        select(User)
        .where(User.is_manager.is_(True), User.organization_id.is_not(None))
        .order_by(User.name, User.id)
    ):
        managers.setdefault(manager.organization_id, []).append(manager)
    return [
        OrganizationRow(organization, int(staff), managers.get(organization.id, []))
        for organization, staff in rows
    ]


def _check_name_free(name: str, exclude_id: int | None = None) -> None:
    query = select(Organization.id).where(func.lower(Organization.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Organization.id != exclude_id)
    if db.session.scalar(query.limit(1)) is not None:
        raise Conflict(_("An organization with this name exists already."))


def _check_target(target: int | None) -> int | None:
    if target is not None and not 0 <= target <= MAX_TARGET_HOURS:
        raise Invalid(_("Enter a number of hours from 0 to %(max)d.", max=MAX_TARGET_HOURS))
    return target


def commit_or_conflict(message: str) -> None:
    """Commit; a unique constraint the checks before could not see (a concurrent save) is a
    :class:`Conflict` with ``message``, and nothing is kept."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(message) from exc


def create_organization(name: str, monthly_target_hours: int | None = None) -> Organization:
    """A new organization. Raises :class:`Conflict` for a taken name (any case). Commits."""
    name = checked_name(name, ORGANIZATION_NAME_LENGTH)
    _check_name_free(name)
    organization = Organization(name=name, monthly_target_hours=_check_target(monthly_target_hours))
    db.session.add(organization)
    commit_or_conflict(_("An organization with this name exists already."))
    return organization


def rename_organization(organization: Organization, name: str) -> None:
    """Raises :class:`Conflict` for a name another organization has. Commits."""
    name = checked_name(name, ORGANIZATION_NAME_LENGTH)
    _check_name_free(name, exclude_id=organization.id)
    organization.name = name
    commit_or_conflict(_("An organization with this name exists already."))


def set_target(organization: Organization, monthly_target_hours: int | None) -> None:
    """Set the staff's monthly target in hours (0–744), or None for the academy's. Commits."""
    organization.monthly_target_hours = _check_target(monthly_target_hours)
    db.session.commit()


def members(organization: Organization) -> list[User]:
    return list(
        db.session.scalars(
            select(User).where(User.organization_id == organization.id).order_by(User.name, User.id)
        )
    )


def member(organization: Organization, user_id: int) -> User:
    """The member of the organization with this id; :class:`NotFound` for anyone else."""
    person = db.session.scalar(
        select(User).where(User.id == user_id, User.organization_id == organization.id)
    )
    if person is None:
        raise NotFound()
    return person


def add_member(organization: Organization, email: str) -> tuple[User, bool]:
    """Put an existing account into the organization; returns it and whether it joined now.

    Refuses an unknown e-mail (:class:`Invalid`) and an account of another organization
    (:class:`Conflict`). Commits.
    """
    person = db.session.scalar(select(User).filter_by(email=accounts.normalise_email(email or "")))
    if person is None:
        raise Invalid(_("No account has this e-mail address."))
    if person.organization_id == organization.id:
        return person, False
    elsewhere = loading.load(person, "organization")  # no query when the account has none
    if elsewhere is not None:
        raise Conflict(
            _(
                "This account belongs to %(org)s. To move it here, use that organization's page.",
                org=elsewhere.name,
            )
        )
    join(organization, person.id, _("This account belongs to another organization."))
    db.session.commit()
    return person, True


def join(organization: Organization, user_id: int, refusal: str) -> None:
    """Put an account that has no organization into ``organization``. A conditional UPDATE,
    so an account that joined another one meanwhile is refused (rollback, ``Conflict``).
    No commit."""
    joined = db.session.execute(
        update(User)
        .where(User.id == user_id, User.organization_id.is_(None))
        .values(organization_id=organization.id)
        .execution_options(synchronize_session=False)
    )
    if rowcount(joined) != 1:
        db.session.rollback()
        raise Conflict(refusal)


def set_manager(organization: Organization, user_id: int, manager: bool) -> User:
    """Appoint a member as a manager of the organization, or end it. Commits."""
    person = member(organization, user_id)
    changed, user_id, organization_id = person.is_manager != manager, person.id, organization.id
    person.is_manager = manager
    db.session.commit()
    if changed:
        event = "manager_appointed" if manager else "manager_dismissed"
        audit.event(event, user=user_id, org=organization_id)
    return person


# -- leaving and moving ------------------------------------------------------------


def remove_from_organization(organization: Organization, user_id: int, *, by: User) -> User:
    """Take a person off the staff: they keep their account and records and leave the
    organization (see :func:`leave`). Nobody removes themselves here, and only organizers
    remove a manager. Commits."""
    person = member(organization, user_id)
    if person.id == by.id:
        raise Invalid(_("You cannot remove yourself from the organization."))
    if person.is_manager and not by.is_organizer:
        raise Forbidden(_("Only an organizer can remove a manager."))
    leave(organization, person, None)
    db.session.commit()
    return person


def leave(organization: Organization, person: User, destination: int | None) -> int:
    """``person`` leaves ``organization`` for ``destination`` (None: no organization): out
    of its groups, no longer its manager, and its open assignments made to them alone are
    cancelled (the rows stay in its plan for the record; group assignments stop covering
    them by themselves). The conditional UPDATE refuses (rollback, ``Conflict``) a person
    who left meanwhile. Returns how many assignments were cancelled. No commit."""
    group_ids = select(StaffGroup.id).where(StaffGroup.organization_id == organization.id)
    db.session.execute(
        delete(StaffGroupMember).where(
            StaffGroupMember.user_id == person.id, StaffGroupMember.group_id.in_(group_ids)
        )
    )
    cancelled = rowcount(
        db.session.execute(
            update(Assignment)
            .where(
                Assignment.organization_id == organization.id,
                Assignment.user_id == person.id,
                Assignment.cancelled_at.is_(None),
            )
            .values(cancelled_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    )
    left = db.session.execute(
        update(User)
        .where(User.id == person.id, User.organization_id == organization.id)
        .values(organization_id=destination, is_manager=False)
        .execution_options(synchronize_session=False)
    )
    if rowcount(left) != 1:
        db.session.rollback()
        raise Conflict(_("The account changed meanwhile. Try again."))
    db.session.expire(person)
    return cancelled


def other_organizations(organization: Organization) -> list[Organization]:
    """Every organization but this one, by name: where its members may be moved."""
    return list(
        db.session.scalars(
            select(Organization)
            .where(Organization.id != organization.id)
            .order_by(Organization.name, Organization.id)
        )
    )


def move_member(source: Organization, user_id: int, target_id: int, *, by: User) -> User:
    """An organizer moves a member of ``source`` to another organization, as
    :func:`leave` says: their account, enrollments, hours, certificates and archive go with
    them; ``source``'s managers no longer see them, the target's managers do. An unknown
    target is :class:`NotFound`; ``source`` itself is refused. Audited. Commits."""
    if not by.is_organizer:
        raise Forbidden(_("Only an organizer can move an account between organizations."))
    person = member(source, user_id)
    target = db.session.get(Organization, target_id)
    if target is None:
        raise NotFound()
    if target.id == source.id:
        raise Invalid(_("Choose another organization."))
    was_manager = person.is_manager
    cancelled = leave(source, person, target.id)
    db.session.commit()
    audit.event(
        "account_moved",
        user=person.id,
        from_org=source.id,
        to_org=target.id,
        was_manager=was_manager,
        assignments_cancelled=cancelled,
    )
    loading.set_loaded(person, "organization", target)  # the page names it
    return person
