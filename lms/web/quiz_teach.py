"""Trainers' side of assessments: a course's question bank, GIFT import and export, and each
quiz lesson's settings. Who may edit is the course editor's rule (:mod:`lms.web.teach`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from lms.models import Course, Question
from lms.services.quiz import attempts, bank, editor, gift
from lms.web.downloads import send_download
from lms.web.forms import ActionForm
from lms.web.quiz_forms import GiftForm, QuestionForm, QuizSettingsForm
from lms.web.teach import course_or_404, lesson_or_404, trainer_required

bp = Blueprint("quiz_teach", __name__, url_prefix="/teach")

FORM_FIELDS = (
    "kind", "text_zh", "text_en", "choices_zh", "choices_en", "truth", "accepted", "number",
    "tolerance", "explanation_zh", "explanation_en", "points", "tags",
)  # fmt: skip


def _question_or_404(question_id: int) -> tuple[Question, Course]:
    question = bank.live_question(question_id)
    if question is None:
        abort(404)
    return question, course_or_404(question.course_id)


def _bank_page(course: Course, form: QuestionForm, status: int = 200) -> tuple[str, int]:
    tag = request.args.get("tag") or None
    return render_template(
        "quiz/bank.html",
        course=course,
        questions=bank.questions_of(course, tag),
        tags=bank.tags_of(course),
        tag=tag,
        form=form,
        action=ActionForm(),
        quizzes=bank.quiz_lessons(course),
    ), status


def _spec(form: QuestionForm, previous: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The form's question, checked; errors go on the form (None)."""
    try:
        spec = editor.spec_from_form({name: form[name].data for name in FORM_FIELDS}, previous)
        bank.check_question(spec)
    except bank.QuestionError as exc:
        form.form_errors.append(str(exc))
        return None
    return spec


@bp.route("/courses/<int:course_id>/questions", methods=["GET", "POST"])
@trainer_required
def questions(course_id: int) -> Response | tuple[str, int]:
    course = course_or_404(course_id)
    form = QuestionForm() if request.method == "POST" else QuestionForm(formdata=None)
    if request.method == "POST":
        spec = _spec(form) if form.validate_on_submit() else None
        if spec is None:
            return _bank_page(course, form, 400)
        bank.add_questions(course, [spec])
        flash(_("Question added."), "success")
        return redirect(url_for(".questions", course_id=course.id))
    return _bank_page(course, form)


@bp.route("/questions/<int:question_id>", methods=["GET", "POST"])
@trainer_required
def question(question_id: int) -> Response | tuple[str, int]:
    question, course = _question_or_404(question_id)
    previous = bank.as_spec(question)
    form = (
        QuestionForm(data=editor.form_values(previous))
        if request.method == "GET"
        else QuestionForm()
    )
    status = 200
    if request.method == "POST":
        spec = _spec(form, previous) if form.validate_on_submit() else None
        if spec is not None:
            try:
                regraded = attempts.revise_question(question, spec, current_user)
            except bank.QuestionError as exc:
                form.form_errors.append(str(exc))
            else:
                if regraded:
                    flash(
                        _("Saved. %(count)d submitted attempts were regraded.", count=regraded),
                        "success",
                    )
                else:
                    flash(_("Saved."), "success")
                return redirect(url_for(".questions", course_id=course.id))
        status = 400
    return render_template(
        "quiz/question.html", course=course, question=question, form=form, action=ActionForm()
    ), status


@bp.post("/questions/<int:question_id>/archive")
@trainer_required
def archive_question(question_id: int) -> Response:
    question, course = _question_or_404(question_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    bank.withdraw_question(question)
    flash(_("The question left the bank. Past attempts keep their results."), "success")
    return redirect(url_for(".questions", course_id=course.id))


@bp.route("/courses/<int:course_id>/questions/import", methods=["GET", "POST"])
@trainer_required
def import_gift(course_id: int) -> Response | tuple[str, int]:
    """GIFT: a preview with each question or each error (and its line), then all or nothing."""
    course = course_or_404(course_id)
    form = GiftForm() if request.method == "POST" else GiftForm(formdata=None)
    parsed = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            status = 400
        else:
            parsed = gift.parse(form.gift.data, form.language.data)
            if not parsed.ok:
                status = 400
            elif form.confirm.data:
                bank.add_questions(course, parsed.questions)
                flash(_("%(count)d questions imported.", count=len(parsed.questions)), "success")
                return redirect(url_for(".questions", course_id=course.id))
    return render_template("quiz/import.html", course=course, form=form, parsed=parsed), status


@bp.get("/courses/<int:course_id>/questions/export.gift")
@trainer_required
def export_gift(course_id: int) -> Response:
    course = course_or_404(course_id)
    language = "en" if request.args.get("language") == "en" else "zh"
    text = gift.write([bank.as_spec(q) for q in bank.questions_of(course)], language)
    return send_download(text, f"{course.slug}-{language}.gift.txt", "text/plain")


@bp.route("/lessons/<int:lesson_id>/quiz", methods=["GET", "POST"])
@trainer_required
def settings(lesson_id: int) -> Response | tuple[str, int]:
    lesson = lesson_or_404(lesson_id)
    if lesson.kind != "quiz":
        abort(404)
    course = lesson.module.course
    quiz = bank.find_quiz(lesson)
    if request.method == "POST":
        form = QuizSettingsForm()
    else:
        form = QuizSettingsForm(formdata=None, obj=quiz, data=_settings_data(quiz))
    pool = bank.questions_of(course)
    form.question_ids.choices = [SelectChoice(q.id, q.text[:80]) for q in pool]
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                bank.save_settings(lesson, _settings(form))
            except bank.QuestionError as exc:
                form.form_errors.append(str(exc))
            else:
                flash(_("Saved."), "success")
                return redirect(url_for(".settings", lesson_id=lesson.id))
        status = 400
    return render_template(
        "quiz/settings.html",
        lesson=lesson,
        course=course,
        form=form,
        quiz=quiz,
        pool=pool,
        camp_mark=attempts.passing_score(quiz) if quiz else None,
    ), status


def _settings_data(quiz: Any) -> dict[str, Any]:
    if quiz is None:
        return {"selection": "fixed"}
    return {
        "selection": "random" if quiz.draw_count else "fixed",
        "draw_tags": ", ".join(quiz.draw_tags or []),
        "question_ids": list(quiz.question_ids or []),
    }


def _settings(form: QuizSettingsForm) -> bank.QuizSettings:
    random_draw = form.selection.data == "random"
    if random_draw and not form.draw_count.data:
        raise bank.QuestionError(_("How many questions to draw?"))
    tags = [t.strip() for t in (form.draw_tags.data or "").replace("，", ",").split(",")]
    return bank.QuizSettings(
        passing_score=form.passing_score.data,
        max_attempts=form.max_attempts.data,
        time_limit_minutes=form.time_limit_minutes.data,
        review=form.review.data,
        question_ids=() if random_draw else tuple(form.question_ids.data or ()),
        draw_count=form.draw_count.data if random_draw else None,
        draw_tags=tuple(t for t in tags if t) if random_draw else (),
        mastery_m=form.mastery_m.data,
        mastery_n=form.mastery_n.data,
        shuffle=form.shuffle.data,
    )
