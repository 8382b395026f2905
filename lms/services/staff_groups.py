"""Staff groups: named groups of an organization's staff (names unique per organization),
which plans assign to and invite links add to.

The functions take a group already found in the viewer's organization
(:func:`find_group`); a group or member of another organization is
:class:`~lms.services.errors.NotFound`, exactly like an unknown one.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import delete, select

from lms.database import insert_ignoring_conflicts, rowcount
from lms.extensions import db
from lms.models import Organization, StaffGroup, StaffGroupMember, User
from lms.services import loading
from lms.services.errors import Conflict, NotFound
from lms.services.organizations import checked_name, commit_or_conflict, member

GROUP_NAME_LENGTH = 100


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
        select(StaffGroup).where(
            StaffGroup.id == group_id, StaffGroup.organization_id == organization.id
        )
    )
    if group is None:
        raise NotFound()
    loading.set_loaded(group, "organization", organization)  # read by the changes below
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
    name = checked_name(name, GROUP_NAME_LENGTH)
    _check_group_name_free(organization, name)
    group = StaffGroup(organization_id=organization.id, name=name)
    db.session.add(group)
    commit_or_conflict(_("The organization has a group with this name already."))
    return group


def rename_group(group: StaffGroup, name: str) -> None:
    """Commits."""
    name = checked_name(name, GROUP_NAME_LENGTH)
    _check_group_name_free(group.organization, name, exclude_id=group.id)
    group.name = name
    commit_or_conflict(_("The organization has a group with this name already."))


def delete_group(group: StaffGroup) -> None:
    """Delete a group: its members stay staff; invite links for it no longer add to a
    group; plan assignments made to the group go with it. Commits."""
    db.session.execute(db.delete(StaffGroup).where(StaffGroup.id == group.id))
    db.session.commit()


def add_to_group(group: StaffGroup, user_id: int) -> User:
    """Add a member of the group's organization (anyone else is :class:`NotFound`). Commits."""
    person = member(group.organization, user_id)
    join_group(group.id, person.id)
    db.session.commit()
    return person


def remove_from_group(group: StaffGroup, user_id: int) -> None:
    """Commits. :class:`NotFound` when the person is not in the group."""
    removed = db.session.execute(
        delete(StaffGroupMember).where(
            StaffGroupMember.group_id == group.id, StaffGroupMember.user_id == user_id
        )
    )
    if rowcount(removed) != 1:
        db.session.rollback()
        raise NotFound()
    db.session.commit()


def join_group(group_id: int | None, user_id: int) -> None:
    """Put ``user_id`` into the group (when there is one); already in it is fine. No commit."""
    if group_id is not None:
        insert_ignoring_conflicts(
            StaffGroupMember, ["group_id", "user_id"], group_id=group_id, user_id=user_id
        )
