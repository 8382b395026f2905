"""The learner's side: dashboard, lesson pages, reading completion and video files."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, send_file, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from lms.extensions import db
from lms.models import Lesson, Module
from lms.services import catalog, lessons, media
from lms.web.catalog import course_or_404
from lms.web.forms import ActionForm

bp = Blueprint("learn", __name__)


@bp.get("/dashboard")
@login_required
def dashboard() -> str:
    return render_template("dashboard.html", cards=catalog.my_courses(current_user))


@bp.get("/camps/<camp_slug>/<course_slug>/lessons/<lesson_slug>")
@login_required
def lesson(camp_slug: str, course_slug: str, lesson_slug: str) -> str | Response:
    course = course_or_404(camp_slug, course_slug)
    outline = catalog.outline(course, current_user)
    current = next((x for x in outline.lessons if x.slug == lesson_slug), None)
    if current is None:
        abort(404)
    if not catalog.may_study(current_user, course, outline.enrollment):
        return redirect(url_for("catalog.course", camp_slug=camp_slug, course_slug=course_slug))
    ordered = outline.lessons
    index = ordered.index(current)
    return render_template(
        "lesson.html",
        course=course,
        outline=outline,
        lesson=current,
        previous=ordered[index - 1] if index > 0 else None,
        following=ordered[index + 1] if index + 1 < len(ordered) else None,
        threshold=lessons.completion_threshold(current),
        body=lessons.render_markdown(current.body),
        form=ActionForm(),
    )


@bp.post("/camps/<camp_slug>/<course_slug>/lessons/<lesson_slug>/read")
@login_required
def mark_read(camp_slug: str, course_slug: str, lesson_slug: str) -> Response:
    course = course_or_404(camp_slug, course_slug)
    outline = catalog.outline(course, current_user)
    current = next((x for x in outline.lessons if x.slug == lesson_slug), None)
    if current is None:
        abort(404)
    if outline.enrollment is None:
        abort(403)
    if current.kind != "reading":
        abort(409)
    lessons.mark_read(current_user, current)
    return redirect(
        url_for(".lesson", camp_slug=camp_slug, course_slug=course_slug, lesson_slug=lesson_slug)
    )


@bp.get("/media/lessons/<int:lesson_id>")
@login_required
def lesson_video(lesson_id: int) -> Response:
    """The lesson's video, to enrolled learners and the course's editors only (Range aware)."""
    lesson = db.session.get(Lesson, lesson_id)
    if lesson is None or lesson.archived_at is not None or lesson.media is None:
        abort(404)
    module: Module = lesson.module
    course = catalog.find_course(module.course.camp.slug, module.course.slug, current_user)
    if course is None or module.archived_at is not None:
        abort(404)
    if not catalog.may_study(current_user, course, catalog.enrollment_of(current_user, course)):
        abort(404)
    path = media.storage_path(lesson.media)
    if not path.is_file():
        abort(404)
    response = send_file(
        path, mimetype=lesson.media.mime_type, conditional=True, max_age=0, etag=True
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = "inline"
    return response
