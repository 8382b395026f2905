"""Authoring pages for trainers and organizers: courses, modules, lessons, videos, captions."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2.filters import do_filesizeformat
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from lms.models import Course, Lesson, MediaAsset, Module
from lms.services import authoring, ingest, media, quota, uploads
from lms.services.camps import visible_camps
from lms.web.downloads import send_download
from lms.web.forms import (
    ActionForm,
    AttachMediaForm,
    CaptionForm,
    CourseForm,
    LessonForm,
    ModuleForm,
    NewCourseForm,
    RetryMediaForm,
    TrainerForm,
    VideoUploadForm,
)

bp = Blueprint("teach", __name__, url_prefix="/teach")

COURSE_FIELDS = ("slug", "title_zh", "title_en", "summary_zh", "summary_en", "level")
MODULE_FIELDS = ("slug", "title_zh", "title_en")
LESSON_FIELDS = (
    "slug", "kind", "title_zh", "title_en", "summary_zh", "summary_en",
    "body_zh", "body_en", "minutes", "required", "preview",
)  # fmt: skip


def trainer_required(view: Any) -> Any:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_trainer:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def values(form: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The submitted values of ``fields``; an absent text field counts as empty."""
    data = {name: form[name].data for name in fields}
    return {name: "" if value is None else value for name, value in data.items()}


def _editable(course: Course | None) -> Course:
    if course is None or course.archived_at is not None:
        abort(404)
    if not authoring.can_edit(current_user, course):
        # A published course is public: refusing says nothing new. A draft is not: it answers
        # like an id that does not exist, so its existence cannot be probed.
        abort(403 if course.status == "published" else 404)
    return course


def course_or_404(course_id: int) -> Course:
    return _editable(authoring.course_by_id(course_id))


def module_or_404(module_id: int) -> Module:
    module = authoring.module_by_id(module_id)
    if module is None or module.archived_at is not None:
        abort(404)
    _editable(module.course)
    return module


def lesson_or_404(lesson_id: int) -> Lesson:
    lesson = authoring.lesson_by_id(lesson_id)  # with its module, course and camp
    if lesson is None or lesson.archived_at is not None or lesson.module.archived_at is not None:
        abort(404)
    _editable(lesson.module.course)
    return lesson


def _saved(form: Any, action: Any) -> bool:
    """Run ``action`` for a valid form; a slug clash becomes a form error (409)."""
    if not form.validate_on_submit():
        return False
    try:
        action()
    except authoring.SlugTaken:
        form.slug.errors.append(
            _("This address name is already used here. Choose another, or leave it empty.")
        )
        form.slug_taken = True  # the status says so in every language, not the message
        return False
    return True


def _status(form: Any) -> int:
    if not form.errors:
        return 200
    return 409 if getattr(form, "slug_taken", False) else 400


@bp.get("/")
@trainer_required
def index() -> str:
    return render_template("teach/index.html", courses=authoring.editable_courses(current_user))


@bp.route("/courses/new", methods=["GET", "POST"])
@trainer_required
def new_course() -> str | Response | tuple[str, int]:
    form = NewCourseForm()
    form.camp.choices = [SelectChoice(camp.slug, camp.title) for camp in visible_camps()]
    created: list[Course] = []

    def create() -> None:
        camp = authoring.camp_by_slug(form.camp.data)
        created.append(authoring.create_course(current_user, camp, values(form, COURSE_FIELDS)))

    if _saved(form, create):
        flash(_("Course created as a draft."), "success")
        return redirect(url_for(".course", course_id=created[0].id))
    return render_template("teach/new_course.html", form=form), _status(form)


@bp.route("/courses/<int:course_id>", methods=["GET", "POST"])
@trainer_required
def course(course_id: int) -> str | Response | tuple[str, int]:
    course = course_or_404(course_id)
    form = CourseForm(obj=course)
    if _saved(
        form, lambda: authoring.update(current_user, course, course, values(form, COURSE_FIELDS))
    ):
        flash(_("Saved."), "success")
        return redirect(url_for(".course", course_id=course.id))
    return render_template(
        "teach/course.html",
        course=course,
        form=form,
        module_form=ModuleForm(formdata=None),
        trainer_form=TrainerForm(formdata=None),
        action=ActionForm(),
        modules=authoring.live_modules(course),
        live_lessons=authoring.live_lessons,
    ), _status(form)


