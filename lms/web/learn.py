"""The learner's side: dashboard, lesson pages, reading completion and video files."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from lms.models import Certificate, Lesson, MediaAsset
from lms.services import (
    catalog,
    certificates,
    completion,
    lessons,
    mail,
    media,
    media_access,
    streams,
)
from lms.services import dashboard as dashboard_service
from lms.services.quiz import attempts
from lms.services.site import site_name
from lms.web.auth import SESSION_SEEN, SESSION_TOKEN
from lms.web.catalog import course_or_404
from lms.web.forms import ActionForm

bp = Blueprint("learn", __name__)


@bp.get("/dashboard")
@login_required
def dashboard() -> str:
    return render_template("dashboard.html", board=dashboard_service.build(current_user))


@bp.get("/camps/<camp_slug>/<course_slug>/lessons/<lesson_slug>")
def lesson(camp_slug: str, course_slug: str, lesson_slug: str) -> str | Response:
    """A lesson, for enrolled learners and the course's editors; a preview lesson of a
    published course for everyone (anonymous visitors watch it without earning credit)."""
    course = course_or_404(camp_slug, course_slug)
    outline = catalog.outline(course, current_user)
    current = next((x for x in outline.lessons if x.slug == lesson_slug), None)
    if current is None:
        abort(404)
    previewing = not catalog.may_study(current_user, course, outline.enrollment)
    if previewing and not catalog.is_preview(current):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]  # set by Flask-Login
        return redirect(url_for("catalog.course", camp_slug=camp_slug, course_slug=course_slug))
    # A visitor previewing (not enrolled, no progress kept) moves between the preview lessons.
    ordered = (
        [x for x in outline.lessons if catalog.is_preview(x)] if previewing else outline.lessons
    )
    index = ordered.index(current)
    finished = outline.enrollment is not None and outline.enrollment.completed_at is not None
    lessons.load_captions(current)  # the player lists them
    return render_template(
        "lesson.html",
        course=course,
        outline=outline,
        lesson=current,
        previous=ordered[index - 1] if index > 0 else None,
        following=ordered[index + 1] if index + 1 < len(ordered) else None,
        threshold=lessons.completion_threshold(current),
        # (the page's forms: reading lessons' "mark as read", quizzes' start)
        form=ActionForm() if current.kind in ("reading", "quiz") else None,
        quiz=attempts.overview(current_user, current) if current.kind == "quiz" else None,
        certificate=completion.certificate_for(current_user, course) if finished else None,
        previewing=previewing,
    )


@bp.post("/camps/<camp_slug>/<course_slug>/lessons/<lesson_slug>/read")
@login_required
def mark_read(camp_slug: str, course_slug: str, lesson_slug: str) -> Response:
    """Complete a reading lesson. The lesson page's script asks for JSON (``Accept:
    application/json``) and updates the page; without scripts, the form redirects back."""
    course = course_or_404(camp_slug, course_slug)
    outline = catalog.outline(course, current_user)
    current = next((x for x in outline.lessons if x.slug == lesson_slug), None)
    if current is None:
        abort(404)
    if outline.enrollment is None:
        abort(403)
    if current.kind != "reading":
        abort(409)
    finish = lessons.mark_read(current_user, current)
    if request.accept_mimetypes.best == "application/json":
        answer: dict = {"completed": True, "course_completed": False}
        answer["course_percent"] = outline.percent if finish is None else finish.course_percent
        if finish is not None and finish.course_completed:
            answer["course_completed"] = True
            if finish.certificate_code is not None:
                answer["certificate_url"] = url_for(".certificate", code=finish.certificate_code)
        return jsonify(answer)
    if finish is not None and finish.course_completed:
        flash(_("Congratulations! You have completed %(course)s.", course=course.title), "success")
    return redirect(
        url_for(".lesson", camp_slug=camp_slug, course_slug=course_slug, lesson_slug=lesson_slug)
    )


@bp.get("/media/lessons/<int:lesson_id>")
def lesson_video(lesson_id: int) -> Response:
    """The lesson's video — its best web rendition — to enrolled learners and the course's
    editors only (Range aware). Before the pipeline made renditions: the original."""
    asset = _ready_asset(_media_of_lesson(lesson_id))
    mimetype = "video/mp4" if asset.renditions else asset.mime_type
    response = _send_from_store(streams.playable_file(asset), mimetype)
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/media/lessons/<int:lesson_id>/mp4/<int:height>.mp4")
def lesson_rendition(lesson_id: int, height: int) -> Response:
    """One progressive MP4 rendition (``360``, ``720``…), for players without HLS."""
    asset = _ready_asset(_media_of_lesson(lesson_id))
    rendition = streams.rendition(asset, height)
    if rendition is None:
        abort(404)
    return _send_stream(asset, rendition["file"], "video/mp4")


@bp.get("/media/lessons/<int:lesson_id>/hls/<path:name>")
def lesson_stream(lesson_id: int, name: str) -> Response:
    """The HLS package: ``master.m3u8``, and each variant's playlist, init and segments."""
    asset = _ready_asset(_media_of_lesson(lesson_id))
    mimetype = streams.hls_mimetype(name)
    if mimetype is None or not asset.renditions:
        abort(404)
    return _send_stream(asset, f"hls/{name}", mimetype)


@bp.get("/media/lessons/<int:lesson_id>/thumbs.vtt")
def lesson_thumbnails(lesson_id: int) -> Response:
    """The seek-preview track: WebVTT cues pointing at sprite images (``#xywh=``)."""
    asset = _ready_asset(_media_of_lesson(lesson_id))
    if not asset.has_thumbnails:
        abort(404)
    try:
        track = streams.thumbnail_track(
            asset, lambda name: url_for(".lesson_thumbnail_image", lesson_id=lesson_id, name=name)
        )
    except FileNotFoundError:
        abort(404)
    response = Response(track, mimetype="text/vtt")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/media/lessons/<int:lesson_id>/thumbs/<name>")
