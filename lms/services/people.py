"""Who may see whom: the one place that answers it for staff pages, reports and archives.

* Organizers see every learner and every organization.
* A manager (``User.is_manager`` with an organization) sees only the staff of their own
  organization — never another company's, whatever id is put in a URL.
* Everyone sees themselves.

Views turn a refusal into the same 404 an unknown id gets, so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, select, true

from lms.extensions import db
from lms.models import Organization, User


def is_manager(user: User) -> bool:
    return bool(user.is_authenticated and user.is_manager and user.organization_id is not None)


def can_view_person(viewer: User, person: User) -> bool:
    """May ``viewer`` see ``person``'s training records?"""
    return may_view_records(viewer, person.id, person.organization_id)


def may_view_records(viewer: User, user_id: int, organization_id: int | None) -> bool:
    """:func:`can_view_person` for a person known by id and organization (a report's row):
    themselves, organizers, and the managers of their organization."""
    if not viewer.is_authenticated:
        return False
    if viewer.id == user_id or viewer.is_organizer:
        return True
    return is_manager(viewer) and organization_id == viewer.organization_id


def find_person(viewer: User, user_id: int) -> User | None:
    """The user ``viewer`` may see with this id, or None (unknown and forbidden alike)."""
    person = db.session.get(User, user_id)
    if person is None or not can_view_person(viewer, person):
        return None
    return person


@dataclass(frozen=True)
class Scope:
    """The organizations a staff page or report covers.

    ``organization_id`` None with ``everyone`` True: the whole academy (organizers only).
    """

    organization_id: int | None
    everyone: bool = False

    def restrict(self, column: SQLColumnExpression[int | None]) -> ColumnElement[bool]:
        """A WHERE clause limiting ``column`` (an organization id column) to the scope."""
        if self.everyone:
            return true()
        return column == self.organization_id


def scope_for(viewer: User, organization_id: int | None = None) -> Scope | None:
    """The scope ``viewer`` may look at, optionally narrowed to one organization.

    None when the viewer may not look at staff at all, or asks for an organization that
    is not theirs (or does not exist) — views answer 404 for both.
    """
    if not viewer.is_authenticated:
        return None
    if viewer.is_organizer:
        if organization_id is None:
            return Scope(None, everyone=True)
        if db.session.get(Organization, organization_id) is None:
            return None
        return Scope(organization_id)
    if not is_manager(viewer):
        return None
    if organization_id not in (None, viewer.organization_id):
        return None
    return Scope(viewer.organization_id)


def staff(scope: Scope) -> Select[User]:
    """The users a scope covers, by name."""
    return (
        select(User)
        .where(scope.restrict(User.organization_id), User.organization_id.is_not(None))
        .order_by(User.name, User.id)
    )
