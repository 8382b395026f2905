"""Invite links: making them (shown once) or mailing them, revoking them, and the page a
link opens: sign up into the organization, or join it with one's account."""

from __future__ import annotations

from typing import NoReturn

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from lms.models import Organization
from lms.services import accounts, invites, staff_groups, staff_mail
from lms.services.errors import NotFound
from lms.web.auth import check_signup_rate, log_in
from lms.web.forms import ActionForm, RegisterForm
from lms.web.organization_forms import InviteForm, InviteMailForm
from lms.web.organizations.blueprint import (
    bp,
    check_action,
    flash_mail_report,
    organization_or_404,
)


def _invite_forms(
    organization: Organization, submitted: str | None
) -> tuple[InviteForm, InviteMailForm]:
    """The page's two forms: the ``submitted`` one ("link" or "mail") with the request's
    data, the other with its defaults."""
    form = InviteForm() if submitted == "link" else InviteForm(formdata=None)
    mail_form = (
        InviteMailForm()
        if submitted == "mail"
        else InviteMailForm(formdata=None, language=current_app.config["BABEL_DEFAULT_LOCALE"])
    )
    choices = [SelectChoice("", _("No group"))] + [
        SelectChoice(str(group.id), group.name) for group in staff_groups.groups_of(organization)
    ]
    form.group.choices = mail_form.mail_group.choices = choices
    return form, mail_form


def _invites_page(
    organization: Organization,
    form: InviteForm,
    mail_form: InviteMailForm,
    new_url: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "organizations/invites.html",
        organization=organization,
        form=form,
        mail_form=mail_form,
        invites=invites.active_invites(organization),
        new_url=new_url,
        action=ActionForm(),
    ), status


@bp.route("/organizations/<int:org_id>/invites", methods=["GET", "POST"], endpoint="invites")
@login_required
def invites_page(org_id: int) -> ResponseReturnValue:
    organization = organization_or_404(org_id)
    form, mail_form = _invite_forms(organization, "link" if request.method == "POST" else None)
    new_url, status = None, 200
    if form.validate_on_submit():
        _invite, token = invites.create_invite(
            organization,
            by=current_user,
            group_id=form.group.data,
            days=form.days.data,
            max_uses=form.max_uses.data,
        )
        new_url = url_for(".invite", token=token, _external=True)
        flash(_("Your new invite link is below. Copy it now: it is shown only once."), "success")
        form.days.data, form.max_uses.data = form.days.default, form.max_uses.default
    elif form.errors:
        status = 400
    return _invites_page(organization, form, mail_form, new_url, status)


@bp.post("/organizations/<int:org_id>/invites/mail")
@login_required
def mail_invites(org_id: int) -> ResponseReturnValue:
    """Invite links by e-mail: one single-use link per address, sent by a job."""
    organization = organization_or_404(org_id)
    form, mail_form = _invite_forms(organization, "mail")
    if mail_form.validate_on_submit():
        try:
            report = staff_mail.invite_by_mail(
                organization,
                staff_mail.parse_addresses(mail_form.emails.data),
                by=current_user,
                group_id=mail_form.mail_group.data,
                days=mail_form.mail_days.data,
                locale=mail_form.language.data,
            )
        except staff_mail.AddressError as error:
            mail_form.emails.errors.append(error.message)
        else:
            flash_mail_report(report)
            return redirect(url_for(".invites", org_id=org_id))
    return _invites_page(organization, form, mail_form, status=400)


@bp.post("/organizations/<int:org_id>/invites/<int:invite_id>/revoke")
@login_required
def revoke_invite(org_id: int, invite_id: int) -> Response:
    organization = organization_or_404(org_id)
    check_action()
    invites.revoke_invite(organization, invite_id)
    flash(_("The invite link is revoked."), "info")
    return redirect(url_for(".invites", org_id=org_id))


def _invalid_invite() -> NoReturn:
    abort(
        404,
        _(
            "This invite link does not work: it is unknown, expired, revoked or used up. "
            "Ask your manager for a new one."
        ),
    )


@bp.route("/invite/<token>", methods=["GET", "POST"])
def invite(token: str) -> ResponseReturnValue:
    found = invites.find_invite(token)
    if found is None:
        _invalid_invite()
    organization = found.organization
    if current_user.is_authenticated:
        return _accept(token, found.organization, found.group_id)
    form = RegisterForm()
    if form.validate_on_submit():
        check_signup_rate()
        try:
            user = invites.register_with_invite(
                token,
                email=form.email.data,
                name=form.name.data,
                password=form.password.data,
                locale=form.locale.data,
            )
        except NotFound:
            _invalid_invite()
        except accounts.EmailTaken:
            form.email.errors.append(
                _(
                    "This e-mail address is already registered. "
                    "Log in, then open this link again to join."
                )
            )
        else:
            log_in(user)
            flash(
                _("Welcome, %(name)s! You joined %(org)s.", name=user.name, org=organization.name),
                "success",
            )
            return redirect(url_for("learn.dashboard"))
    return render_template(
        "organizations/invite.html", organization=organization, form=form, token=token
    ), 400 if form.errors else 200


def _accept(token: str, organization: Organization, group_id: int | None) -> ResponseReturnValue:
    if current_user.organization_id not in (None, organization.id):
        abort(
            409,
            _(
                "Your account belongs to another organization. An organizer can move it; "
                "it cannot join %(org)s through this link.",
                org=organization.name,
            ),
        )
    member = current_user.organization_id == organization.id
    form = ActionForm()
    if form.validate_on_submit():
        try:
            _organization, counted = invites.accept_invite(token, current_user)
        except NotFound:
            _invalid_invite()
        if counted:
            flash(_("You joined %(org)s.", org=organization.name), "success")
        else:
            flash(_("You are on the staff of %(org)s already.", org=organization.name), "info")
        return redirect(url_for("learn.dashboard"))
    return render_template(
        "organizations/invite.html",
        organization=organization,
        form=form,
        token=token,
        member=member,
        has_group=group_id is not None,
    ), 400 if form.errors else 200
