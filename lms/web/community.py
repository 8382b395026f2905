"""Community pages of the activity day: the maker-salon case library and the members' discussion.

Every page is for the academy's members, so every route needs a login. The rules of who
may do what live in :mod:`lms.services.community`; these views parse, call and render.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from lms.extensions import db
from lms.models import DiscussionTopic, LiveSession, Organization, SalonCase
from lms.models._base import utcnow
from lms.services import community, live
from lms.services.hours import academy_timezone
from lms.services.lessons import render_markdown
from lms.web.community_forms import (
    CASE_TOPIC_LABELS,
    TOPIC_KIND_LABELS,
    CaseCommentForm,
    CaseForm,
    LibraryFilterForm,
    TopicCommentForm,
    TopicFilterForm,
    TopicForm,
)

bp = Blueprint("community", __name__)

# Sessions offered when linking a case or topic to the day it was presented.
SESSIONS_BACK = timedelta(days=400)
SESSIONS_AHEAD_DAYS = 520
MAX_PAGE = 100_000


@bp.context_processor
def labels() -> dict[str, Any]:
    return {
        "case_topic_labels": CASE_TOPIC_LABELS,
        "topic_kind_labels": TOPIC_KIND_LABELS,
        "local_time": _local_time,
        "iso_time": lambda moment: live.aware(moment).isoformat(timespec="seconds"),
    }


def _local_time(moment: datetime) -> str:
    """A stored time in the academy's time zone (the activity day is in China)."""
    return f"{live.local(moment, academy_timezone()):%Y-%m-%d %H:%M}"


def _page_number() -> int:
    """The ``page`` argument, kept within what a database offset can hold."""
    return min(max(1, request.args.get("page", 1, type=int) or 1), MAX_PAGE)


def _status(form: Any) -> int:
    return 400 if form.errors else 200


def _session_choices() -> list[SelectChoice]:
    """Recent and coming live sessions the user can see, newest first (0: none)."""
    sessions = live.upcoming(
        live.camp_ids_visible(),
        start=utcnow() - SESSIONS_BACK,
        days=SESSIONS_AHEAD_DAYS,
    )
    return [SelectChoice(0, _("— none —"))] + [
        SelectChoice(
            session.id,
            f"{live.local(session.starts_at, session.timezone):%Y-%m-%d} · {session.title}",
        )
        for session in reversed(sessions)
    ]


def _chosen_session(session_id: int | None) -> LiveSession | None:
    if not session_id:
        return None
    found = live.visible_session(session_id, live.camp_ids_visible())
    if found is None:
        abort(400, _("Unknown live session."))
    return found


# -- the maker salon: case library -----------------------------------------------------


def case_or_404(case_id: int) -> SalonCase:
    found = community.get_case(case_id)
    if found is None:
        abort(404)
    return found


@bp.get("/salon/")
@login_required
def cases() -> tuple[str, int]:
    form = LibraryFilterForm(request.args)
    page = None
    if form.validate():
        try:
            page = community.list_cases(
                topic=form.topic.data or None, query=form.q.data, page=_page_number()
            )
        except community.CommunityError as exc:
            form.q.errors.append(str(exc))
    return render_template(
        "community/cases.html",
        form=form,
        page=page,
        can_create=community.can_create_case(current_user),
    ), _status(form)


def _case_form() -> CaseForm:
    form = CaseForm()
    form.session.choices = _session_choices()
    if current_user.is_trainer:
        organizations = db.session.scalars(db.select(Organization).order_by(Organization.name))
        form.organization.choices = [SelectChoice(0, _("— none —"))] + [
            SelectChoice(org.id, org.name) for org in organizations
        ]
    else:  # a manager presents their own company only
        own = current_user.organization
        form.organization.choices = [SelectChoice(own.id, own.name)]
        if request.method == "GET":
            form.organization.data = own.id
            form.company.data = own.name
    return form


