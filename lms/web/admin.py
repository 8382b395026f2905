"""Organizer pages: the installed camp plugins, enable/disable, curriculum sync."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from lms.services import accounts, camps, hours, reload, user_admin
from lms.services import plugins as plugin_service
from lms.services.curriculum import CurriculumError
from lms.web.admin_forms import NewUserForm
from lms.web.forms import ActionForm, UserAdminForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


def organizer_required(view: Any) -> Any:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_organizer:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


TARGET_HINT = _l("Enter whole hours from 0 to 744, or leave it empty.")


class CampTargetForm(FlaskForm):
    target = IntegerField(
        _l("Monthly target (hours)"),
        validators=[
            Optional(),
            NumberRange(min=0, max=hours.MAX_TARGET_HOURS, message=TARGET_HINT),
        ],
    )


@bp.get("/camps")
@organizer_required
def camp_list() -> str:
    return _camp_page()


def _camp_page(errors: dict[str, list[str]] | None = None, submitted: dict | None = None) -> str:
    targets = {**hours.camp_targets(), **(submitted or {})}
    return render_template(
        "admin/camps.html",
        rows=plugin_service.plugin_rows(),
        missing=camps.missing_camps(),
        pending=camps.registry().pending(),
        form=ActionForm(),
        targets=targets,
        target_errors=errors or {},
    )


@bp.post("/camps/<slug>/target")
@organizer_required
def camp_target(slug: str) -> Response | tuple[str, int]:
    """Set or clear a camp's monthly target; a bad value re-shows the page with the error."""
    camp = camps.get_camp(slug)
    if camp is None:
        abort(404)
    form = CampTargetForm()
    if not form.validate_on_submit():
        # One hint for any bad value (not a number, out of range), and a CSRF failure's own.
        errors = [str(TARGET_HINT)] if form.target.errors else []
        errors += [str(error) for error in form.errors.get("csrf_token", [])]
        raw = (form.target.raw_data or [""])[0][:10]
        return _camp_page({slug: errors}, {slug: raw}), 400
    hours.set_camp_target(camp, form.target.data)
    if form.target.data is None:
        flash(_("%(camp)s has no monthly target of its own now.", camp=slug), "success")
    else:
        flash(
            _("%(camp)s: monthly target %(hours)d hours.", camp=slug, hours=form.target.data),
            "success",
        )
    return redirect(url_for(".camp_list"))


@bp.get("/camps.json")
@organizer_required
def camp_list_json() -> Response:
    return jsonify(plugin_service.plugin_rows())


@bp.post("/camps/<slug>/<action>")
@organizer_required
def camp_action(slug: str, action: str) -> Response:
    if action == "remove":
        return _remove_camp(slug)
    if action not in ("enable", "disable", "sync"):
        abort(404)
    if slug not in camps.registry().camps:
        abort(404)
    try:
        if action == "sync":
            report = camps.sync([slug])[slug]
        else:  # enabling a camp never synced syncs it first
            camps.set_enabled(slug, action == "enable")
    except CurriculumError as exc:
        flash(_("%(camp)s was not synced: %(error)s", camp=slug, error=str(exc)), "error")
        return redirect(url_for(".camp_list"))
    if action == "sync":
        _flash_if_outdated(slug)
        flash(
            _(
                "%(camp)s synced: %(created)d created, %(updated)d updated, %(archived)d archived.",
                camp=slug,
                created=report.created,
                updated=report.updated,
                archived=report.archived,
            ),
            "success",
        )
    else:
        _flash_switched(slug, action == "enable")
    return redirect(url_for(".camp_list"))


def _flash_if_outdated(slug: str) -> None:
    plugin = camps.registry().camp_plugin[slug]
    if any(item.name == plugin for item in camps.registry().pending()):
        flash(
            _(
                "The installed %(plugin)s is newer than the code running: press Load to use "
                "its new code.",
                plugin=plugin,
            ),
            "info",
        )


