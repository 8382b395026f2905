"""Calendar feeds: subscribe to live sessions in any calendar application."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from lms.services import feeds
from lms.services.camps import get_visible_camp, visible_camps
from lms.services.site import site_name
from lms.web.downloads import send_download
from lms.web.forms import ActionForm

bp = Blueprint("feeds", __name__, url_prefix="/calendar")


class FeedForm(FlaskForm):
    camp = SelectField(choices=[])


@bp.get("/feed/<token>.ics")
def feed(token: str) -> Response:
    disabled = feeds.disabled_camp_ids()
    found = feeds.find(token, disabled)
    if found is None:
        abort(404)
    name = _("%(site)s live sessions", site=site_name())
    body = feeds.to_ics(
        feeds.sessions_for(found, disabled),
        name,
        lambda session: url_for("live.session", session_id=session.id, _external=True),
        feeds.waitlisted_ids(found),
    )
    response = send_download(body, "camp-lms.ics", "text/calendar", inline=True)
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/academy.ics")
def academy_feed() -> Response:
    """The academy's public calendar: the activity day and every other visible session."""
    body = feeds.to_ics(
        feeds.academy_sessions(feeds.disabled_camp_ids()),
        _("%(site)s: the academy's live sessions", site=site_name()),
        lambda session: url_for("live.session", session_id=session.id, _external=True),
    )
    response = send_download(body, "academy.ics", "text/calendar", inline=True)
    response.headers["Cache-Control"] = "public, max-age=900"
    return response


@bp.route("/feeds", methods=["GET", "POST"])
@login_required
def manage() -> str | Response:
    form = FeedForm()
    form.camp.choices = [SelectChoice("", "")] + [
        SelectChoice(c.slug, c.title) for c in visible_camps()
    ]
    new_url = None
    if form.validate_on_submit():
        camp = None
        if form.camp.data:
            camp = get_visible_camp(form.camp.data)
            if camp is None:
                abort(404)
            if not current_user.is_organizer:
                abort(403)
        _feed, token = feeds.create_feed(current_user, camp)
        new_url = url_for(".feed", token=token, _external=True)
        flash(_("Your new calendar link is below. Copy it now: it is shown only once."), "success")
    elif form.errors:
        abort(400)
    return render_template(
        "calendar/manage.html",
        feeds=feeds.feeds_of(current_user),
        new_url=new_url,
        form=form,
        action=ActionForm(),
        camps=visible_camps() if current_user.is_organizer else [],
    )


@bp.post("/feeds/<int:feed_id>/revoke")
@login_required
def revoke(feed_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    if not feeds.revoke(current_user, feed_id):
        abort(404)
    flash(_("The link is revoked: calendars using it get nothing more."), "info")
    return redirect(url_for(".manage"))
