"""Organizations: the companies of the park, their managers, staff, groups and invite links
(one-time set-password links are in :mod:`lms.services.account_tokens`).

Who may act is decided by the views with :mod:`lms.services.people` (organizers everywhere,
a manager only in their own organization); the functions here take an organization that
was already found for the viewer and keep every id they are given inside it, so an id of
another organization's group, invite or member is :class:`NotFound`, exactly like an
unknown one.

Functions that write say whether they commit. A refusal raises an
:class:`OrganizationError` (its ``status`` is the HTTP answer) and writes nothing.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from lms.database import insert_ignoring_conflicts
from lms.extensions import db
from lms.models import (
    Assignment,
    Invite,
    Organization,
    StaffGroup,
    StaffGroupMember,
    TrainingTime,
    User,
)
from lms.models._base import utcnow
from lms.services import accounts, audit, hours
from lms.services.account_tokens import has_password
from lms.services.people import scope_for
from lms.services.quiz import records as quiz_records
from lms.services.quiz.records import QuizSummary
from lms.services.text import clean_name

MAX_TARGET_HOURS = 744  # every hour of a 31-day month
ORGANIZATION_NAME_LENGTH = 200
GROUP_NAME_LENGTH = 100
INVITE_DAYS = (1, 90, 14)  # min, max, default
INVITE_USES = (1, 500, 50)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class OrganizationError(Exception):
    """A refusal with a message for the person who asked; ``status`` is the HTTP status."""

    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(OrganizationError):
    """Unknown, or not in this organization: the same answer for both."""

    status = 404


class Conflict(OrganizationError):
    """Clashes with what exists: a taken name, an account of another organization."""

    status = 409


class Refused(OrganizationError):
    """Allowed to see, not to do."""

    status = 403


def _clean_name(name: str, limit: int) -> str:
    name = clean_name(name or "")  # no bidi or invisible characters: "Acme" is taken
    if not name:
        raise OrganizationError(_("Enter a name."))
    if len(name) > limit:
        raise OrganizationError(_("Use at most %(limit)d characters.", limit=limit))
    if CONTROL.search(name):
        raise OrganizationError(_("Remove control characters."))
    return name


# -- finding ---------------------------------------------------------------------------


def find_organization(viewer: User, organization_id: int) -> Organization | None:
    """The organization ``viewer`` may manage: any for organizers, their own for managers.

    None for unknown and forbidden ids alike.
    """
    if scope_for(viewer, organization_id) is None:
        return None
    return db.session.get(Organization, organization_id)


def managed_organization_id(viewer: User) -> int | None:
    """The organization whose pages the navigation offers a manager (None for others)."""
    if viewer.is_authenticated and viewer.is_manager and viewer.organization_id is not None:
        return viewer.organization_id
    return None


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
        db.select(User.organization_id, func.count(User.id).label("staff"))
        .where(User.organization_id.is_not(None))
        .group_by(User.organization_id)
        .subquery()
    )
    rows = db.session.execute(
        db.select(Organization, func.coalesce(counts.c.staff, 0))
        .outerjoin(counts, counts.c.organization_id == Organization.id)
        .order_by(Organization.name, Organization.id)
    ).all()
    managers: dict[int, list[User]] = {}
    for manager in db.session.scalars(
        db.select(User)
        .where(User.is_manager.is_(True), User.organization_id.is_not(None))
        .order_by(User.name, User.id)
    ):
        managers.setdefault(manager.organization_id, []).append(manager)
    return [
        OrganizationRow(organization, int(staff), managers.get(organization.id, []))
        for organization, staff in rows
    ]


def _check_name_free(name: str, exclude_id: int | None = None) -> None:
    query = db.select(Organization.id).where(func.lower(Organization.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Organization.id != exclude_id)
    if db.session.scalar(query.limit(1)) is not None:
        raise Conflict(_("An organization with this name exists already."))


def _check_target(target: int | None) -> int | None:
    if target is not None and not 0 <= target <= MAX_TARGET_HOURS:
        raise OrganizationError(
            _("Enter a number of hours from 0 to %(max)d.", max=MAX_TARGET_HOURS)
        )
    return target


def _commit_or_conflict(message: str) -> None:
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise Conflict(message) from exc


def create_organization(name: str, monthly_target_hours: int | None = None) -> Organization:
    """A new organization. Raises :class:`Conflict` for a taken name (any case). Commits."""
    name = _clean_name(name, ORGANIZATION_NAME_LENGTH)
    _check_name_free(name)
    organization = Organization(name=name, monthly_target_hours=_check_target(monthly_target_hours))
    db.session.add(organization)
    _commit_or_conflict(_("An organization with this name exists already."))
    return organization


def rename_organization(organization: Organization, name: str) -> None:
    """Raises :class:`Conflict` for a name another organization has. Commits."""
    name = _clean_name(name, ORGANIZATION_NAME_LENGTH)
    _check_name_free(name, exclude_id=organization.id)
    organization.name = name
    _commit_or_conflict(_("An organization with this name exists already."))


def set_target(organization: Organization, monthly_target_hours: int | None) -> None:
    """Set the staff's monthly target in hours (0–744), or None for the academy's. Commits."""
    organization.monthly_target_hours = _check_target(monthly_target_hours)
    db.session.commit()


def members(organization: Organization) -> list[User]:
    return list(
        db.session.scalars(
            db.select(User)
            .where(User.organization_id == organization.id)
            .order_by(User.name, User.id)
        )
    )


def _member(organization: Organization, user_id: int) -> User:
    person = db.session.scalar(
        db.select(User).where(User.id == user_id, User.organization_id == organization.id)
    )
    if person is None:
        raise NotFound()
    return person


def add_member(organization: Organization, email: str) -> tuple[User, bool]:
    """Put an existing account into the organization; returns it and whether it joined now.

    Refuses an unknown e-mail (400) and an account of another organization (409). Commits.
    """
    person = db.session.scalar(
        db.select(User).filter_by(email=accounts.normalise_email(email or ""))
    )
    if person is None:
        raise OrganizationError(_("No account has this e-mail address."))
    if person.organization_id == organization.id:
        return person, False
    if person.organization_id is not None:
        raise Conflict(
            _(
                "This account belongs to %(org)s. To move it here, use that organization's page.",
                org=person.organization.name,
            )
        )
    _join(organization, person.id, _("This account belongs to another organization."))
    db.session.commit()
    return person, True


def _join(organization: Organization, user_id: int, refusal: str) -> None:
    """Put an account that has no organization into ``organization``. A conditional UPDATE,
    so an account that joined another one meanwhile is refused (rollback, ``Conflict``).
    No commit."""
    joined = db.session.execute(
        db.update(User)
        .where(User.id == user_id, User.organization_id.is_(None))
        .values(organization_id=organization.id)
        .execution_options(synchronize_session=False)
    )
    if joined.rowcount != 1:
        db.session.rollback()
        raise Conflict(refusal)


def set_manager(organization: Organization, user_id: int, manager: bool) -> User:
    """Appoint a member as a manager of the organization, or end it. Commits."""
    person = _member(organization, user_id)
    changed, ids = person.is_manager != manager, {"user": person.id, "org": organization.id}
    person.is_manager = manager
    db.session.commit()
    if changed:
        audit.event("manager_appointed" if manager else "manager_dismissed", **ids)
    return person


# -- staff -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffRow:
    user: User
    groups: list[str]
    seconds: int
    quizzes: QuizSummary | None = None  # None: no quiz taken

    @property
    def hours(self) -> float:
        return round(max(0, self.seconds) / 3600, 1)  # one decimal, never "-0.0", as elsewhere

    @property
    def waiting_for_password(self) -> bool:
        """An active account that has not set its password yet (imported from CSV)."""
        return self.user.active and not has_password(self.user)


def month_bounds(today: date) -> tuple[date, date]:
    """The first day of ``today``'s month and of the next."""
    first = today.replace(day=1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following


def staff_rows(organization: Organization, today: date | None = None) -> list[StaffRow]:
    """The organization's staff by name, with their groups, this month's verified time and
    their quizzes.

    Four queries whatever the number of staff: the people, their groups, the month's ledger
    summed per person by the database, and their quiz results summed the same way.
    """
    first, following = month_bounds(today or hours.local_day(utcnow()))
    people = members(organization)
    seconds = dict(
        db.session.execute(
            db.select(TrainingTime.user_id, func.sum(TrainingTime.seconds))
            .join(User, User.id == TrainingTime.user_id)
            .where(
                User.organization_id == organization.id,
                TrainingTime.day >= first,
                TrainingTime.day < following,
            )
            .group_by(TrainingTime.user_id)
        ).all()
    )
    groups: dict[int, list[str]] = {}
    for user_id, name in db.session.execute(
        db.select(StaffGroupMember.user_id, StaffGroup.name)
        .join(StaffGroup, StaffGroup.id == StaffGroupMember.group_id)
        .where(StaffGroup.organization_id == organization.id)
        .order_by(StaffGroup.name)
    ):
        groups.setdefault(user_id, []).append(name)
    quizzes = quiz_records.summaries(
        db.select(User.id).where(User.organization_id == organization.id)
    )
    return [
        StaffRow(
            person,
            groups.get(person.id, []),
            max(0, int(seconds.get(person.id) or 0)),
            quizzes.get(person.id),
        )
        for person in people
    ]


def remove_from_organization(organization: Organization, user_id: int, *, by: User) -> User:
    """Take a person off the staff: they keep their account and records and leave the
    organization (see :func:`_leave`). Nobody removes themselves here, and only organizers
    remove a manager. Commits."""
    person = _member(organization, user_id)
    if person.id == by.id:
        raise OrganizationError(_("You cannot remove yourself from the organization."))
    if person.is_manager and not by.is_organizer:
        raise Refused(_("Only an organizer can remove a manager."))
    _leave(organization, person, None)
    db.session.commit()
    return person


def _leave(organization: Organization, person: User, destination: int | None) -> int:
    """``person`` leaves ``organization`` for ``destination`` (None: no organization): out
    of its groups, no longer its manager, and its open assignments made to them alone are
    cancelled (the rows stay in its plan for the record; group assignments stop covering
    them by themselves). The conditional UPDATE refuses (rollback, ``Conflict``) a person
    who left meanwhile. Returns how many assignments were cancelled. No commit."""
    group_ids = db.select(StaffGroup.id).where(StaffGroup.organization_id == organization.id)
    db.session.execute(
        db.delete(StaffGroupMember).where(
            StaffGroupMember.user_id == person.id, StaffGroupMember.group_id.in_(group_ids)
        )
    )
    cancelled = db.session.execute(
        db.update(Assignment)
        .where(
            Assignment.organization_id == organization.id,
            Assignment.user_id == person.id,
            Assignment.cancelled_at.is_(None),
        )
        .values(cancelled_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    left = db.session.execute(
        db.update(User)
        .where(User.id == person.id, User.organization_id == organization.id)
        .values(organization_id=destination, is_manager=False)
        .execution_options(synchronize_session=False)
    )
    if left.rowcount != 1:
        db.session.rollback()
        raise Conflict(_("The account changed meanwhile. Try again."))
    db.session.expire(person)
    return cancelled


def other_organizations(organization: Organization) -> list[Organization]:
    """Every organization but this one, by name: where its members may be moved."""
    return list(
        db.session.scalars(
            db.select(Organization)
            .where(Organization.id != organization.id)
            .order_by(Organization.name, Organization.id)
        )
    )


def move_member(source: Organization, user_id: int, target_id: int, *, by: User) -> User:
    """An organizer moves a member of ``source`` to another organization, as
    :func:`_leave` says: their account, enrollments, hours, certificates and archive go with
    them; ``source``'s managers no longer see them, the target's managers do. An unknown
    target is :class:`NotFound`; ``source`` itself is refused. Audited. Commits."""
    if not by.is_organizer:
        raise Refused(_("Only an organizer can move an account between organizations."))
    person = _member(source, user_id)
    target = db.session.get(Organization, target_id)
    if target is None:
        raise NotFound()
    if target.id == source.id:
        raise OrganizationError(_("Choose another organization."))
    was_manager = person.is_manager
    cancelled = _leave(source, person, target.id)
    db.session.commit()
    audit.event(
        "account_moved",
        user=person.id,
        from_org=source.id,
        to_org=target.id,
        was_manager=was_manager,
        assignments_cancelled=cancelled,
    )
    return person


# -- staff groups ----------------------------------------------------------------------


def groups_of(organization: Organization) -> list[StaffGroup]:
    """The organization's groups by name, with their members loaded (two queries)."""
    return list(
        db.session.scalars(
            db.select(StaffGroup)
            .where(StaffGroup.organization_id == organization.id)
            .order_by(StaffGroup.name, StaffGroup.id)
            .options(db.selectinload(StaffGroup.members))
        )
    )


def find_group(organization: Organization, group_id: int) -> StaffGroup:
    group = db.session.scalar(
        db.select(StaffGroup).where(
            StaffGroup.id == group_id, StaffGroup.organization_id == organization.id
        )
    )
    if group is None:
        raise NotFound()
    return group


def _check_group_name_free(
    organization: Organization, name: str, exclude_id: int | None = None
) -> None:
    query = db.select(StaffGroup.id).where(
        StaffGroup.organization_id == organization.id, StaffGroup.name == name
    )
    if exclude_id is not None:
        query = query.where(StaffGroup.id != exclude_id)
    if db.session.scalar(query.limit(1)) is not None:
        raise Conflict(_("The organization has a group with this name already."))


def create_group(organization: Organization, name: str) -> StaffGroup:
    """A new staff group; names are unique within the organization. Commits."""
    name = _clean_name(name, GROUP_NAME_LENGTH)
    _check_group_name_free(organization, name)
    group = StaffGroup(organization_id=organization.id, name=name)
    db.session.add(group)
    _commit_or_conflict(_("The organization has a group with this name already."))
    return group


def rename_group(group: StaffGroup, name: str) -> None:
    """Commits."""
    name = _clean_name(name, GROUP_NAME_LENGTH)
    _check_group_name_free(group.organization, name, exclude_id=group.id)
    group.name = name
    _commit_or_conflict(_("The organization has a group with this name already."))


def delete_group(group: StaffGroup) -> None:
    """Delete a group: its members stay staff; invite links for it no longer add to a
    group; plan assignments made to the group go with it. Commits."""
    db.session.execute(db.delete(StaffGroup).where(StaffGroup.id == group.id))
    db.session.commit()


def add_to_group(group: StaffGroup, user_id: int) -> User:
    """Add a member of the group's organization (anyone else is :class:`NotFound`). Commits."""
    person = _member(group.organization, user_id)
    insert_ignoring_conflicts(
        StaffGroupMember, ["group_id", "user_id"], group_id=group.id, user_id=person.id
    )
    db.session.commit()
    return person


def remove_from_group(group: StaffGroup, user_id: int) -> None:
    """Commits. :class:`NotFound` when the person is not in the group."""
    removed = db.session.execute(
        db.delete(StaffGroupMember).where(
            StaffGroupMember.group_id == group.id, StaffGroupMember.user_id == user_id
        )
    )
    if removed.rowcount != 1:
        db.session.rollback()
        raise NotFound()
    db.session.commit()


# -- invite links ----------------------------------------------------------------------


def _usable(now: datetime) -> tuple:
    return (Invite.revoked_at.is_(None), Invite.expires_at > now, Invite.uses < Invite.max_uses)


def create_invite(
    organization: Organization,
    *,
    by: User,
    group_id: int | None = None,
    days: int = INVITE_DAYS[2],
    max_uses: int = INVITE_USES[2],
) -> tuple[Invite, str]:
    """A new invite link and its token (shown once: only its SHA-256 is stored).

    ``group_id`` must be a group of the organization (else :class:`NotFound`). Commits.
    """
    invite, token = add_invite(
        organization, by_id=by.id, group_id=group_id, days=days, max_uses=max_uses
    )
    db.session.commit()
    return invite, token


def check_invite_days(days: int) -> None:
    if not INVITE_DAYS[0] <= days <= INVITE_DAYS[1]:
        raise OrganizationError(_("Choose from 1 to 90 days."))


def add_invite(
    organization: Organization,
    *,
    by_id: int | None,
    group_id: int | None,
    days: int,
    max_uses: int,
) -> tuple[Invite, str]:
    """:func:`create_invite` without the commit (flushed: the invite has its id)."""
    check_invite_days(days)
    if not INVITE_USES[0] <= max_uses <= INVITE_USES[1]:
        raise OrganizationError(_("Choose from 1 to 500 uses."))
    group = find_group(organization, group_id) if group_id is not None else None
    token = secrets.token_urlsafe(32)
    invite = Invite(
        token_hash=accounts.token_digest(token),
        organization_id=organization.id,
        group_id=group.id if group else None,
        created_by_id=by_id,
        expires_at=utcnow() + timedelta(days=days),
        max_uses=max_uses,
        uses=0,
    )
    db.session.add(invite)
    db.session.flush()
    return invite, token


def active_invites(organization: Organization) -> list[Invite]:
    """Links that still work, newest first."""
    return list(
        db.session.scalars(
            db.select(Invite)
            .where(Invite.organization_id == organization.id, *_usable(utcnow()))
            .order_by(Invite.created_at.desc(), Invite.id.desc())
            .options(db.joinedload(Invite.group))
        )
    )


def revoke_invite(organization: Organization, invite_id: int) -> None:
    """Stop a link of the organization at once. Commits."""
    invite = db.session.scalar(
        db.select(Invite).where(
            Invite.id == invite_id,
            Invite.organization_id == organization.id,
            Invite.revoked_at.is_(None),
        )
    )
    if invite is None:
        raise NotFound()
    invite.revoked_at = utcnow()
    db.session.commit()


def find_invite(token: str) -> Invite | None:
    """The usable invite with this token; None when unknown, expired, revoked or used up."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        db.select(Invite)
        .where(Invite.token_hash == accounts.token_digest(token), *_usable(utcnow()))
        .options(db.joinedload(Invite.organization))
    )


def _use(invite: Invite) -> None:
    """Count one use, atomically: ``UPDATE … WHERE uses < max_uses`` (and still valid), so
    parallel accepts never exceed ``max_uses``. The first write of the transaction."""
    counted = db.session.execute(
        db.update(Invite)
        .where(Invite.id == invite.id, *_usable(utcnow()))
        .values(uses=Invite.uses + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:
        db.session.rollback()
        raise NotFound()


def _join_group(invite_group_id: int | None, user_id: int) -> None:
    if invite_group_id is not None:
        insert_ignoring_conflicts(
            StaffGroupMember, ["group_id", "user_id"], group_id=invite_group_id, user_id=user_id
        )


def accept_invite(token: str, user: User) -> tuple[Organization, bool]:
    """``user`` (logged in) joins the invite's organization and group; returns the
    organization and whether a use was counted.

    A member of the same organization only joins the group (no use is counted); a member
    of another organization gets :class:`Conflict`; an unusable link :class:`NotFound`.
    Commits.
    """
    invite = find_invite(token)
    if invite is None:
        raise NotFound()
    organization, group_id = invite.organization, invite.group_id
    if user.organization_id == organization.id:
        _join_group(group_id, user.id)
        db.session.commit()
        return organization, False
    if user.organization_id is not None:
        raise Conflict(_("Your account belongs to another organization."))
    _use(invite)
    _join(organization, user.id, _("Your account belongs to another organization."))
    _join_group(group_id, user.id)
    db.session.commit()
    return organization, True


def register_with_invite(
    token: str, *, email: str, name: str, password: str, locale: str | None = None
) -> User:
    """A new account that joins the invite's organization (and group) in one transaction.

    Raises :class:`NotFound` for an unusable link and :class:`accounts.EmailTaken`. Commits.
    """
    invite = find_invite(token)
    if invite is None:
        raise NotFound()
    email = accounts.normalise_email(email)
    if db.session.scalar(db.select(User.id).filter_by(email=email)) is not None:
        raise accounts.EmailTaken(email)
    organization_id, group_id = invite.organization_id, invite.group_id
    password_hash = accounts.hash_password(password)  # slow: before the write lock
    _use(invite)
    user = User(
        email=email,
        name=name.strip(),
        password_hash=password_hash,
        role="learner",
        locale=locale,
        organization_id=organization_id,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        raise accounts.EmailTaken(email) from exc
    _join_group(group_id, user.id)
    db.session.commit()
    return user
