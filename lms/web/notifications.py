"""Notifications: the list (``/notifications``), opening one (it is marked read), marking
all read, and each user's choices per kind (docs/notifications.md). Every page is the
logged-in user's own: another user's notification is a 404."""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from lms.services.notifications import inbox, kinds, preferences

bp = Blueprint("notifications", __name__)

PAGE = re.compile(r"[0-9]{1,9}")
CHANNEL_LABELS = {
    "both": _l("In the app and by e-mail"),
    "in_app": _l("In the app"),
    "email": _l("By e-mail"),
    "none": _l("Off"),
}
GROUP_LABELS = {
    "learning": _l("Learning and live sessions"),
    "community": _l("Community"),
    "teaching": _l("Teaching"),
    "account": _l("Account"),
    "other": _l("Other"),
}


class ActionForm(FlaskForm):
    """A POST with nothing but the CSRF token (open, mark all read)."""


def preferences_form(is_trainer: bool, current: dict[str, str]) -> FlaskForm:
    """A form with one choice per kind the user may choose, set to ``current``."""

    class PreferencesForm(FlaskForm):
        pass

    for kind in kinds.choosable(is_trainer):
        choices = [SelectChoice(channel, CHANNEL_LABELS[channel]) for channel in kind.channels]
        setattr(
            PreferencesForm,
            kind.name,
            SelectField(kind.label, choices=choices, default=current[kind.name]),
        )
    return PreferencesForm()


@bp.get("/notifications")
@login_required
def index() -> tuple[str, int]:
    raw = request.args.get("page", "1").strip()
    if not PAGE.fullmatch(raw):
        abort(400)
    page = inbox.page_of(current_user, int(raw))
    return render_template("notifications/index.html", page=page, form=ActionForm()), 200


@bp.post("/notifications/<int:notification_id>/open")
@login_required
def open_one(notification_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    target = inbox.open_one(current_user, notification_id)
    if target is None:
        abort(404)
    endpoint, values = target
    return redirect(url_for(endpoint, **values))


@bp.post("/notifications/read")
@login_required
def read_all() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    inbox.read_all(current_user)
    flash(_("All notifications are marked read."), "success")
    return redirect(url_for(".index"))


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings() -> Response | tuple[str, int]:
    form = preferences_form(current_user.is_trainer, preferences.of(current_user))
    if request.method == "POST":
        if not form.validate_on_submit():
            return _settings_page(form), 400
        choices = {
            kind.name: form[kind.name].data for kind in kinds.choosable(current_user.is_trainer)
        }
        preferences.save(current_user, choices)
        flash(_("Your notification settings are saved."), "success")
        return redirect(url_for(".settings"))
    return _settings_page(form), 200


def _settings_page(form: FlaskForm) -> str:
    groups: dict[str, list] = {}
    for kind in kinds.choosable(current_user.is_trainer):
        groups.setdefault(kind.group, []).append(form[kind.name])
    return render_template(
        "notifications/settings.html", form=form, groups=groups, group_labels=GROUP_LABELS
    )
