"""Community pages of the activity day: the maker-salon case library and the members' discussion.

Every page is for the academy's members, so every route needs a login. The rules of who
may do what live in :mod:`lms.services.community`; these views parse, call and render.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from lms.models import LiveSession, Moderated, SalonCase
from lms.models._base import utcnow
from lms.services import accounts, community, live
from lms.services.hours import academy_timezone
from lms.services.lessons import render_markdown
from lms.web.community_forms import (
    CASE_TOPIC_LABELS,
    TOPIC_KIND_LABELS,
    CaseCommentForm,
    CaseForm,
    CommentEditForm,
    DeleteForm,
    LibraryFilterForm,
    ModerationForm,
    PostEditForm,
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
        "markdown": render_markdown,
        "can_edit": lambda item: community.can_edit(item, current_user),
        "can_delete": lambda item: community.can_delete(item, current_user),
        "is_moderator": community.is_moderator(current_user),
        "moderation_form": ModerationForm(formdata=None),
        "delete_form": DeleteForm(formdata=None),
    }


def _local_time(moment: datetime) -> str:
    """A stored time in the academy's time zone (the activity day is in China)."""
    return f"{live.local(moment, academy_timezone()):%Y-%m-%d %H:%M}"


def _page_number() -> int:
    """The ``page`` argument, kept within what a database offset can hold."""
    return min(max(1, request.args.get("page", 1, type=int) or 1), MAX_PAGE)


def _status(form: Any) -> int:
    return 400 if form.errors else 200


def _refused(exc: community.NotAllowed) -> NoReturn:
    """403, with the service's reason when it gave one (the editing window is over)."""
    abort(403, str(exc) if exc.args else None)


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


# -- the two areas: the salon's case library and the members' discussion ------------------


def post_or_404(area: str, post_id: int) -> Any:
    """The case or topic the user may see (hidden ones only to moderators), else 404."""
    found = community.find_post(area, post_id, current_user)
    if found is None:
        abort(404)
    return found


def comment_or_404(post: Any, comment_id: int) -> Any:
    found = community.find_comment(post, comment_id, current_user)
    if found is None:
        abort(404)
    return found


def _post_url(post: Any, anchor: str | None = None) -> str:
    if isinstance(post, SalonCase):
        return url_for(".case", case_id=post.id, _anchor=anchor)
    return url_for(".topic", topic_id=post.id, _anchor=anchor)


def _post_page(post: Any, form: Any) -> str:
    """A case with its comments, or a topic with its thread, as the user may see them."""
    if isinstance(post, SalonCase):
        kind, below = "case", {"comments": community.case_comments(post, current_user)}
    else:
        kind, below = "topic", {"thread": community.thread(post, current_user)}
    return render_template(
        f"community/{kind}.html",
        **{kind: post},
        **below,
        body=render_markdown(post.body),
        form=form,
    )


# -- the maker salon: case library -----------------------------------------------------