@bp.post("/courses/<int:course_id>/<any(publish, unpublish):change>")
@trainer_required
def publish(course_id: int, change: str) -> Response:
    course = course_or_404(course_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    authoring.set_status(current_user, course, "published" if change == "publish" else "draft")
    flash(_("Published.") if change == "publish" else _("Back to draft."), "success")
    return redirect(url_for(".course", course_id=course.id))


@bp.post("/courses/<int:course_id>/trainers")
@trainer_required
def add_trainer(course_id: int) -> Response:
    course = course_or_404(course_id)
    if not current_user.is_organizer:
        abort(403)
    form = TrainerForm()
    trainer = authoring.trainer_by_email(form.email.data) if form.validate_on_submit() else None
    if trainer is None:
        abort(400, _("No trainer with this e-mail address."))
    authoring.add_trainer(current_user, course, trainer)
    flash(_("%(name)s can now edit this course.", name=trainer.name), "success")
    return redirect(url_for(".course", course_id=course.id))


@bp.post("/courses/<int:course_id>/modules")
@trainer_required
def add_module(course_id: int) -> Response | tuple[str, int]:
    course = course_or_404(course_id)
    form = ModuleForm()
    if _saved(
        form, lambda: authoring.add_module(current_user, course, values(form, MODULE_FIELDS))
    ):
        flash(_("Module added."), "success")
        return redirect(url_for(".course", course_id=course.id))
    return render_template(
        "teach/form.html", form=form, course=course, title=_("New module")
    ), _status(form)


@bp.route("/modules/<int:module_id>", methods=["GET", "POST"])
@trainer_required
def module(module_id: int) -> str | Response | tuple[str, int]:
    module = module_or_404(module_id)
    course = module.course
    form = ModuleForm(obj=module)
    if _saved(
        form, lambda: authoring.update(current_user, course, module, values(form, MODULE_FIELDS))
    ):
        flash(_("Saved."), "success")
        return redirect(url_for(".course", course_id=course.id))
    return render_template(
        "teach/module.html",
        module=module,
        course=course,
        form=form,
        lesson_form=LessonForm(formdata=None, minutes=10),
    ), _status(form)


@bp.post("/modules/<int:module_id>/lessons")
@trainer_required
def add_lesson(module_id: int) -> Response | tuple[str, int]:
    module = module_or_404(module_id)
    form = LessonForm()
    created: list[Lesson] = []
    if _saved(
        form,
        lambda: created.append(
            authoring.add_lesson(current_user, module, values(form, LESSON_FIELDS))
        ),
    ):
        flash(_("Lesson added."), "success")
        return redirect(url_for(".lesson", lesson_id=created[0].id))
    return render_template(
        "teach/module.html",
        module=module,
        course=module.course,
        form=ModuleForm(obj=module),
        lesson_form=form,
    ), _status(form)


@bp.post("/<any(modules, lessons):kind>/<int:item_id>/<any(up, down, archive):change>")
@trainer_required
def arrange(kind: str, item_id: int, change: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    if kind == "modules":
        item: Module | Lesson = module_or_404(item_id)
        course = item.course
        siblings = authoring.live_modules(course)
    else:
        item = lesson_or_404(item_id)
        course = item.module.course
        siblings = authoring.live_lessons(item.module)
    if change == "archive":
        authoring.archive(current_user, course, item)
        flash(_("Archived. Learners' progress is kept."), "success")
    else:
        authoring.move(current_user, course, item, siblings, -1 if change == "up" else 1)
    return redirect(url_for(".course", course_id=course.id))


@bp.route("/lessons/<int:lesson_id>", methods=["GET", "POST"])
@trainer_required
def lesson(lesson_id: int) -> str | Response | tuple[str, int]:
    lesson = lesson_or_404(lesson_id)
    course = lesson.module.course
    form = LessonForm(obj=lesson)
    if _saved(
        form, lambda: authoring.update(current_user, course, lesson, values(form, LESSON_FIELDS))
    ):
        flash(_("Saved."), "success")
        return redirect(url_for(".lesson", lesson_id=lesson.id))
    return _lesson_page(lesson, form=form), _status(form)


def _lesson_page(lesson: Lesson, **forms: Any) -> str:
    """The lesson's edit page, whichever of its forms was posted (the upload, captions…).

    The forms that were not posted show the lesson as saved (``formdata=None``: a failed
    upload's POST must not blank the lesson form or untick its boxes), and every form names
    its own action, so a Save after a failed upload still goes to the lesson's address.
    """
    attach = AttachMediaForm(formdata=None)
    attach.media.choices = _media_choices()
    attach.media.data = lesson.media_id or 0
    context = {
        "lesson": lesson,
        "course": lesson.module.course,
        "form": LessonForm(formdata=None, obj=lesson),
        "upload_form": VideoUploadForm(formdata=None),
        "caption_form": CaptionForm(formdata=None),
        "attach_form": attach,
        "action": ActionForm(),
    }
    context.update(forms)
    return render_template("teach/lesson.html", **context)


@bp.post("/lessons/<int:lesson_id>/video")
@trainer_required
def upload_video(lesson_id: int) -> Response | tuple[str, int]:
    lesson = lesson_or_404(lesson_id)
    form, asset, status = _receive_video()
    if asset is not None:
        authoring.attach_media(current_user, lesson, asset)
        flash(_("Video uploaded. It is being processed."), "success")
        return redirect(url_for(".lesson", lesson_id=lesson.id))
    return _lesson_page(lesson, upload_form=form), status


# What a multipart body adds to the file itself (boundaries, headers, the CSRF field).
MULTIPART_OVERHEAD = 64 * 1024


def _receive_video() -> tuple[VideoUploadForm, MediaAsset | None, int]:
    """Store the posted video for the current user: (form, asset or None, status).

    A body that cannot fit in the uploader's quota is refused with 413 before it is read;
    otherwise the quota is enforced while the file streams to the store.
    """
    usage = quota.usage_of(current_user)
    declared = request.content_length or 0
    if usage.remaining is not None and declared > usage.remaining + MULTIPART_OVERHEAD:
        form = VideoUploadForm(formdata=None)
        form.video.errors = [_quota_message(usage)]
        return form, None, 413
    form = VideoUploadForm()
    if not form.validate_on_submit():
        return form, None, 400
    upload = form.video.data
    try:
        asset = uploads.store_upload(upload.stream, upload.filename or "", current_user)
    except quota.QuotaExceeded as exc:
        form.video.errors.append(_quota_message(exc.usage))
        return form, None, 413
    except uploads.UploadError as exc:
        form.video.errors.append(str(exc))
        return form, None, 400
    return form, asset, 200


def _quota_message(usage: quota.Usage) -> str:
    return _(
        "This video does not fit in your storage quota: you use %(used)s of %(limit)s. "
        "Remove videos you no longer need or ask an organizer for more space.",
        used=do_filesizeformat(usage.used, binary=True),
        limit=do_filesizeformat(usage.limit or 0, binary=True),
    )


def _media_choices() -> list[SelectChoice]:
    """The ready videos of the courseware library, for a select field (0: none)."""
    return [SelectChoice(0, _("— no video —"))] + [
        SelectChoice(
            asset.id,
            _("%(name)s (%(minutes)d min)", name=asset.original_name, minutes=media_minutes(asset)),
        )
        for asset in authoring.ready_media()
    ]


def _asset_or_404(asset_id: int) -> MediaAsset:
    asset = authoring.media_by_id(asset_id)
    if asset is None:
        abort(404)
    return asset


def media_minutes(asset: MediaAsset) -> int:
    return round((asset.duration_seconds or 0) / 60)


@bp.post("/lessons/<int:lesson_id>/media")
@trainer_required
def attach_media(lesson_id: int) -> Response:
    lesson = lesson_or_404(lesson_id)
    form = AttachMediaForm()
    form.media.choices = _media_choices()
    if not form.validate_on_submit():
        abort(400, _("Choose a video from the library."))
    asset = authoring.media_by_id(form.media.data) if form.media.data else None
    authoring.attach_media(current_user, lesson, asset)
    flash(_("Saved."), "success")
    return redirect(url_for(".lesson", lesson_id=lesson.id))


@bp.post("/lessons/<int:lesson_id>/captions")
@trainer_required
def add_captions(lesson_id: int) -> Response | tuple[str, int]:
    lesson = lesson_or_404(lesson_id)
    authoring.check(current_user, lesson.module.course)
    form = CaptionForm()
    if form.validate_on_submit():
        label = dict((c.value, c.label) for c in form.language.choices)[form.language.data]
        try:
            uploads.attach_caption(
                lesson,
                form.language.data,
                label,
                form.captions.data.read(uploads.MAX_CAPTION_BYTES + 1),
            )
        except uploads.UploadError as exc:
            form.captions.errors.append(str(exc))
        else:
            flash(_("Captions saved."), "success")
            return redirect(url_for(".lesson", lesson_id=lesson.id))
    return _lesson_page(lesson, caption_form=form), 400


@bp.route("/media", methods=["GET", "POST"])
@trainer_required
def library() -> str | Response | tuple[str, int]:
    """The courseware library: downloaded and purchased videos, shared by all trainers."""
    form, status = VideoUploadForm(formdata=None), 200
    if request.method == "POST":
        form, asset, status = _receive_video()
        if asset is not None:
            flash(_("Video uploaded. It is being processed."), "success")
            return redirect(url_for(".library"))
    page = render_template(
        "teach/library.html",
        assets=authoring.library_media(),
        form=form,
        usage=quota.usage_of(current_user),
        retry_form=ActionForm(),
    )
    return page, status


@bp.get("/media/<int:asset_id>/status")
@trainer_required
def media_status(asset_id: int) -> Response:
    """Processing progress of a library video, for the trainers' live progress bars."""
    return jsonify(ingest.status_of(_asset_or_404(asset_id)))


@bp.post("/media/<int:asset_id>/retry")
@trainer_required
def retry_media(asset_id: int) -> Response:
    """Process a failed video again (409 when it is not failed)."""
    asset = _asset_or_404(asset_id)
    form = RetryMediaForm()
    if not form.validate_on_submit():
        abort(400)
    if not ingest.retry(asset):
        abort(409, _("Only a video whose processing failed can be retried."))
    flash(_("The video is being processed again."), "success")
    if form.lesson_id.data:
        lesson = lesson_or_404(form.lesson_id.data)
        return redirect(url_for(".lesson", lesson_id=lesson.id))
    return redirect(url_for(".library"))


@bp.get("/media/<int:asset_id>/download")
@trainer_required
def download_media(asset_id: int) -> Response:
    """A library video as a download, under the name it was uploaded with."""
    asset = _asset_or_404(asset_id)
    path = media.storage_path(asset)
    if not path.is_file():
        abort(404)
    return send_download(path, asset.original_name, asset.mime_type)