def lesson_thumbnail_image(lesson_id: int, name: str) -> Response:
    asset = _ready_asset(_media_of_lesson(lesson_id))
    if not (asset.has_thumbnails and streams.THUMBNAIL_SPRITE.fullmatch(name)):
        abort(404)
    return _send_stream(asset, name, "image/jpeg")


@bp.get("/media/lessons/<int:lesson_id>/authorize")
def authorize_video(lesson_id: int) -> Response:
    """For nginx's ``auth_request`` (deploy/nginx-media.conf): may this visitor fetch the video?

    200 with ``X-Media-File`` (the file under the media store a plain ``<video src>`` plays)
    lets nginx send the bytes itself and cache the decision for a few seconds; 401 without a
    log-in, 403 otherwise (unknown lessons too: auth_request knows no 404). ``X-Media-Streams``
    names the folder of the web versions (HLS, renditions, thumbnails): one decision covers
    every file of the lesson, so nginx caches it per session and lesson. Answers 404 unless
    the app runs behind nginx (``LMS_MEDIA_ACCEL_REDIRECT``); nginx never forwards this URL
    from browsers.
    """
    if not current_app.config.get("MEDIA_ACCEL_REDIRECT"):
        abort(404)
    # The session cookie as it is, without Flask-Login: nothing is written to the session
    # (nginx passes no cookie back), and one statement decides (lms.services.media_access).
    decision = media_access.decide(
        lesson_id, session.get("_user_id"), session.get(SESSION_TOKEN), session.get(SESSION_SEEN)
    )
    if decision.status != 200:
        abort(decision.status)
    response = Response(status=200)
    response.headers["X-Media-File"] = decision.media_file
    if decision.streams:
        response.headers["X-Media-Streams"] = decision.streams
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _ready_asset(lesson: Lesson) -> MediaAsset:
    if lesson.media is None or lesson.media.status != "ready":
        abort(404)
    return lesson.media


def _media_of_lesson(lesson_id: int) -> Lesson:
    """A lesson whose files the current user may fetch; others get the same 404 as no lesson."""
    access = catalog.lesson_access(lesson_id, current_user)
    if access is None or not catalog.may_watch(current_user, access):
        if not current_user.is_authenticated:  # log in first (a preview would have passed)
            abort(current_app.login_manager.unauthorized())  # type: ignore[attr-defined]  # set by Flask-Login
        abort(404)
    return access.lesson


@bp.get("/media/lessons/<int:lesson_id>/poster.jpg")
def lesson_poster(lesson_id: int) -> Response:
    lesson = _media_of_lesson(lesson_id)
    if lesson.media is None or not lesson.media.poster_key:
        abort(404)
    return _private_file(media.media_root() / "posters" / lesson.media.poster_key, "image/jpeg")


@bp.get("/media/lessons/<int:lesson_id>/captions/<language>.vtt")
def lesson_caption(lesson_id: int, language: str) -> Response:
    lesson = _media_of_lesson(lesson_id)
    caption = lessons.caption_of(lesson, language)
    if caption is None:
        abort(404)
    return _private_file(media.media_root() / "captions" / caption.storage_key, "text/vtt")


def _send_stream(asset: MediaAsset, relative: str, mimetype: str) -> Response:
    """A file of the asset's web versions (``streams/<folder>/<relative>``)."""
    if not asset.stream_dir:
        abort(404)
    return _send_from_store(f"streams/{asset.stream_dir}/{relative}", mimetype)


def _send_from_store(relative: str, mimetype: str) -> Response:
    """A file under the media store, with Range support; or, behind nginx, an
    X-Accel-Redirect to it."""
    accel_prefix = current_app.config.get("MEDIA_ACCEL_REDIRECT")
    if accel_prefix:
        response = Response(mimetype=mimetype)
        response.headers["X-Accel-Redirect"] = f"{accel_prefix.rstrip('/')}/{relative}"
    else:
        response = _private_file(media.media_root() / relative, mimetype)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _private_file(path: Path, mimetype: str) -> Response:
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=mimetype, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _certificate_or_404(code: str) -> tuple[Certificate, str]:
    """The certificate with ``code`` and its public verification URL (absolute: ``BASE_URL``
    when configured, else this request's address)."""
    found = completion.find_certificate(code)
    if found is None:
        abort(404)
    return found, mail.link(mail.base_url(), "learn.certificate", code=found.code)


@bp.get("/certificates/<code>")
def certificate(code: str) -> str:
    """Public verification page: anyone holding the code can check the certificate; it prints
    as the certificate itself (print CSS), with a QR code of this address."""
    found, verify_url = _certificate_or_404(code)
    return render_template(
        "certificate.html",
        certificate=found,
        issued_on=certificates.issued_on(found),
        course_title=certificates.course_title(found),
        camp_title=certificates.camp_title(found),
        qr=certificates.qr_svg(verify_url),
        verify_url=verify_url,
    )


@bp.get("/certificates/<code>.pdf")
def certificate_pdf(code: str) -> Response:
    """The certificate as a PDF (its font embedded, a QR code of the verification page)."""
    found, verify_url = _certificate_or_404(code)
    response = Response(
        certificates.pdf(found, verify_url, academy=site_name()),
        mimetype="application/pdf",
    )
    # The code is letters, digits and dashes (completion.CODE_ALPHABET): a safe ASCII name.
    response.headers["Content-Disposition"] = f'attachment; filename="certificate-{found.code}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
