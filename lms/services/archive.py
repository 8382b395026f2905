"""A learner's training archive (培养档案): everything on record for one person.

:func:`build` gathers the profile, the totals, the hours per month and per camp and a
timeline of enrollments, completions, certificates, live attendance and attendance
corrections — in a fixed number of queries, however long the record is. Who may see an
archive is :mod:`lms.services.people`'s answer; the archive page and its PDF ask it first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, case, exists, func, select
from sqlalchemy.orm import joinedload

from lms.extensions import db
from lms.models import (
    Attendance,
    AttendanceCorrection,
    Camp,
    Certificate,
    Course,
    Enrollment,
    LiveSession,
    Registration,
    TrainingTime,
    User,
)
from lms.models._base import aware, current_language, utcnow
from lms.services import hours
from lms.services.loading import load
from lms.services.quiz import records as quiz_records
from lms.services.quiz.records import QuizRecord

ATTENDED = ("present", "late")
# Among events at the same moment, the later step of a story comes first (newest first).
KIND_ORDER = {"enrolled": 0, "attendance": 1, "correction": 2, "completed": 3, "certificate": 4}


def _hours(seconds: int) -> float:
    return round(max(0, seconds) / 3600, 1)


@dataclass(frozen=True)
class Profile:
    id: int
    name: str
    email: str
    organization: str | None
    member_since: date  # the academy's calendar day the account was made


@dataclass(frozen=True)
class Totals:
    seconds_all: int
    seconds_year: int
    seconds_month: int
    target_hours: int
    courses_enrolled: int
    courses_completed: int
    certificates: int
    sessions_attended: int
    # Sessions that count for the attendance rate: an attendance record, or a confirmed
    # registration for a session that has ended.
    sessions_counted: int

    @property
    def hours_all(self) -> float:
        return _hours(self.seconds_all)

    @property
    def hours_year(self) -> float:
        return _hours(self.seconds_year)

    @property
    def hours_month(self) -> float:
        return _hours(self.seconds_month)

    @property
    def month_percent(self) -> int:
        """This month's hours against the target, 0..100 (as the dashboard shows it)."""
        return hours.percent_of_target(self.seconds_month, self.target_hours)

    @property
    def attendance_rate(self) -> int | None:
        """Present or late, in percent of the sessions counted; None when there are none."""
        if not self.sessions_counted:
            return None
        return round(100 * self.sessions_attended / self.sessions_counted)


@dataclass(frozen=True)
class CampHours:
    slug: str | None
    title_zh: str
    title_en: str
    seconds: int

    @property
    def title(self) -> str:
        return _pick(self.title_zh, self.title_en) or _("Without a camp")

    @property
    def hours(self) -> float:
        return _hours(self.seconds)


@dataclass(frozen=True)
class Event:
    """One line of the timeline. ``at`` is aware (UTC); ``timezone`` is where it happened."""

    kind: str  # one of KIND_ORDER
    at: datetime
    title_zh: str
    title_en: str
    camp_zh: str = ""
    camp_en: str = ""
    timezone: str = ""  # empty: the academy's
    status: str = ""  # attendance: its status; correction: the new status
    old_status: str | None = None  # correction: the status before
    seconds: int = 0  # attendance: the time credited for the session
    code: str = ""  # certificate: its verification code
    minutes: int = 0  # certificate: the course's minutes
    reason: str = ""  # correction
    by: str = ""  # correction: who made it
    withdrawn: bool = False  # enrollment

    @property
    def title(self) -> str:
        return _pick(self.title_zh, self.title_en)

    @property
    def camp(self) -> str:
        return _pick(self.camp_zh, self.camp_en)

    @property
    def local_at(self) -> datetime:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = hours.academy_zone()
        return self.at.astimezone(zone)

    @property
    def hours(self) -> float:
        return _hours(self.seconds)


@dataclass(frozen=True)
class AttendanceRecord:
    """One live session of the learner's attendance history, newest first in the archive."""

    starts_at: datetime
    timezone: str
    title_zh: str
    title_en: str
    status: str
    arrived_at: datetime | None
    left_at: datetime | None
    seconds: int
    in_place_of: str

    @property
    def title(self) -> str:
        return _pick(self.title_zh, self.title_en)

    def local(self, moment: datetime) -> datetime:
        return aware(moment).astimezone(ZoneInfo(self.timezone))

    @property
    def hours(self) -> float:
        return _hours(self.seconds)


@dataclass(frozen=True)
class Archive:
    profile: Profile
    totals: Totals
    months: list[hours.MonthHours]
    camps: list[CampHours]
    timeline: list[Event]
    quizzes: list[QuizRecord] = field(default_factory=list)  # lms.services.quiz.records
    attendance: list[AttendanceRecord] = field(default_factory=list)


