"""Course evaluations and live-session feedback: learners answer once; editors and organizers
see aggregates from five answers on."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.models import LiveSession
from lms.services import catalog, surveys
from lms.web.catalog import course_or_404
from lms.web.forms import ActionForm
from lms.web.teach import course_or_404 as editable_course_or_404
from lms.web.teach import trainer_required

bp = Blueprint("surveys", __name__)


def _form_page(subject: surveys.Subject, title: str, back: str, status: int = 200):
    return render_template(
        "surveys/answer.html",
        title=title,
        back=back,
        questions=surveys.questions_of(subject),
        text_of=surveys.text_of,
        answered=surveys.has_answered(subject, current_user),
        scale=surveys.SCALE,
        form=ActionForm(),
        values=request.form,
    ), status


def _answer(subject: surveys.Subject, title: str, back: str):
    if request.method == "GET":
        return _form_page(subject, title, back)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        surveys.answer(subject, current_user, request.form.to_dict())
    except surveys.InvalidAnswers:
        flash(_("Give every rating from 1 to 5; a comment has at most 2,000 characters."), "error")
        return _form_page(subject, title, back, 400)
    except surveys.AlreadyAnswered:
        abort(409, _("You have answered this survey already."))
    flash(_("Thank you: your answers are counted anonymously."), "success")
    return redirect(back)


@bp.route("/camps/<camp_slug>/<course_slug>/survey", methods=["GET", "POST"])
@login_required
def course(camp_slug: str, course_slug: str) -> Response | tuple[str, int]:
    found = course_or_404(camp_slug, course_slug)
    if catalog.enrollment_of(current_user, found) is None:
        abort(404)
    back = url_for("catalog.course", camp_slug=camp_slug, course_slug=course_slug)
    return _answer(surveys.Subject(course=found), found.title, back)


def _found(session: LiveSession | None) -> LiveSession:
    if session is None:
        abort(404)
    return session


@bp.route("/live/<int:session_id>/survey", methods=["GET", "POST"])
@login_required
def session(session_id: int) -> Response | tuple[str, int]:
    found = _found(surveys.attended_session(current_user, session_id))
    back = url_for("live.session", session_id=found.id)
    return _answer(surveys.Subject(session=found), found.title, back)


def _results_page(subject: surveys.Subject, title: str) -> str:
    return render_template(
        "surveys/results.html",
        title=title,
        results=surveys.results(subject),
        minimum=surveys.MIN_SHOWN,
    )


@bp.get("/reports/surveys/courses/<int:course_id>")
@trainer_required
def course_results(course_id: int) -> str:
    found = editable_course_or_404(course_id)
    return _results_page(surveys.Subject(course=found), found.title)


@bp.get("/reports/surveys/sessions/<int:session_id>")
@login_required
def session_results(session_id: int) -> str:
    if not current_user.is_organizer:
        abort(403)
    found = _found(surveys.find_session(session_id))
    return _results_page(surveys.Subject(session=found), found.title)
