"""Importing staff from CSV (upload, preview, confirm, the links as CSV) and the one-time
set-password page those links open."""

from __future__ import annotations

from flask import abort, current_app, flash, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from lms.models import Organization
from lms.models._base import aware
from lms.services import account_tokens, staff_import
from lms.services.errors import Conflict
from lms.web.auth import PasswordLinkPage, password_link_page
from lms.web.downloads import csv_response
from lms.web.errors import status_of
from lms.web.forms import ActionForm
from lms.web.organization_forms import (
    ImportConfirmForm,
    ImportUploadForm,
    LinksDownloadForm,
    SetPasswordForm,
)
from lms.web.organizations.blueprint import bp, organization_or_404

LINKS_SALT = "staff-import-links"
LINKS_MAX_AGE = 3600  # the set-password links can be downloaded for an hour after the import


def _upload_page(
    organization: Organization, form: FlaskForm, error: str = "", status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "organizations/import.html",
        organization=organization,
        form=form,
        error=error,
        max_rows=staff_import.MAX_ROWS,
    ), status


def _preview_page(
    organization: Organization, preview: staff_import.Preview, status: int
) -> ResponseReturnValue:
    return render_template(
        "organizations/import_preview.html",
        organization=organization,
        preview=preview,
        form=ImportConfirmForm(formdata=None, csv_text=preview.text),
        outcomes=staff_import,
    ), status


@bp.route("/organizations/<int:org_id>/import", methods=["GET", "POST"])
@login_required
def import_staff(org_id: int) -> ResponseReturnValue:
    organization = organization_or_404(org_id)
    form = ImportUploadForm()
    if not form.validate_on_submit():
        return _upload_page(organization, form, status=400 if form.errors else 200)
    data = form.file.data.stream.read(staff_import.MAX_BYTES + 1)
    try:
        decoded = staff_import.decode(data)
        preview = staff_import.preview(organization, decoded.text, decoded.encoding)
    except staff_import.ImportFileError as error:
        return _upload_page(organization, form, error.message, status_of(error))
    return _preview_page(organization, preview, 200 if preview.ok else 400)


@bp.post("/organizations/<int:org_id>/import/confirm")
@login_required
def confirm_import(org_id: int) -> ResponseReturnValue:
    organization = organization_or_404(org_id)
    form = ImportConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        outcome = staff_import.run(
            organization, form.csv_text.data, skip_invalid=form.skip_invalid.data
        )
    except staff_import.ImportFileError as error:
        return _upload_page(organization, ImportUploadForm(), error.message, status_of(error))
    except staff_import.ImportRejected as rejected:
        return _preview_page(organization, rejected.preview, 400)
    except Conflict as error:
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
    signed = links_serializer().dumps({"org": organization.id, "links": links})
    return render_template(
        "organizations/import_done.html",
        organization=organization,
        outcome=outcome,
        links=links,
        download=LinksDownloadForm(formdata=None, links=signed),
        action=ActionForm(),
    )


def links_serializer() -> URLSafeTimedSerializer:
    """Signs the links an import page carries to its CSV download."""
    return URLSafeTimedSerializer(current_app.secret_key, salt=LINKS_SALT)


@bp.post("/organizations/<int:org_id>/import/links.csv")
@login_required
def import_links(org_id: int) -> Response:
    """The set-password links of an import as CSV: the page carried them, signed, so they
    need not be stored; a link list is downloadable for an hour, for its organization."""
    organization = organization_or_404(org_id)
    form = LinksDownloadForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        payload = links_serializer().loads(form.links.data, max_age=LINKS_MAX_AGE)
    except BadSignature:
        abort(400, _("This list expired. The links were shown once after the import."))
    if not isinstance(payload, dict) or payload.get("org") != organization.id:
        abort(404)
    return csv_response(
        payload["links"],
        [_("E-mail"), _("Name"), _("Set-password link"), _("Expires")],
        "set-password-links",
    )


# The set-password link of an imported account: the password-reset page's implementation.
SETUP_PAGE = PasswordLinkPage(
    find=account_tokens.find_setup_token,
    spend=account_tokens.set_password_with_token,
    form=SetPasswordForm,
    template="organizations/setup_account.html",
    invalid=_l(
        "This link does not work: it is unknown, expired or used already. "
        "Ask your manager for a new one."
    ),
    done=_l("Your password is set. Log in with your e-mail address."),
)


@bp.route("/account/setup/<token>", methods=["GET", "POST"])
def setup_account(token: str) -> ResponseReturnValue:
    return password_link_page(token, SETUP_PAGE)
