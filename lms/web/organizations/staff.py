"""An organization's staff page (managers and organizers): the staff with this month's
hours, groups and quizzes, the month's chart, removing someone, mailing set-password
links."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lms.models._base import utcnow
from lms.services import charts, hours, organizations, people, reports, staff, staff_mail
from lms.web.forms import ActionForm
from lms.web.organization_forms import SetupLinksForm
from lms.web.organizations.blueprint import (
    bp,
    check_action,
    flash_mail_report,
    organization_or_404,
)


@bp.get("/organizations/<int:org_id>/", endpoint="staff")
@login_required
def staff_page(org_id: int) -> str:
    organization = organization_or_404(org_id)
    today = hours.local_day(utcnow())
    # The chart: the staff by share of this month's target reached, counted by the
    # database in one query (the hours report's own summary, for this organization).
    summary = reports.hours_summary(people.Scope(organization.id), today.replace(day=1))
    return render_template(
        "organizations/staff.html",
        organization=organization,
        rows=staff.staff_rows(organization, today),
        target=organizations.target_of(organization),
        summary=summary,
        chart=charts.hours_bars(summary),
        action=ActionForm(),
    )


@bp.post("/organizations/<int:org_id>/staff/<int:user_id>/remove")
@login_required
def remove_staff(org_id: int, user_id: int) -> Response:
    organization = organization_or_404(org_id)
    check_action()
    person = organizations.remove_from_organization(organization, user_id, by=current_user)
    flash(
        _("%(name)s is no longer on the staff; their account and records stay.", name=person.name),
        "success",
    )
    return redirect(url_for(".staff", org_id=org_id))


@bp.post("/organizations/<int:org_id>/setup-links")
@login_required
def mail_setup_links(org_id: int) -> Response:
    """Set-password links by e-mail to the staff chosen (or all) who have no password yet."""
    organization = organization_or_404(org_id)
    form = SetupLinksForm()
    if not form.validate_on_submit():
        abort(400)
    waiting = staff_mail.waiting_for_password(organization, form.user.data or None)
    if waiting:
        flash_mail_report(staff_mail.mail_setup_links(organization, waiting))
    else:
        flash(_("Everyone chosen has set a password already; nothing was sent."), "info")
    return redirect(url_for(".staff", org_id=org_id))
