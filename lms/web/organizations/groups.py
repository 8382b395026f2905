"""Staff groups of an organization: create, rename, delete, add and remove members."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from lms.models import Organization
from lms.services import organizations, staff_groups
from lms.services.errors import DomainError
from lms.web.errors import status_of
from lms.web.forms import ActionForm
from lms.web.organization_forms import GroupForm, GroupMemberForm
from lms.web.organizations.blueprint import bp, check_action, group_or_404, organization_or_404


def _groups_page(
    organization: Organization,
    status: int = 200,
    form: GroupForm | None = None,
    errors: dict[int, str] | None = None,
) -> ResponseReturnValue:
    return render_template(
        "organizations/groups.html",
        organization=organization,
        groups=staff_groups.groups_of(organization),
        staff=organizations.members(organization),
        form=form or GroupForm(formdata=None),
        errors=errors or {},
        action=ActionForm(),
    ), status


@bp.route("/organizations/<int:org_id>/groups", methods=["GET", "POST"])
@login_required
def groups(org_id: int) -> ResponseReturnValue:
    organization = organization_or_404(org_id)
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = staff_groups.create_group(organization, form.name.data)
        except DomainError as error:
            form.name.errors.append(error.message)
            return _groups_page(organization, status_of(error), form)
        flash(_("The group %(name)s is created.", name=group.name), "success")
        return redirect(url_for(".groups", org_id=org_id))
    return _groups_page(organization, 400 if form.errors else 200, form)


@bp.post("/organizations/<int:org_id>/groups/<int:group_id>/rename")
@login_required
def rename_group(org_id: int, group_id: int) -> ResponseReturnValue:
    organization = organization_or_404(org_id)
    group = group_or_404(organization, group_id)
    form = GroupForm()
    if not form.validate_on_submit():
        message = next(iter(form.errors.values()), [_("Enter a name.")])[0]
        return _groups_page(organization, 400, errors={group.id: str(message)})
    try:
        staff_groups.rename_group(group, form.name.data)
    except DomainError as error:
        return _groups_page(organization, status_of(error), errors={group.id: error.message})
    flash(_("The group is renamed."), "success")
    return redirect(url_for(".groups", org_id=org_id))


@bp.post("/organizations/<int:org_id>/groups/<int:group_id>/delete")
@login_required
def delete_group(org_id: int, group_id: int) -> Response:
    organization = organization_or_404(org_id)
    group = group_or_404(organization, group_id)
    check_action()
    staff_groups.delete_group(group)
    flash(_("The group is deleted; its members stay on the staff."), "success")
    return redirect(url_for(".groups", org_id=org_id))


@bp.post("/organizations/<int:org_id>/groups/<int:group_id>/members")
@login_required
def add_group_member(org_id: int, group_id: int) -> Response:
    organization = organization_or_404(org_id)
    group = group_or_404(organization, group_id)
    form = GroupMemberForm()
    if not form.validate_on_submit() or form.user.data is None:
        abort(400, _("Choose a staff member."))
    person = staff_groups.add_to_group(group, form.user.data)
    flash(_("%(name)s is in %(group)s.", name=person.name, group=group.name), "success")
    return redirect(url_for(".groups", org_id=org_id))


@bp.post("/organizations/<int:org_id>/groups/<int:group_id>/members/<int:user_id>/remove")
@login_required
def remove_group_member(org_id: int, group_id: int, user_id: int) -> Response:
    organization = organization_or_404(org_id)
    group = group_or_404(organization, group_id)
    check_action()
    staff_groups.remove_from_group(group, user_id)
    flash(_("Removed from %(group)s.", group=group.name), "success")
    return redirect(url_for(".groups", org_id=org_id))