def _remove_camp(slug: str) -> Response:
    try:
        archived = camps.remove(slug)
    except LookupError:
        abort(404)
    flash(
        _(
            "%(camp)s is removed: %(count)d courses archived; learners keep their records.",
            camp=slug,
            count=archived,
        ),
        "success",
    )
    return redirect(url_for(".camp_list"))


def _flash_switched(name: str, enabled: bool) -> None:
    if enabled:
        flash(_("%(name)s is enabled.", name=name), "success")
    else:
        flash(_("%(name)s is disabled.", name=name), "success")


@bp.post("/plugins/reload")
@organizer_required
def reload_plugins() -> Response:
    """Load the installed plugins again: gunicorn replaces its workers gracefully, the
    development server restarts; elsewhere the page says to restart by hand."""
    try:
        reload.reload(in_request=True)
    except reload.ReloadUnavailable as exc:
        flash(_("The plugins could not be loaded again: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for(".camp_list"))
    flash(
        _("The server is loading the plugins again: reload this page in a few seconds."),
        "success",
    )
    return redirect(url_for(".camp_list"))


@bp.post("/plugins/<name>/<action>")
@organizer_required
def plugin_action(name: str, action: str) -> Response:
    """Switch a plugin that is not a camp on or off, or clear its recorded run-time error."""
    if action not in ("enable", "disable", "clear") or name not in camps.registry().plugins:
        abort(404)
    if action == "clear":
        plugin_service.clear_failure(name)
        flash(_("%(plugin)s: the error is cleared.", plugin=name), "success")
        return redirect(url_for(".camp_list"))
    try:
        plugin_service.switch_plugin(name, action == "enable")
    except LookupError:
        abort(404)  # a camp plugin: its camps are switched one by one (camp_action)
    _flash_switched(name, action == "enable")
    return redirect(url_for(".camp_list"))


MAX_PAGE = 100_000  # pages of 50: beyond any academy, and the offset fits every database


@bp.get("/users")
@organizer_required
def users() -> str:
    query = request.args.get("q", "")[:100]
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    return render_template(
        "admin/users.html",
        users=accounts.search_users(query, page),
        query=query,
        page=page,
        form=UserAdminForm(formdata=None),
        action=ActionForm(),
    )


@bp.post("/users/<int:user_id>")
@organizer_required
def update_user(user_id: int) -> Response:
    user = user_admin.get_user(user_id)
    if user is None:
        abort(404)
    form = UserAdminForm()
    if not form.validate_on_submit():
        abort(400, _("Choose a role."))
    try:
        accounts.set_role(user, form.role.data, by=current_user)
        accounts.set_active(user, form.active.data == "1", by=current_user)
    except PermissionError:
        abort(403, _("You cannot change your own account here."))
    flash(_("%(name)s is saved.", name=user.name), "success")
    return redirect(url_for(".users", q=request.args.get("q", "")))


def _new_user_form() -> NewUserForm:
    form = NewUserForm()
    form.organization.choices = [SelectChoice(0, _("— none —"))] + [
        SelectChoice(org.id, org.name) for org in user_admin.organizations()
    ]
    return form


@bp.route("/users/new", methods=["GET", "POST"])
@organizer_required
def create_user() -> str | tuple[str, int]:
    """Create an account: with an initial password, or with a set-password link shown once."""
    form = _new_user_form()
    if form.validate_on_submit():
        try:
            created = user_admin.create_account(
                by=current_user,
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                locale=form.locale.data,
                organization_id=form.organization.data or None,
                is_manager=form.is_manager.data,
                password=form.password.data or None,
            )
        except accounts.EmailTaken:
            form.email.errors.append(_("An account with this e-mail address exists already."))
        except user_admin.AccountInvalid as exc:
            form.form_errors.append(str(exc))
        else:
            link = None
            if created.link is not None:
                link = url_for(
                    "organizations.setup_account", token=created.link.token, _external=True
                )
            # The link is shown on this page only (never put in a flash message: the session
            # cookie is signed, not encrypted).
            return render_template("admin/user_created.html", user=created.user, link=link)
    return render_template("admin/new_user.html", form=form), 400 if form.errors else 200
