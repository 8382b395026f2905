"""The training archive as a PDF, built with reportlab's platypus.

Every piece of text is set in the embedded font of :mod:`lms.services.pdf_fonts` (Noto Sans
SC by default), so Chinese reads the same in every PDF reader, whatever fonts it has. Text
from the database (names, titles, reasons) is escaped before it reaches a ``Paragraph``, whose
input is markup.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from lms.models._base import utcnow
from lms.services import hours, pdf_fonts
from lms.services.archive import Archive, Event, kind_label, status_label
from lms.services.site import site_name
from lms.services.text import control_characters

CONTROL = control_characters(keep_line_breaks=True)
SEPARATOR = " | "
GRID = colors.HexColor("#999999")
HEAD = colors.HexColor("#eeeeee")


def _font() -> str:
    return pdf_fonts.font()


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", base, fontSize=18, leading=24, spaceAfter=4),
        "h2": ParagraphStyle("h2", base, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", base, fontSize=7.5, leading=10),
        "muted": ParagraphStyle("muted", base, textColor=colors.HexColor("#444444")),
    }


def text(value: object) -> str:
    """Plain text made safe for a ``Paragraph``: control characters dropped, markup escaped."""
    return escape(CONTROL.sub("", str(value)))


def build(archive: Archive, verify_url: Callable[[str], str]) -> bytes:
    """The PDF of ``archive``. ``verify_url`` gives a certificate's public verification URL."""
    styles = _styles()
    profile, totals = archive.profile, archive.totals
    buffer = BytesIO()
    title = _("Training archive")
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{CONTROL.sub('', profile.name)} - {title}",
        author=site_name(),
        creator="Camp LMS",
        initialFontName=styles["body"].fontName,  # not Helvetica: every font is embedded
    )
    width = document.width
    story: list[Any] = [
        Paragraph(text(profile.name), styles["title"]),
        Paragraph(f"{text(title)}{SEPARATOR}{text(site_name())}", styles["muted"]),
        Spacer(1, 4 * mm),
        _facts(
            [
                (_("E-mail"), profile.email),
                (_("Organization"), profile.organization or "—"),
                (_("Member since"), profile.member_since.isoformat()),
                (_("Printed on"), hours.local_day(utcnow()).isoformat()),
            ],
            styles,
            width,
        ),
        Paragraph(text(_("Totals")), styles["h2"]),
        _facts(
            [
                (
                    _("Hours this month"),
                    f"{totals.hours_month} / {totals.target_hours} h ({totals.month_percent}%)",
                ),
                (_("Hours this year"), _("%(hours)s h", hours=totals.hours_year)),
                (_("Hours in all"), _("%(hours)s h", hours=totals.hours_all)),
                (_("Courses enrolled"), totals.courses_enrolled),
                (_("Courses completed"), totals.courses_completed),
                (_("Certificates"), totals.certificates),
                (_("Sessions attended"), totals.sessions_attended),
                (
                    _("Attendance rate"),
                    "—" if totals.attendance_rate is None else f"{totals.attendance_rate}%",
                ),
            ],
            styles,
            width,
        ),
        KeepTogether(
            [
                Paragraph(text(_("Training hours in the last 12 months")), styles["h2"]),
                _months(archive, styles, width),
            ]
        ),
    ]
    if archive.camps:
        story.append(
            KeepTogether(
                [
                    Paragraph(text(_("Hours per camp")), styles["h2"]),
                    _table(
                        [[_("Camp"), _("Hours")]]
                        + [[camp.title, f"{camp.hours} h"] for camp in archive.camps],
                        styles,
                        [width * 0.75, width * 0.25],
                    ),
                ]
            )
        )
    if archive.quizzes:
        story.append(Paragraph(text(_("Quizzes")), styles["h2"]))
        story.append(
            _table(
                [[_("Course"), _("Quiz"), _("Best score"), _("Attempts"), _("Result"), _("Date")]]
                + [
                    [
                        Paragraph(text(quiz.course), styles["body"]),
                        Paragraph(text(quiz.quiz), styles["body"]),
                        f"{round(quiz.best)}%",
                        str(quiz.attempts),
                        _("Passed") if quiz.passed else _("Not passed"),
                        hours.local_day(quiz.last_at).isoformat(),
                    ]
                    for quiz in archive.quizzes
                ],
                styles,
                [width * 0.24, width * 0.26, width * 0.12, width * 0.1, width * 0.13, width * 0.15],
            )
        )
    story.append(Paragraph(text(_("Timeline")), styles["h2"]))
    if archive.timeline:
        rows: list[list[Any]] = [[_("Date"), _("Event"), _("Details")]]
        for event in archive.timeline:
            rows.append(
                [
                    event.local_at.strftime("%Y-%m-%d %H:%M"),
                    kind_label(event.kind),
                    Paragraph(_details(event, verify_url), styles["body"]),
                ]
            )
        story.append(_table(rows, styles, [width * 0.19, width * 0.26, width * 0.55]))
    else:
        story.append(Paragraph(text(_("Nothing on record yet.")), styles["body"]))

    footer = f"{CONTROL.sub('', profile.name)}{SEPARATOR}{title}"

    if archive.attendance:
        story.append(Paragraph(text(_("Attendance history")), styles["h2"]))
        story.append(
            _table(
                [[_("Date"), _("Session"), _("Attendance"), _("Arrived"), _("Left"), _("Hours")]]
                + [
                    [
                        record.local(record.starts_at).strftime("%Y-%m-%d %H:%M"),
                        Paragraph(text(record.title), styles["body"]),
                        status_label(record.status),
                        record.local(record.arrived_at).strftime("%H:%M")
                        if record.arrived_at
                        else "—",
                        record.local(record.left_at).strftime("%H:%M") if record.left_at else "—",
                        str(record.hours),
                    ]
                    for record in archive.attendance
                ],
                styles,
                [width * 0.2, width * 0.34, width * 0.14, width * 0.1, width * 0.1, width * 0.12],
            )
        )

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(_font(), 7.5)
        canvas.setFillColor(colors.HexColor("#444444"))
        canvas.drawString(doc.leftMargin, 10 * mm, footer[:120])
        canvas.drawRightString(
            doc.leftMargin + doc.width, 10 * mm, _("Page %(page)d", page=doc.page)
        )
        canvas.restoreState()

    document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()


