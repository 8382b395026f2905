"""Organizations: organizers' admin pages, managers' staff pages, invite and set-password links.

Organizers reach every organization; a manager only their own. Anything outside the
viewer's reach — another organization, or its groups, invites and members by a tampered
id — answers the same 404 an unknown id gets.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms.fields.choices import SelectChoice

from lms.extensions import db
from lms.models import Organization, StaffGroup
from lms.models._base import aware, utcnow
from lms.services import account_tokens, accounts, hours, people, reports, staff_import, staff_mail
from lms.services import organizations as service
from lms.services.organizations import NotFound, OrganizationError
from lms.web.admin import organizer_required
from lms.web.auth import _log_in, check_signup_rate
from lms.web.downloads import csv_response
from lms.web.forms import ActionForm, RegisterForm
from lms.web.organization_forms import (
    GroupForm,
    GroupMemberForm,
    ImportConfirmForm,
    ImportUploadForm,
    InviteForm,
    InviteMailForm,
    LinksDownloadForm,
    MemberEmailForm,
    MoveForm,
    OrganizationForm,
    RenameForm,
    SetPasswordForm,
    SetupLinksForm,
    TargetForm,
)
from lms.web.reports import hours_bars

bp = Blueprint("organizations", __name__)

LINKS_SALT = "staff-import-links"
LINKS_MAX_AGE = 3600  # the set-password links can be downloaded for an hour after the import


def _fail(error: OrganizationError) -> NoReturn:
    if isinstance(error, NotFound):
        abort(404)
    abort(error.status, error.message)


def _organization(organization_id: int) -> Organization:
    organization = service.find_organization(current_user, organization_id)
    if organization is None:
        abort(404)
    return organization


def _group(organization: Organization, group_id: int) -> StaffGroup:
    try:
        return service.find_group(organization, group_id)
    except NotFound:
        abort(404)


def _check_action() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


def archive_url(user_id: int) -> str:
    """A person's training archive (its page comes from the archive blueprint)."""
    if "archive.person" in current_app.view_functions:
        return url_for("archive.person", user_id=user_id)
    return f"/people/{user_id}/archive"


# -- organizers: /admin/organizations --------------------------------------------------


@bp.route("/admin/organizations", methods=["GET", "POST"])
@organizer_required
def admin_list() -> Any:
    form = OrganizationForm()
    status = 200
    if form.validate_on_submit():
        try:
            organization = service.create_organization(
                form.name.data, form.monthly_target_hours.data
            )
        except OrganizationError as error:
            form.name.errors.append(error.message)
            status = error.status
        else:
            flash(_("%(name)s is created.", name=organization.name), "success")
            return redirect(url_for(".admin_detail", org_id=organization.id))
    elif form.errors:
        status = 400
    return render_template(
        "admin/organizations.html",
        rows=service.organization_rows(),
        form=form,
        default_target=service.default_target(),
    ), status


def _admin_detail(organization: Organization, status: int = 200, **forms: Any) -> Any:
    rename = forms.get("rename") or RenameForm(formdata=None, name=organization.name)
    target = forms.get("target") or TargetForm(
        formdata=None, monthly_target_hours=organization.monthly_target_hours
    )
    return render_template(
        "organizations/admin_detail.html",
        organization=organization,
        members=service.members(organization),
        rename=rename,
        target=target,
        member_form=forms.get("member") or MemberEmailForm(formdata=None),
        others=service.other_organizations(organization),
        action=ActionForm(),
        default_target=service.default_target(),
    ), status


@bp.get("/admin/organizations/<int:org_id>")
@organizer_required
def admin_detail(org_id: int) -> Any:
    return _admin_detail(_organization(org_id))


@bp.post("/admin/organizations/<int:org_id>/rename")
@organizer_required
def admin_rename(org_id: int) -> Any:
    organization = _organization(org_id)
    form = RenameForm()
    if not form.validate_on_submit():
        return _admin_detail(organization, 400, rename=form)
    try:
        service.rename_organization(organization, form.name.data)
    except OrganizationError as error:
        db.session.rollback()
        form.name.errors.append(error.message)
        return _admin_detail(organization, error.status, rename=form)
    flash(_("The organization is renamed."), "success")
    return redirect(url_for(".admin_detail", org_id=org_id))


@bp.post("/admin/organizations/<int:org_id>/target")
@organizer_required
def admin_target(org_id: int) -> Any:
    organization = _organization(org_id)
    form = TargetForm()
    if not form.validate_on_submit():
        return _admin_detail(organization, 400, target=form)
    service.set_target(organization, form.monthly_target_hours.data)
    flash(_("The monthly target is saved."), "success")
    return redirect(url_for(".admin_detail", org_id=org_id))