@bp.route("/salon/new", methods=["GET", "POST"])
@login_required
def new_case() -> str | Response | tuple[str, int]:
    if not community.can_create_case(current_user):
        abort(403)
    form = _case_form()
    if form.validate_on_submit():
        try:
            created = community.create_case(
                current_user,
                form.company.data,
                form.topic.data,
                form.title.data,
                form.body.data,
                session=_chosen_session(form.session.data),
                organization_id=form.organization.data or None,
            )
        except community.NotAllowed:
            abort(403, _("Learners can present a case of their own company only."))
        except community.CommunityError as exc:
            form.form_errors.append(str(exc))
        else:
            flash(_("The case is in the library."), "success")
            return redirect(url_for(".case", case_id=created.id))
    return render_template("community/new_case.html", form=form), _status(form)


def _case_page(found: SalonCase, form: CaseCommentForm) -> str:
    return render_template(
        "community/case.html",
        case=found,
        body=render_markdown(found.body),
        comments=community.case_comments(found),
        form=form,
    )


@bp.get("/salon/<int:case_id>")
@login_required
def case(case_id: int) -> str:
    return _case_page(case_or_404(case_id), CaseCommentForm(formdata=None))


@bp.post("/salon/<int:case_id>/comments")
@login_required
def comment_case(case_id: int) -> Response | tuple[str, int]:
    found = case_or_404(case_id)
    form = CaseCommentForm()
    if form.validate_on_submit():
        try:
            community.add_case_comment(
                current_user, found, form.body.data, expert_review=form.expert_review.data
            )
        except community.NotAllowed:
            abort(403, _("Only trainers and organizers can post expert reviews."))
        except community.CommunityError as exc:
            form.body.errors.append(str(exc))
        else:
            flash(_("Thank you for your comment."), "success")
            return redirect(url_for(".case", case_id=found.id))
    return _case_page(found, form), 400


# -- the members' discussion -----------------------------------------------------------


def topic_or_404(topic_id: int) -> DiscussionTopic:
    found = community.get_topic(topic_id)
    if found is None:
        abort(404)
    return found


@bp.get("/discussions/")
@login_required
def topics() -> tuple[str, int]:
    form = TopicFilterForm(request.args)
    page = None
    if form.validate():
        page = community.list_topics(kind=form.kind.data or None, page=_page_number())
    return render_template(
        "community/topics.html",
        form=form,
        page=page,
        can_create=community.can_create_topic(current_user),
    ), _status(form)


@bp.route("/discussions/new", methods=["GET", "POST"])
@login_required
def new_topic() -> str | Response | tuple[str, int]:
    if not community.can_create_topic(current_user):
        abort(403)
    form = TopicForm()
    form.session.choices = _session_choices()
    if form.validate_on_submit():
        try:
            created = community.create_topic(
                current_user,
                form.kind.data,
                form.title.data,
                form.body.data,
                session=_chosen_session(form.session.data),
            )
        except community.CommunityError as exc:
            form.form_errors.append(str(exc))
        else:
            flash(_("The topic is open for discussion."), "success")
            return redirect(url_for(".topic", topic_id=created.id))
    return render_template("community/new_topic.html", form=form), _status(form)


def _topic_page(found: DiscussionTopic, form: TopicCommentForm) -> str:
    return render_template(
        "community/topic.html",
        topic=found,
        body=render_markdown(found.body),
        thread=community.thread(found),
        form=form,
    )


@bp.get("/discussions/<int:topic_id>")
@login_required
def topic(topic_id: int) -> str:
    return _topic_page(topic_or_404(topic_id), TopicCommentForm(formdata=None))


@bp.post("/discussions/<int:topic_id>/comments")
@login_required
def comment_topic(topic_id: int) -> Response | tuple[str, int]:
    found = topic_or_404(topic_id)
    form = TopicCommentForm()
    if form.validate_on_submit():
        parent_id = int(form.parent_id.data) if form.parent_id.data else None
        try:
            created = community.add_topic_comment(current_user, found, form.body.data, parent_id)
        except community.InvalidParent as exc:
            form.parent_id.errors.append(str(exc))
        except community.CommunityError as exc:
            form.body.errors.append(str(exc))
        else:
            flash(_("Thank you for your comment."), "success")
            return redirect(url_for(".topic", topic_id=found.id, _anchor=f"c{created.id}"))
    return _topic_page(found, form), 400