def _details(event: Event, verify_url: Callable[[str], str]) -> str:
    """The third column of a timeline row, as escaped ``Paragraph`` markup: the title, then
    the facts on a line of their own."""
    parts = []
    if event.camp:
        parts.append(text(event.camp))
    if event.kind == "enrolled" and event.withdrawn:
        parts.append(text(_("withdrawn")))
    elif event.kind == "attendance":
        parts.append(text(status_label(event.status)))
        parts.append(text(_("%(hours)s h credited", hours=event.hours)))
    elif event.kind == "correction":
        change = f"{status_label(event.old_status)} → {status_label(event.status)}"
        parts.append(text(change))
        if event.reason:
            parts.append(text(event.reason))
        if event.by:
            parts.append(text(_("by %(name)s", name=event.by)))
    elif event.kind == "certificate":
        url = verify_url(event.code)
        parts.append(text(_("Verification code")) + f": {text(event.code)}")
        href = escape(url, {'"': "&quot;"})
        parts.append(f'<link href="{href}">{text(url)}</link>')
    facts = SEPARATOR.join(part for part in parts if part)
    return f"{text(event.title)}<br/>{facts}" if facts else text(event.title)


def _facts(pairs: list[tuple[str, object]], styles: dict[str, Any], width: float) -> Table:
    """Label/value pairs, two pairs a row."""
    cells = [
        [Paragraph(text(label), styles["muted"]), Paragraph(text(value), styles["body"])]
        for label, value in pairs
    ]
    rows = []
    for index in range(0, len(cells), 2):
        row = cells[index] + (cells[index + 1] if index + 1 < len(cells) else ["", ""])
        rows.append(row)
    table = Table(rows, colWidths=[width * 0.2, width * 0.3] * 2)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONTNAME", (0, 0), (-1, -1), _font()),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _months(archive: Archive, styles: dict[str, Any], width: float) -> Table:
    first = width * 0.12
    rest = (width - first) / len(archive.months)
    rows = [
        [_("Month")] + [f"{m.year}-{m.month:02d}" for m in archive.months],
        [_("Hours")] + [f"{m.hours}" for m in archive.months],
    ]
    table = _table(rows, styles, [first] + [rest] * len(archive.months), style="small")
    # Narrow padding: "2026-01" fits its twelfth of the width on one line in the embedded font.
    table.setStyle(
        TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 2)])
    )
    return table


def _table(
    rows: list[list[Any]], styles: dict[str, Any], widths: list[float], style: str = "body"
) -> Table:
    """A grid with a header row repeated on each page; strings become escaped paragraphs."""
    cells = [
        [Paragraph(text(cell), styles[style]) if isinstance(cell, str) else cell for cell in row]
        for row in rows
    ]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("FONTNAME", (0, 0), (-1, -1), _font()),
                ("BACKGROUND", (0, 0), (-1, 0), HEAD),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table