@bp.post("/admin/organizations/<int:org_id>/members")
@organizer_required
def admin_add_member(org_id: int) -> Any:
    organization = _organization(org_id)
    form = MemberEmailForm()
    if not form.validate_on_submit():
        return _admin_detail(organization, 400, member=form)
    try:
        person, joined = service.add_member(organization, form.email.data)
    except OrganizationError as error:
        form.email.errors.append(error.message)
        return _admin_detail(organization, error.status, member=form)
    if joined:
        flash(_("%(name)s joined the organization.", name=person.name), "success")
    else:
        flash(_("%(name)s is on the staff already.", name=person.name), "info")
    return redirect(url_for(".admin_detail", org_id=org_id))


@bp.post("/admin/organizations/<int:org_id>/members/<int:user_id>/move")
@organizer_required
def admin_move_member(org_id: int, user_id: int) -> Response:
    organization = _organization(org_id)
    form = MoveForm()
    if not form.validate_on_submit() or form.to.data is None:
        abort(400, _("Choose an organization."))
    try:
        person = service.move_member(organization, user_id, form.to.data, by=current_user)
    except OrganizationError as error:
        _fail(error)
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
    organization = _organization(org_id)
    _check_action()
    try:
        person = service.set_manager(organization, user_id, action == "appoint")
    except OrganizationError as error:
        _fail(error)
    if person.is_manager:
        flash(_("%(name)s is a manager now.", name=person.name), "success")
    else:
        flash(_("%(name)s is no longer a manager.", name=person.name), "success")
    return redirect(url_for(".admin_detail", org_id=org_id))


# -- managers and organizers: /organizations/<id>/ -------------------------------------


@bp.get("/organizations/<int:org_id>/")
@login_required
def staff(org_id: int) -> str:
    organization = _organization(org_id)
    today = hours.local_day(utcnow())
    # The chart: the staff by share of this month's target reached, counted by the
    # database in one query (the hours report's own summary, for this organization).
    summary = reports.hours_summary(people.Scope(organization.id), today.replace(day=1))
    return render_template(
        "organizations/staff.html",
        organization=organization,
        rows=service.staff_rows(organization, today),
        target=service.target_of(organization),
        summary=summary,
        chart=hours_bars(summary),
        action=ActionForm(),
        archive_url=archive_url,
    )


@bp.post("/organizations/<int:org_id>/staff/<int:user_id>/remove")
@login_required
def remove_staff(org_id: int, user_id: int) -> Response:
    organization = _organization(org_id)
    _check_action()
    try:
        person = service.remove_from_organization(organization, user_id, by=current_user)
    except OrganizationError as error:
        _fail(error)
    flash(
        _("%(name)s is no longer on the staff; their account and records stay.", name=person.name),
        "success",
    )
    return redirect(url_for(".staff", org_id=org_id))


@bp.post("/organizations/<int:org_id>/setup-links")
@login_required
def mail_setup_links(org_id: int) -> Response:
    """Set-password links by e-mail to the staff chosen (or all) who have no password yet."""
    organization = _organization(org_id)
    form = SetupLinksForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        people = staff_mail.waiting_for_password(organization, form.user.data or None)
    except OrganizationError as error:
        _fail(error)
    if people:
        _flash_mail_report(staff_mail.mail_setup_links(organization, people))
    else:
        flash(_("Everyone chosen has set a password already; nothing was sent."), "info")
    return redirect(url_for(".staff", org_id=org_id))


# -- staff groups ----------------------------------------------------------------------


def _groups_page(
    organization: Organization,
    status: int = 200,
    form: GroupForm | None = None,
    errors: dict[int, str] | None = None,
) -> Any:
    return render_template(
        "organizations/groups.html",
        organization=organization,
        groups=service.groups_of(organization),
        staff=service.members(organization),
        form=form or GroupForm(formdata=None),
        errors=errors or {},
        action=ActionForm(),
    ), status


@bp.route("/organizations/<int:org_id>/groups", methods=["GET", "POST"])
@login_required
def groups(org_id: int) -> Any:
    organization = _organization(org_id)
    form = GroupForm()
    if form.validate_on_submit():
        try:
            group = service.create_group(organization, form.name.data)
        except OrganizationError as error:
            form.name.errors.append(error.message)
            return _groups_page(organization, error.status, form)
        flash(_("The group %(name)s is created.", name=group.name), "success")
        return redirect(url_for(".groups", org_id=org_id))
    return _groups_page(organization, 400 if form.errors else 200, form)