def _pick(zh: str, en: str) -> str:
    return (en or zh) if current_language() == "en" else (zh or en)


def kind_label(kind: str) -> str:
    return {
        "enrolled": _("Enrolled"),
        "completed": _("Completed the course"),
        "certificate": _("Certificate issued"),
        "attendance": _("Live session"),
        "correction": _("Attendance corrected"),
    }[kind]


def status_label(status: str | None) -> str:
    labels = {
        "present": _("present"),
        "late": _("late"),
        "excused": _("excused"),
        "absent": _("absent"),
        "replaced": _("replaced"),
    }
    return labels.get(status or "", "—")


def build(person: User, today: date | None = None, now: datetime | None = None) -> Archive:
    """The whole archive of ``person``. Authorize before calling: this shows everything."""
    now = now or utcnow()
    today = today or hours.local_day(now)
    enrollments = _enrollments(person.id)
    certificates = list(
        db.session.scalars(select(Certificate).where(Certificate.user_id == person.id))
    )
    attendance = _attendance(person.id)
    corrections = _corrections(person.id)
    credited = _credited_per_session(person.id)
    missed = _missed_sessions(person.id, now)
    timeline = (
        _enrollment_events(enrollments)
        + [_certificate_event(row) for row in certificates]
        + [_attendance_event(row, session, credited) for row, session in attendance]
        + [_correction_event(*row) for row in corrections]
    )
    timeline.sort(key=lambda event: (event.at, KIND_ORDER[event.kind]), reverse=True)
    seconds_all, seconds_year, seconds_month = _sums(person.id, today)
    totals = Totals(
        seconds_all=seconds_all,
        seconds_year=seconds_year,
        seconds_month=seconds_month,
        target_hours=hours.target_hours(person),
        courses_enrolled=sum(1 for row, _course, _camp in enrollments if row.status != "withdrawn"),
        courses_completed=sum(1 for row, _course, _camp in enrollments if row.completed_at),
        certificates=len(certificates),
        sessions_attended=sum(1 for row, _session in attendance if row.status in ATTENDED),
        # As the attendance report counts: excused and replaced count neither way.
        sessions_counted=sum(1 for row, _s in attendance if row.status in (*ATTENDED, "absent"))
        + missed,
    )
    return Archive(
        profile=Profile(
            id=person.id,
            name=person.name,
            email=person.email,
            organization=organization.name
            if (organization := load(person, "organization"))
            else None,
            member_since=hours.local_day(person.created_at),
        ),
        totals=totals,
        months=hours.monthly(person.id, today=today),
        camps=_per_camp(person.id),
        timeline=timeline,
        quizzes=quiz_records.for_learner(person.id),
        attendance=_history(attendance, credited),
    )


def _enrollments(user_id: int) -> list[tuple[Enrollment, Course, Camp]]:
    return list(
        db.session.execute(
            select(Enrollment, Course, Camp)
            .join(Course, Enrollment.course_id == Course.id)
            .join(Camp, Course.camp_id == Camp.id)
            .where(Enrollment.user_id == user_id)
        )
    )


def _attendance(user_id: int) -> list[tuple[Attendance, LiveSession]]:
    return list(
        db.session.execute(
            select(Attendance, LiveSession)
            .join(LiveSession, Attendance.session_id == LiveSession.id)
            .where(Attendance.user_id == user_id)
            .options(joinedload(LiveSession.camp), joinedload(Attendance.substitute_for))
        )
    )


def _history(
    attendance: list[tuple[Attendance, LiveSession]], credited: dict[int, int]
) -> list[AttendanceRecord]:
    """The attendance history: status, arrival, departure, hours and whom they replaced."""
    records = [
        AttendanceRecord(
            starts_at=aware(session.starts_at),
            timezone=session.timezone,
            title_zh=session.title_zh,
            title_en=session.title_en,
            status=row.status,
            arrived_at=(row.arrived_at or row.checked_in_at) if row.status in ATTENDED else None,
            left_at=row.left_at,
            seconds=credited.get(session.id, 0),
            in_place_of=row.substitute_for.name if row.substitute_for else "",
        )
        for row, session in attendance
    ]
    return sorted(records, key=lambda record: record.starts_at, reverse=True)


def _corrections(user_id: int) -> list[tuple[AttendanceCorrection, LiveSession, str | None]]:
    return list(
        db.session.execute(
            select(AttendanceCorrection, LiveSession, User.name)
            .join(Attendance, AttendanceCorrection.attendance_id == Attendance.id)
            .join(LiveSession, Attendance.session_id == LiveSession.id)
            .outerjoin(User, AttendanceCorrection.by_id == User.id)
            .where(Attendance.user_id == user_id)
            .options(joinedload(LiveSession.camp))
        )
    )


