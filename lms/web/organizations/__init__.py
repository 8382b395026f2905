"""Organizations' pages, one module per concern, all on one blueprint (``organizations``):

* :mod:`.admin`: organizers' ``/admin/organizations`` (create, rename, target, members,
  managers, moves);
* :mod:`.staff`: the staff page of an organization and its set-password mailings;
* :mod:`.groups`: staff groups;
* :mod:`.invites`: invite links, by link or by e-mail, and signing up or joining through one;
* :mod:`.imports`: importing staff from CSV, and the one-time set-password page its links
  open.
"""

from lms.web.organizations import admin, groups, imports, invites, staff
from lms.web.organizations.blueprint import bp

__all__ = ["admin", "bp", "groups", "imports", "invites", "staff"]