@bp.post("/organizations/<int:org_id>/groups/<int:group_id>/rename")
@login_required
def rename_group(org_id: int, group_id: int) -> Any:
    organization = _organization(org_id)
    group = _group(organization, group_id)
    form = GroupForm()
    if not form.validate_on_submit():
        message = next(iter(form.errors.values()), [_("Enter a name.")])[0]
        return _groups_page(organization, 400, errors={group.id: str(message)})
    try:
        service.rename_group(group, form.name.data)
    except OrganizationError as error:
        db.session.rollback()
        return _groups_page(organization, error.status, errors={group.id: error.message})
    flash(_("The group is renamed."), "success")
    return redirect(url_for(".groups", org_id=org_id))


@bp.post("/organizations/<int:org_id>/groups/<int:group_id>/delete")
@login_required
def delete_group(org_id: int, group_id: int) -> Response:
    organization = _organization(org_id)
    group = _group(organization, group_id)
    _check_action()
    service.delete_group(group)
    flash(_("The group is deleted; its members stay on the staff."), "success")
    return redirect(url_for(".groups", org_id=org_id))


@bp.post("/organizations/<int:org_id>/groups/<int:group_id>/members")
@login_required
def add_group_member(org_id: int, group_id: int) -> Response:
    organization = _organization(org_id)
    group = _group(organization, group_id)
    form = GroupMemberForm()
    if not form.validate_on_submit() or form.user.data is None:
        abort(400, _("Choose a staff member."))
    try:
        person = service.add_to_group(group, form.user.data)
    except OrganizationError as error:
        _fail(error)
    flash(_("%(name)s is in %(group)s.", name=person.name, group=group.name), "success")
    return redirect(url_for(".groups", org_id=org_id))


@bp.post("/organizations/<int:org_id>/groups/<int:group_id>/members/<int:user_id>/remove")
@login_required
def remove_group_member(org_id: int, group_id: int, user_id: int) -> Response:
    organization = _organization(org_id)
    group = _group(organization, group_id)
    _check_action()
    try:
        service.remove_from_group(group, user_id)
    except OrganizationError as error:
        _fail(error)
    flash(_("Removed from %(group)s.", group=group.name), "success")
    return redirect(url_for(".groups", org_id=org_id))


# -- invite links ----------------------------------------------------------------------


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
        SelectChoice(str(group.id), group.name) for group in service.groups_of(organization)
    ]
    form.group.choices = mail_form.mail_group.choices = choices
    return form, mail_form


def _invites_page(
    organization: Organization,
    form: InviteForm,
    mail_form: InviteMailForm,
    new_url: str | None = None,
    status: int = 200,
) -> Any:
    return render_template(
        "organizations/invites.html",
        organization=organization,
        form=form,
        mail_form=mail_form,
        invites=service.active_invites(organization),
        new_url=new_url,
        action=ActionForm(),
    ), status


@bp.route("/organizations/<int:org_id>/invites", methods=["GET", "POST"])
@login_required
def invites(org_id: int) -> Any:
    organization = _organization(org_id)
    form, mail_form = _invite_forms(organization, "link" if request.method == "POST" else None)
    new_url, status = None, 200
    if form.validate_on_submit():
        try:
            _invite, token = service.create_invite(
                organization,
                by=current_user,
                group_id=form.group.data,
                days=form.days.data,
                max_uses=form.max_uses.data,
            )
        except OrganizationError as error:
            _fail(error)
        new_url = url_for(".invite", token=token, _external=True)
        flash(_("Your new invite link is below. Copy it now: it is shown only once."), "success")
        form.days.data, form.max_uses.data = form.days.default, form.max_uses.default
    elif form.errors:
        status = 400
    return _invites_page(organization, form, mail_form, new_url, status)


@bp.post("/organizations/<int:org_id>/invites/mail")
@login_required
def mail_invites(org_id: int) -> Any:
    """Invite links by e-mail: one single-use link per address, sent by a job."""
    organization = _organization(org_id)
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
        except OrganizationError as error:
            _fail(error)
        else:
            _flash_mail_report(report)
            return redirect(url_for(".invites", org_id=org_id))
    return _invites_page(organization, form, mail_form, status=400)


def _flash_mail_report(report: staff_mail.MailReport) -> None:
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


