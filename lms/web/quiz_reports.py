"""Quiz reports for the course's editors: attempts, pass rate, score distribution, item
analysis (facility and discrimination per question) and its formula-safe CSV."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_babel import gettext as _

from lms.models import Lesson
from lms.services.charts import Bar
from lms.services.quiz import item_analysis
from lms.web.downloads import csv_response
from lms.web.teach import lesson_or_404, trainer_required

bp = Blueprint("quiz_reports", __name__, url_prefix="/reports/quizzes")


def _quiz_lesson(lesson_id: int) -> Lesson:
    lesson = lesson_or_404(lesson_id)
    if lesson.kind != "quiz":
        abort(404)
    return lesson


def band_bars(report: item_analysis.QuizReport) -> list[Bar]:
    bars = []
    for index, count in enumerate(report.bands):
        label = f"{index * 10}–{index * 10 + 10}%"
        bars.append(Bar(label, count, _("%(band)s: %(num)d attempts", band=label, num=count), ""))
    return bars


def facility_rows(report: item_analysis.QuizReport) -> list[Bar]:
    return [
        Bar(
            f"{item.number}. {item.text}",
            round(item.facility),
            _("Facility %(facility)d%%", facility=round(item.facility)),
            "met" if 30 <= item.facility <= 90 else "",
        )
        for item in report.items
    ]


@bp.get("/<int:lesson_id>")
@trainer_required
def quiz(lesson_id: int) -> str:
    lesson = _quiz_lesson(lesson_id)
    found = item_analysis.report(lesson)
    return render_template(
        "quiz/report.html",
        lesson=lesson,
        course=lesson.module.course,
        report=found,
        bands=band_bars(found),
        top=max([1, *found.bands]),
        facility=facility_rows(found),
    )


@bp.get("/<int:lesson_id>/items.csv")
@trainer_required
def items_csv(lesson_id: int) -> Response:
    lesson = _quiz_lesson(lesson_id)
    found = item_analysis.report(lesson)
    rows = [
        (
            item.number,
            item.text,
            item.kind,
            item.answered,
            round(item.facility, 1),
            None if item.discrimination is None else round(item.discrimination, 1),
        )
        for item in found.items
    ]
    header = [
        _("No."), _("Question"), _("Kind"), _("Answered"), _("Facility index (%)"),
        _("Discrimination index (%)"),
    ]  # fmt: skip
    return csv_response(rows, header, f"quiz-{lesson.slug}-items")