def _credited_per_session(user_id: int) -> dict[int, int]:
    """Seconds credited per live session: the check-in and every correction, summed."""
    rows = db.session.execute(
        select(TrainingTime.live_session_id, func.sum(TrainingTime.seconds))
        .where(TrainingTime.user_id == user_id, TrainingTime.live_session_id.is_not(None))
        .group_by(TrainingTime.live_session_id)
    )
    return {session_id: int(total or 0) for session_id, total in rows if session_id is not None}


def _missed_sessions(user_id: int, now: datetime) -> int:
    """Ended, not cancelled sessions the learner had a seat for but no attendance record."""
    recorded = exists().where(
        Attendance.session_id == Registration.session_id, Attendance.user_id == user_id
    )
    missed = db.session.scalar(
        select(func.count(Registration.id))
        .join(LiveSession, Registration.session_id == LiveSession.id)
        .where(
            Registration.user_id == user_id,
            Registration.status == "registered",
            LiveSession.status == "scheduled",
            LiveSession.ends_at <= now,
            ~recorded,
        )
    )
    return missed or 0


def _sums(user_id: int, today: date) -> tuple[int, int, int]:
    """Seconds in all, this year and this month, in one pass over the learner's ledger."""
    year_start, month_start = date(today.year, 1, 1), today.replace(day=1)

    def since(start: date) -> ColumnElement[int]:
        return func.coalesce(
            func.sum(case((TrainingTime.day >= start, TrainingTime.seconds), else_=0)), 0
        )

    row = db.session.execute(
        select(
            func.coalesce(func.sum(TrainingTime.seconds), 0), since(year_start), since(month_start)
        ).where(TrainingTime.user_id == user_id)
    ).one()
    return (max(0, int(row[0])), max(0, int(row[1])), max(0, int(row[2])))


def _per_camp(user_id: int) -> list[CampHours]:
    """All-time hours per camp, most first; time without a camp is one row of its own."""
    total = func.sum(TrainingTime.seconds)
    rows = db.session.execute(
        select(Camp.slug, Camp.title_zh, Camp.title_en, total)
        .select_from(TrainingTime)
        .outerjoin(Camp, TrainingTime.camp_id == Camp.id)
        .where(TrainingTime.user_id == user_id)
        .group_by(Camp.id, Camp.slug, Camp.title_zh, Camp.title_en)
        .order_by(total.desc(), Camp.slug)
    )
    return [
        CampHours(slug, title_zh or "", title_en or "", int(seconds))
        for slug, title_zh, title_en, seconds in rows
        if seconds and seconds > 0
    ]


class _Titles(TypedDict):
    """The titles every event names: the course's or session's, and its camp's."""

    title_zh: str
    title_en: str
    camp_zh: str
    camp_en: str


class _SessionFields(_Titles):
    timezone: str


def _enrollment_events(rows: list[tuple[Enrollment, Course, Camp]]) -> list[Event]:
    events = []
    for enrollment, course, camp in rows:
        common: _Titles = {
            "title_zh": course.title_zh,
            "title_en": course.title_en,
            "camp_zh": camp.title_zh,
            "camp_en": camp.title_en,
        }
        events.append(
            Event(
                "enrolled",
                aware(enrollment.enrolled_at),
                withdrawn=enrollment.status == "withdrawn",
                **common,
            )
        )
        if enrollment.completed_at is not None:
            events.append(Event("completed", aware(enrollment.completed_at), **common))
    return events


def _certificate_event(certificate: Certificate) -> Event:
    return Event(
        "certificate",
        aware(certificate.issued_at),
        title_zh=certificate.course_title_zh,
        title_en=certificate.course_title_en,
        camp_zh=certificate.camp_title_zh,
        camp_en=certificate.camp_title_en,
        code=certificate.code,
        minutes=certificate.minutes,
    )


def _session_fields(session: LiveSession) -> _SessionFields:
    return {
        "title_zh": session.title_zh,
        "title_en": session.title_en,
        "camp_zh": session.camp.title_zh if session.camp else "",
        "camp_en": session.camp.title_en if session.camp else "",
        "timezone": session.timezone,
    }


def _attendance_event(
    attendance: Attendance, session: LiveSession, credited: dict[int, int]
) -> Event:
    return Event(
        "attendance",
        aware(session.starts_at),
        status=attendance.status,
        seconds=credited.get(session.id, 0),
        **_session_fields(session),
    )


def _correction_event(
    correction: AttendanceCorrection, session: LiveSession, by: str | None
) -> Event:
    return Event(
        "correction",
        aware(correction.at),
        status=correction.new_status,
        old_status=correction.old_status,
        reason=correction.reason,
        by=by or "",
        **_session_fields(session),
    )
