"""Organizer pages for plugins' settings (the plugin list itself is on ``/admin/camps``)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from lms.services import settings
from lms.web.admin import organizer_required

bp = Blueprint("plugin_admin", __name__, url_prefix="/admin/plugins")


@bp.route("/<name>/settings", methods=["GET", "POST"])
@organizer_required
def edit_settings(name: str) -> str | Response:
    try:
        form_class = settings.form_class(name)
    except LookupError:
        abort(404)
    if form_class is None:
        abort(404)
    if request.method == "POST":
        form = form_class(request.form)
    else:
        form = form_class(data=settings.plugin_settings(name))
    locked = settings.locked_fields(name, form)
    if request.method == "POST":
        for field_name in locked:  # the environment wins; what was posted for it is ignored
            form[field_name].validators = []
        if form.validate():
            settings.save_settings(name, form, current_user.id)
            flash(_("The settings of %(plugin)s are saved.", plugin=name), "success")
            return redirect(url_for(".edit_settings", name=name))
    return (
        render_template(
            "admin/plugin_settings.html",
            name=name,
            form=form,
            locked=locked,
            environment_name=settings.environment_name,
        ),
        400 if request.method == "POST" else 200,
    )
