"""The organizations blueprint and what its pages share: finding the organization and the
group a URL names for the viewer, checking an action's CSRF form, reporting mailed links.

Organizers reach every organization; a manager only their own. Anything outside the
viewer's reach — another organization, or its groups, invites and members by a tampered
id — answers the same 404 an unknown id gets.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash
from flask_babel import gettext as _
from flask_login import current_user

from lms.models import Organization, StaffGroup
from lms.services import organizations, staff_groups, staff_mail
from lms.web.forms import ActionForm

bp = Blueprint("organizations", __name__)


def organization_or_404(organization_id: int) -> Organization:
    """The organization the viewer may manage; 404 for unknown and forbidden ids alike."""
    organization = organizations.find_organization(current_user, organization_id)
    if organization is None:
        abort(404)
    return organization


def group_or_404(organization: Organization, group_id: int) -> StaffGroup:
    """A group of ``organization`` (a group of another one is a 404, through the domain
    error handler)."""
    return staff_groups.find_group(organization, group_id)


def check_action() -> None:
    """A POST whose only field is its CSRF token: 400 without a valid one."""
    if not ActionForm().validate_on_submit():
        abort(400)


def flash_mail_report(report: staff_mail.MailReport) -> None:
    """What became of each mailed link: queued, sent recently already, over the limit."""
    if report.queued:
        flash(_("Sending by e-mail to: %(list)s", list=", ".join(report.queued)), "success")
    if report.repeated:
        flash(
            _(
                "Sent to them a few minutes ago already, so not again: %(list)s",
                list=", ".join(report.repeated),
            ),
            "info",
        )
    if report.over_limit:
        flash(
            _(
                "Not sent: the organization has sent as many messages as it may for now. "
                "Try again later: %(list)s",
                list=", ".join(report.over_limit),
            ),
            "error",
        )
