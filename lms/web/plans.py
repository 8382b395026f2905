"""Training plans: an organization's plan for managers and organizers, and the learner's own."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from lms.models import Assignment, Organization
from lms.services import plans
from lms.web.forms import ActionForm
from lms.web.plan_forms import AssignmentForm

bp = Blueprint("plans", __name__)


def organization_or_404(org_id: int) -> Organization:
    """The organization whose plan the current user may manage; anything else is 404."""
    organization = plans.organization_for(current_user, org_id)
    if organization is None:
        abort(404)
    return organization


def assignment_or_404(organization: Organization, assignment_id: int) -> Assignment:
    found = plans.find(organization.id, assignment_id)
    if found is None:
        abort(404)
    return found


def _form(organization: Organization) -> AssignmentForm:
    form = AssignmentForm()
    people_label, groups_label = _("Staff"), _("Groups")
    form.assignee.choices = [SelectChoice("", _("Choose…"))]
    form.assignee.choices += [
        SelectChoice(f"user:{user.id}", f"{user.name} ({user.email})", optgroup=people_label)
        for user in plans.staff_of(organization.id)
    ]
    form.assignee.choices += [
        SelectChoice(f"group:{group.id}", group.name, optgroup=groups_label)
        for group in plans.groups_of(organization.id)
    ]
    found = plans.subjects()
    camps_label, courses_label = _("Whole camps"), _("Courses")
    form.subject.choices = [SelectChoice("", _("Choose…"))]
    form.subject.choices += [
        SelectChoice(f"camp:{camp.id}", camp.title, optgroup=camps_label) for camp in found.camps
    ]
    form.subject.choices += [
        SelectChoice(
            f"course:{course.id}", f"{course.camp.title} › {course.title}", optgroup=courses_label
        )
        for course in found.courses
    ]
    return form


def _split(value: str) -> tuple[str, int]:
    """``"user:12"`` → ``("user", 12)``; the value is one of the form's own choices."""
    kind, _sep, number = value.partition(":")
    return kind, int(number)


@bp.route("/organizations/<int:org_id>/plan", methods=["GET", "POST"])
@login_required
def plan(org_id: int) -> str | Response | tuple[str, int]:
    organization = organization_or_404(org_id)
    form = _form(organization)
    if form.validate_on_submit():
        assignee_kind, assignee_id = _split(form.assignee.data)
        subject_kind, subject_id = _split(form.subject.data)
        try:
            plans.assign(
                organization.id,
                current_user,
                due_on=form.due_on.data,
                note=form.note.data or "",
                user_id=assignee_id if assignee_kind == "user" else None,
                group_id=assignee_id if assignee_kind == "group" else None,
                course_id=subject_id if subject_kind == "course" else None,
                camp_id=subject_id if subject_kind == "camp" else None,
            )
        except plans.PlanError as exc:
            form.form_errors.append(str(exc))
        else:
            flash(_("Assigned."), "success")
            return redirect(url_for(".plan", org_id=organization.id))
    return render_template(
        "plans/plan.html",
        organization=organization,
        items=plans.plan(organization.id),
        form=form,
        action_form=ActionForm(),
        today=plans.today(),
    ), 400 if form.errors else 200


@bp.get("/organizations/<int:org_id>/plan/<int:assignment_id>")
@login_required
def assignment(org_id: int, assignment_id: int) -> str:
    organization = organization_or_404(org_id)
    found = assignment_or_404(organization, assignment_id)
    return render_template(
        "plans/assignment.html",
        organization=organization,
        assignment=found,
        rows=plans.learners(found),
    )


@bp.post("/organizations/<int:org_id>/plan/<int:assignment_id>/cancel")
@login_required
def cancel(org_id: int, assignment_id: int) -> Response:
    organization = organization_or_404(org_id)
    found = assignment_or_404(organization, assignment_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if plans.cancel(found):
        flash(_("The assignment is cancelled."), "info")
    return redirect(url_for(".plan", org_id=organization.id))


@bp.get("/plan")
@login_required
def mine() -> str:
    return render_template("plans/mine.html", assignments=plans.for_learner(current_user))
