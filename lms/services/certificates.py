"""Certificates as people hold them: the printable page's facts, the QR code that leads to the
public verification page, and the PDF (A4 landscape, its font embedded).

Issuing a certificate is :mod:`lms.services.completion`'s; everything here reads the row's
snapshot (names and titles as they were on the day), never the live course.
"""

from __future__ import annotations

from datetime import date
from io import BytesIO
from xml.sax.saxutils import escape

import segno
from flask_babel import format_date
from flask_babel import gettext as _
from markupsafe import Markup
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Frame, Paragraph

from lms.models import Certificate
from lms.models._base import current_language
from lms.services import hours, pdf_fonts
from lms.services.text import control_characters

CONTROL = control_characters(keep_line_breaks=False)
BRAND = colors.HexColor("#1f4fb8")
MUTED = colors.HexColor("#555555")


def issued_on(certificate: Certificate) -> date:
    """The day the certificate was issued, in the academy's time zone (not the server's)."""
    return hours.local_day(certificate.issued_at)


def course_title(certificate: Certificate) -> str:
    zh, en = certificate.course_title_zh, certificate.course_title_en
    return (en or zh) if current_language() == "en" else (zh or en)


def camp_title(certificate: Certificate) -> str:
    zh, en = certificate.camp_title_zh, certificate.camp_title_en
    return (en or zh) if current_language() == "en" else (zh or en)


def qr_code(url: str) -> segno.QRCode:
    return segno.make(url, error="m")


def qr_svg(url: str) -> Markup:
    """The QR code of ``url`` as inline SVG (a scalable ``viewBox``, no size, no script)."""
    svg = qr_code(url).svg_inline(scale=1, border=2, omitsize=True, svgclass="certificate-qr")
    return Markup(svg)  # noqa: S704 - segno's own markup; the URL is encoded as modules


def _text(value: object) -> str:
    return escape(CONTROL.sub("", str(value)))


def pdf(certificate: Certificate, verify_url: str, academy: str) -> bytes:
    """The certificate as a one-page PDF: names, course, date (academy's time zone), minutes,
    verification code, and a QR code of ``verify_url`` (an absolute URL)."""
    font = pdf_fonts.font()
    buffer = BytesIO()
    width, height = landscape(A4)
    canvas = Canvas(
        buffer,
        pagesize=(width, height),
        # types-reportlab types the initial font's name as a float; reportlab takes the name.
        initialFontName=font,  # type: ignore[arg-type]
        pageCompression=1,
    )
    canvas.setTitle(
        f"{_('Certificate of completion')} - {CONTROL.sub('', course_title(certificate))}"
    )
    canvas.setAuthor(academy)
    canvas.setCreator("Camp LMS")

    canvas.setStrokeColor(BRAND)
    canvas.setLineWidth(3)
    canvas.rect(12 * mm, 12 * mm, width - 24 * mm, height - 24 * mm)
    canvas.setLineWidth(0.8)
    canvas.rect(15 * mm, 15 * mm, width - 30 * mm, height - 30 * mm)

    def style(name: str, size: float, color: colors.Color = colors.black) -> ParagraphStyle:
        return ParagraphStyle(
            name,
            fontName=font,
            fontSize=size,
            leading=size * 1.35,
            alignment=TA_CENTER,
            textColor=color,
            wordWrap="CJK",
            spaceAfter=size * 0.5,
        )

    minutes = _("%(minutes)d min", minutes=certificate.minutes)
    story: list[Flowable] = [
        Paragraph(_text(academy), style("academy", 14, MUTED)),
        Paragraph(_text(_("Certificate of completion")), style("title", 30, BRAND)),
        Paragraph(_text(certificate.learner_name), style("name", 26)),
        Paragraph(_text(_("has completed the course")), style("line", 13, MUTED)),
        Paragraph(_text(course_title(certificate)), style("course", 20)),
        Paragraph(f"{_text(camp_title(certificate))} | {_text(minutes)}", style("camp", 12, MUTED)),
        Paragraph(
            _text(_("Issued %(day)s", day=format_date(issued_on(certificate), "long"))),
            style("date", 13),
        ),
    ]
    frame = Frame(30 * mm, 55 * mm, width - 60 * mm, height - 85 * mm, showBoundary=0)
    frame.addFromList(story, canvas)

    size = 34 * mm
    x, y = width - 30 * mm - size, 24 * mm
    _draw_qr(canvas, qr_code(verify_url), x, y, size)
    canvas.setFont(font, 9)
    canvas.setFillColor(MUTED)
    left = 30 * mm
    canvas.drawString(left, 40 * mm, f"{_('Verification code')}: {certificate.code}")
    canvas.drawString(left, 34 * mm, _("Scan the code or open this address to verify:"))
    canvas.drawString(left, 28 * mm, verify_url[:110])
    canvas.linkURL(verify_url, (x, y, x + size, y + size), relative=0)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_qr(canvas: Canvas, code: segno.QRCode, x: float, y: float, size: float) -> None:
    """The code's dark modules as squares filling ``size`` points (with a quiet zone)."""
    border = 2
    modules = len(code.matrix) + 2 * border
    cell = size / modules
    canvas.setFillColor(colors.white)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColor(colors.black)
    for row, line in enumerate(code.matrix):
        for column, dark in enumerate(line):
            if dark:
                canvas.rect(
                    x + (column + border) * cell,
                    y + size - (row + border + 1) * cell,
                    cell,
                    cell,
                    stroke=0,
                    fill=1,
                )