@bp.post("/organizations/<int:org_id>/invites/<int:invite_id>/revoke")
@login_required
def revoke_invite(org_id: int, invite_id: int) -> Response:
    organization = _organization(org_id)
    _check_action()
    try:
        service.revoke_invite(organization, invite_id)
    except OrganizationError as error:
        _fail(error)
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
def invite(token: str) -> Any:
    found = service.find_invite(token)
    if found is None:
        _invalid_invite()
    organization = found.organization
    if current_user.is_authenticated:
        return _accept(token, found.organization, found.group_id)
    form = RegisterForm()
    if form.validate_on_submit():
        check_signup_rate()
        try:
            user = service.register_with_invite(
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
            _log_in(user)
            flash(
                _("Welcome, %(name)s! You joined %(org)s.", name=user.name, org=organization.name),
                "success",
            )
            return redirect(url_for("learn.dashboard"))
    return render_template(
        "organizations/invite.html", organization=organization, form=form, token=token
    ), 400 if form.errors else 200


def _accept(token: str, organization: Organization, group_id: int | None) -> Any:
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
            _organization, counted = service.accept_invite(token, current_user)
        except NotFound:
            _invalid_invite()
        except OrganizationError as error:
            _fail(error)
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


# -- importing staff from CSV ----------------------------------------------------------


def _upload_page(organization: Organization, form: Any, error: str = "", status: int = 200) -> Any:
    return render_template(
        "organizations/import.html",
        organization=organization,
        form=form,
        error=error,
        max_rows=staff_import.MAX_ROWS,
    ), status


def _preview_page(organization: Organization, preview: staff_import.Preview, status: int) -> Any:
    return render_template(
        "organizations/import_preview.html",
        organization=organization,
        preview=preview,
        form=ImportConfirmForm(formdata=None, csv_text=preview.text),
        outcomes=staff_import,
    ), status


@bp.route("/organizations/<int:org_id>/import", methods=["GET", "POST"])
@login_required
def import_staff(org_id: int) -> Any:
    organization = _organization(org_id)
    form = ImportUploadForm()
    if not form.validate_on_submit():
        return _upload_page(organization, form, status=400 if form.errors else 200)
    data = form.file.data.stream.read(staff_import.MAX_BYTES + 1)
    try:
        decoded = staff_import.decode(data)
        preview = staff_import.preview(organization, decoded.text, decoded.encoding)
    except staff_import.ImportFileError as error:
        return _upload_page(organization, form, error.message, error.status)
    return _preview_page(organization, preview, 200 if preview.ok else 400)


@bp.post("/organizations/<int:org_id>/import/confirm")
@login_required
def confirm_import(org_id: int) -> Any:
    organization = _organization(org_id)
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        outcome = staff_import.run(
            organization, form.csv_text.data, skip_invalid=form.skip_invalid.data
        )
    except staff_import.ImportFileError as error:
        return _upload_page(organization, ImportUploadForm(), error.message, error.status)
    except staff_import.ImportRejected as rejected:
        return _preview_page(organization, rejected.preview, 400)
    except service.Conflict as error:
        flash(error.message, "error")
        preview = staff_import.preview(organization, form.csv_text.data)
        return _preview_page(organization, preview, 409)
    links = [
        [
            link.email,
            link.name,
            url_for(".setup_account", token=link.token, _external=True),
            aware(link.expires_at).strftime("%Y-%m-%d %H:%M UTC"),
        ]
        for link in outcome.links
    ]
    signed = _links_serializer().dumps({"org": organization.id, "links": links})
    return render_template(
        "organizations/import_done.html",
        organization=organization,
        outcome=outcome,
        links=links,
        download=LinksDownloadForm(formdata=None, links=signed),
        action=ActionForm(),
    )


def _links_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=LINKS_SALT)


@bp.post("/organizations/<int:org_id>/import/links.csv")
@login_required
def import_links(org_id: int) -> Response:
    """The set-password links of an import as CSV: the page carried them, signed, so they
    need not be stored; a link list is downloadable for an hour, for its organization."""
    organization = _organization(org_id)
    form = LinksDownloadForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        payload = _links_serializer().loads(form.links.data, max_age=LINKS_MAX_AGE)
    except BadSignature:
        abort(400, _("This list expired. The links were shown once after the import."))
    if not isinstance(payload, dict) or payload.get("org") != organization.id:
        abort(404)
    return csv_response(
        payload["links"],
        [_("E-mail"), _("Name"), _("Set-password link"), _("Expires")],
        "set-password-links",
    )


# -- one-time set-password links -------------------------------------------------------


def _invalid_setup_link() -> NoReturn:
    abort(
        404,
        _(
            "This link does not work: it is unknown, expired or used already. "
            "Ask your manager for a new one."
        ),
    )


@bp.route("/account/setup/<token>", methods=["GET", "POST"])
def setup_account(token: str) -> Any:
    found = account_tokens.find_setup_token(token)
    if found is None:
        _invalid_setup_link()
    form = SetPasswordForm()
    form.account = found.user  # the password must differ from its e-mail and name
    if form.validate_on_submit():
        user = account_tokens.set_password_with_token(token, form.password.data)
        if user is None:
            _invalid_setup_link()
        flash(_("Your password is set. Log in with your e-mail address."), "success")
        return redirect(url_for("auth.login"))
    return render_template(
        "organizations/setup_account.html", form=form, email=found.user.email
    ), 400 if form.errors else 200
