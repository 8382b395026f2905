"""The bars of the reports' server-drawn charts (``templates/reports/_charts.html``):
labels, values, tooltips and CSS classes, in the viewer's language."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from lms.services import reports
from lms.services.live import local

CHART_SESSIONS = 60  # the attendance chart shows the period's last sessions


@dataclass(frozen=True)
class Bar:
    """One bar of a chart."""

    label: str
    value: float | None
    title: str
    cls: str = ""


def share_labels() -> dict[str, str]:
    """The names of :data:`~lms.services.reports.HOUR_BUCKETS`: shares of a target."""
    return {
        "none": _("none"),
        "under_25": "0–25%",
        "under_50": "25–50%",
        "under_75": "50–75%",
        "under_100": "75–100%",
        "met": _("met"),
    }


def share_legend() -> list[Bar]:
    """The hours grid's legend: one swatch per share of the monthly target (its class is the
    cells' ``heat-<bucket>``)."""
    labels = share_labels()
    return [Bar(labels[key], None, labels[key], f"heat-{key}") for key in reports.HOUR_BUCKETS]


def hours_bars(summary: reports.HoursSummary) -> list[Bar]:
    """The distribution of learners by the share of their target reached."""
    labels = share_labels()
    return [
        Bar(
            labels[key],
            summary.buckets[key],
            _("%(share)s: %(num)d learners", share=labels[key], num=summary.buckets[key]),
            "met" if key == "met" else "",
        )
        for key in reports.HOUR_BUCKETS
    ]


def session_bars(rows: list[reports.SessionAttendance]) -> list[Bar]:
    """Attendance rate of the last sessions of the period that have a rate: a session the
    table shows as "—" (nobody registered) is left out rather than drawn as 0 %."""
    rated = [
        (row.session, row.rate)
        for row in rows
        if row.rate is not None and row.session is not None  # a session row has its session
    ]
    bars = []
    for session, rate in rated[-CHART_SESSIONS:]:
        day = local(session.starts_at, session.timezone)
        bars.append(
            Bar(
                day.strftime("%m-%d"),
                rate,
                f"{day:%Y-%m-%d} {session.title}: {rate}%",
                "low" if rate < 50 else "",
            )
        )
    return bars


def completion_bars(rows: list[reports.CourseCompletion]) -> list[Bar]:
    """The completion rate of each course someone is enrolled in."""
    return [
        Bar(
            course.title,
            row.rate,
            _(
                "%(course)s: %(completed)d of %(enrolled)d completed",
                course=course.title,
                completed=row.completed,
                enrolled=row.enrolled,
            ),
            f"camp-{course.camp.slug}",
        )
        for row in rows
        if row.enrolled and (course := row.course) is not None  # a course row has its course
    ]