@bp.get("/salon/")
@login_required
def cases() -> tuple[str, int]:
    form = LibraryFilterForm(request.args)
    page = None
    if form.validate():
        try:
            page = community.list_cases(
                topic=form.topic.data or None,
                query=form.q.data,
                page=_page_number(),
                viewer=current_user,
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
        form.organization.choices = [SelectChoice(0, _("— none —"))] + [
            SelectChoice(org.id, org.name) for org in community.organizations()
        ]
    else:  # a manager presents their own company only
        own = accounts.organization_of(current_user)
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


@bp.get("/salon/<int:case_id>")
@login_required
def case(case_id: int) -> str:
    return _post_page(post_or_404("salon", case_id), CaseCommentForm(formdata=None))


@bp.post("/salon/<int:case_id>/comments")
@login_required
def comment_case(case_id: int) -> Response | tuple[str, int]:
    found = post_or_404("salon", case_id)
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
            return redirect(_post_url(found))
    return _post_page(found, form), 400


# -- the members' discussion -----------------------------------------------------------


@bp.get("/discussions/")
@login_required
def topics() -> tuple[str, int]:
    form = TopicFilterForm(request.args)
    page = None
    if form.validate():
        page = community.list_topics(
            kind=form.kind.data or None, page=_page_number(), viewer=current_user
        )
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


@bp.get("/discussions/<int:topic_id>")
@login_required
def topic(topic_id: int) -> str:
    return _post_page(post_or_404("discussions", topic_id), TopicCommentForm(formdata=None))


@bp.post("/discussions/<int:topic_id>/comments")
@login_required
def comment_topic(topic_id: int) -> Response | tuple[str, int]:
    found = post_or_404("discussions", topic_id)
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
            return redirect(_post_url(found, f"c{created.id}"))
    return _post_page(found, form), 400


# -- editing, deleting, moderating (both areas) ------------------------------------------

AREA = "<any(salon, discussions):area>/<int:post_id>"
COMMENT = AREA + "/comments/<int:comment_id>"


def _edit(
    item: Moderated, post: Any, form: Any, save: Callable[[], None], back: str
) -> str | Response | tuple[str, int]:
    """The edit page of a post or comment for its author (403 for anyone else, or after the
    window); a valid form is saved by ``save`` and leads back to ``back``."""
    try:
        if form.validate_on_submit():
            save()
            flash(_("Your changes are saved."), "success")
            return redirect(back)
        community.check_author(item, current_user)
    except community.NotAllowed as exc:
        _refused(exc)
    except community.CommunityError as exc:
        form.form_errors.append(str(exc))
    page = render_template(
        "community/edit.html",
        item=item,
        post=post,
        form=form,
        back=_post_url(post),
        window=int(community.edit_window().total_seconds() // 60),
    )
    return page, _status(form)


@bp.route(f"/{AREA}/edit", methods=["GET", "POST"])
@login_required
def edit_post(area: str, post_id: int) -> str | Response | tuple[str, int]:
    """The author edits their case or topic, within the window."""
    post = post_or_404(area, post_id)
    form = PostEditForm(obj=post)

    def save() -> None:
        community.edit_post(current_user, post, form.title.data, form.body.data)

    return _edit(post, post, form, save, _post_url(post))


@bp.route(f"/{COMMENT}/edit", methods=["GET", "POST"])
@login_required
def edit_comment(area: str, post_id: int, comment_id: int) -> str | Response | tuple[str, int]:
    """The author edits their comment, within the window."""
    post = post_or_404(area, post_id)
    comment = comment_or_404(post, comment_id)
    form = CommentEditForm(obj=comment)

    def save() -> None:
        community.edit_comment(current_user, comment, form.body.data)

    return _edit(comment, post, form, save, _post_url(post, f"c{comment.id}"))


def _delete(item: Moderated, back: str) -> Response:
    form = DeleteForm()
    if not form.validate_on_submit():
        abort(400, _("The reason is too long or contains control characters."))
    try:
        community.delete(current_user, item, form.reason.data)
    except community.NotAllowed as exc:
        _refused(exc)
    except community.CommunityError as exc:
        abort(400, str(exc))
    flash(_("It is deleted."), "success")
    return redirect(back)


@bp.post(f"/{AREA}/delete")
@login_required
def delete_post(area: str, post_id: int) -> Response:
    """The author (within the window) or a moderator (with a reason) deletes a post."""
    return _delete(post_or_404(area, post_id), _index(area))


@bp.post(f"/{COMMENT}/delete")
@login_required
def delete_comment(area: str, post_id: int, comment_id: int) -> Response:
    post = post_or_404(area, post_id)
    return _delete(comment_or_404(post, comment_id), _post_url(post, "comments"))


def _index(area: str) -> str:
    return url_for(".cases") if area == "salon" else url_for(".topics")


def _moderate(item: Moderated, back: str, gone: str) -> Response:
    """Hide, show again or delete ``item``; then back to ``back`` (``gone`` once deleted)."""
    if not community.is_moderator(current_user):
        abort(403)
    form = ModerationForm()
    if not form.validate_on_submit():
        abort(400, _("Choose an action and give a reason."))
    try:
        community.moderate(current_user, item, form.action.data, form.reason.data)
    except community.NotAllowed as exc:
        _refused(exc)
    except community.CommunityError as exc:
        abort(400, str(exc))
    flash(_("The moderation is saved and written to the audit log."), "success")
    return redirect(gone if form.action.data == "delete" else back)


@bp.post(f"/{AREA}/moderate")
@login_required
def moderate_post(area: str, post_id: int) -> Response:
    """A trainer or organizer hides, shows again or deletes a case or topic."""
    post = post_or_404(area, post_id)
    return _moderate(post, _post_url(post), _index(area))


@bp.post(f"/{COMMENT}/moderate")
@login_required
def moderate_comment(area: str, post_id: int, comment_id: int) -> Response:
    """A trainer or organizer hides, shows again or deletes a comment."""
    post = post_or_404(area, post_id)
    comment = comment_or_404(post, comment_id)
    return _moderate(comment, _post_url(post, f"c{comment.id}"), _post_url(post, "comments"))
