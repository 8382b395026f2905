"""Organizers' pages for every organization: create, rename, set the monthly target, add
members, appoint and dismiss managers, move members to another organization."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from lms.models import Organization
from lms.services import organizations
from lms.services.errors import DomainError
from lms.web.admin import organizer_required
from lms.web.errors import status_of
from lms.web.forms import ActionForm
from lms.web.organization_forms import (
    MemberEmailForm,
    MoveForm,
    OrganizationForm,
    RenameForm,
    TargetForm,
)
from lms.web.organizations.blueprint import bp, check_action, organization_or_404


@bp.route("/admin/organizations", methods=["GET", "POST"])
@organizer_required
def admin_list() -> ResponseReturnValue:
    form = OrganizationForm()
    status = 200
    if form.validate_on_submit():
        try:
            organization = organizations.create_organization(
                form.name.data, form.monthly_target_hours.data
            )
        except DomainError as error:
            form.name.errors.append(error.message)
            status = status_of(error)
        else:
            flash(_("%(name)s is created.", name=organization.name), "success")
            return redirect(url_for(".admin_detail", org_id=organization.id))
    elif form.errors:
        status = 400
    return render_template(
        "admin/organizations.html",
        rows=organizations.organization_rows(),
        form=form,
        default_target=organizations.default_target(),
    ), status


def _admin_detail(
    organization: Organization, status: int = 200, **forms: FlaskForm
) -> ResponseReturnValue:
    rename = forms.get("rename") or RenameForm(formdata=None, name=organization.name)
    target = forms.get("target") or TargetForm(
        formdata=None, monthly_target_hours=organization.monthly_target_hours
    )
    return render_template(
        "organizations/admin_detail.html",
        organization=organization,
        members=organizations.members(organization),
        rename=rename,
        target=target,
        member_form=forms.get("member") or MemberEmailForm(formdata=None),
        others=organizations.other_organizations(organization),
        action=ActionForm(),
        default_target=organizations.default_target(),
    ), status


@bp.get("/admin/organizations/<int:org_id>")
@organizer_required
def admin_detail(org_id: int) -> ResponseReturnValue:
    return _admin_detail(organization_or_404(org_id))


@bp.post("/admin/organizations/<int:org_id>/rename")
@organizer_required
def admin_rename(org_id: int) -> ResponseReturnValue:
    organization = organization_or_404(org_id)
    form = RenameForm()
    if not form.validate_on_submit():
        return _admin_detail(organization, 400, rename=form)
    try:
        organizations.rename_organization(organization, form.name.data)
    except DomainError as error:
        form.name.errors.append(error.message)
        return _admin_detail(organization, status_of(error), rename=form)
    flash(_("The organization is renamed."), "success")
    return redirect(url_for(".admin_detail", org_id=org_id))


@bp.post("/admin/organizations/<int:org_id>/target")
@organizer_required
def admin_target(org_id: int) -> ResponseReturnValue:
    organization = organization_or_404(org_id)
    form = TargetForm()
    if not form.validate_on_submit():
        return _admin_detail(organization, 400, target=form)
    organizations.set_target(organization, form.monthly_target_hours.data)
    flash(_("The monthly target is saved."), "success")
    return redirect(url_for(".admin_detail", org_id=org_id))


@bp.post("/admin/organizations/<int:org_id>/members")
@organizer_required
def admin_add_member(org_id: int) -> ResponseReturnValue:
    organization = organization_or_404(org_id)
    form = MemberEmailForm()
    if not form.validate_on_submit():
        return _admin_detail(organization, 400, member=form)
    try:
        person, joined = organizations.add_member(organization, form.email.data)
    except DomainError as error:
        form.email.errors.append(error.message)
        return _admin_detail(organization, status_of(error), member=form)
    if joined:
        flash(_("%(name)s joined the organization.", name=person.name), "success")
    else:
        flash(_("%(name)s is on the staff already.", name=person.name), "info")
    return redirect(url_for(".admin_detail", org_id=org_id))


@bp.post("/admin/organizations/<int:org_id>/members/<int:user_id>/move")
@organizer_required
def admin_move_member(org_id: int, user_id: int) -> Response:
    organization = organization_or_404(org_id)
    form = MoveForm()
    if not form.validate_on_submit() or form.to.data is None:
        abort(400, _("Choose an organization."))
    person = organizations.move_member(organization, user_id, form.to.data, by=current_user)
    flash(
        _(
            "%(name)s is now on the staff of %(org)s.",
            name=person.name,
            org=person.organization.name,
        ),
        "success",
    )
    return redirect(url_for(".admin_detail", org_id=org_id))


@bp.post("/admin/organizations/<int:org_id>/managers/<int:user_id>/<action>")
@organizer_required
def admin_manager(org_id: int, user_id: int, action: str) -> Response:
    if action not in ("appoint", "dismiss"):
        abort(404)
    organization = organization_or_404(org_id)
    check_action()
    person = organizations.set_manager(organization, user_id, action == "appoint")
    if person.is_manager:
        flash(_("%(name)s is a manager now.", name=person.name), "success")
    else:
        flash(_("%(name)s is no longer a manager.", name=person.name), "success")
    return redirect(url_for(".admin_detail", org_id=org_id))
