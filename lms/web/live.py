"""Live teaching pages: sessions, registration, check-in codes, rosters and the calendar."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
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
from wtforms.fields.choices import SelectChoice

from lms.extensions import db
from lms.models import Camp, Course, Lesson, LiveSession, User
from lms.models._base import utcnow
from lms.services import checkin, live, ratelimit
from lms.services.camps import visible_camps
from lms.services.hours import academy_timezone
from lms.web.forms import ActionForm
from lms.web.live_forms import TIMEZONES, CheckinForm, CorrectionForm, MoveForm, SessionForm

bp = Blueprint("live", __name__, url_prefix="/live")

CHECKIN_RATE = "5/minute"


def session_or_404(session_id: int) -> LiveSession:
    found = live.visible_session(session_id, live.camp_ids_visible())
    if found is None:
        abort(404)
    return found


def runnable_or_404(session_id: int) -> LiveSession:
    """A session the current user runs; others get 403 (or 404 if they cannot see it)."""
    found = session_or_404(session_id)
    if not live.can_run(current_user, found):
        abort(403)
    return found


@bp.get("/")
def index() -> str:
    camps = visible_camps()
    sessions = live.upcoming([camp.id for camp in camps])
    registrations = {}
    if current_user.is_authenticated and sessions:
        from lms.models import Registration

        registrations = {
            row.session_id: row
            for row in db.session.scalars(
                db.select(Registration).where(
                    Registration.user_id == current_user.id,
                    Registration.session_id.in_([s.id for s in sessions]),
                )
            )
        }
    return render_template("live/index.html", sessions=sessions, registrations=registrations)


@bp.get("/calendar")
def calendar_page() -> str:
    today = live.local(utcnow(), academy_timezone()).date()
    try:
        year = int(request.args.get("year", today.year))
        month = int(request.args.get("month", today.month))
        live.check_year(year)
        first = date(year, month, 1)
    except (ValueError, OverflowError):
        abort(400, _("Unknown month."))
    start = datetime(first.year, first.month, 1, tzinfo=live.zone(academy_timezone())) - timedelta(
        days=7
    )
    sessions = live.upcoming(live.camp_ids_visible(), start=start, days=45)
    by_day: dict[date, list[LiveSession]] = {}
    for session in sessions:
        by_day.setdefault(live.local(session.starts_at, session.timezone).date(), []).append(
            session
        )
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return render_template(
        "live/calendar.html",
        weeks=live.month_grid(first.year, first.month),
        first=first,
        today=today,
        by_day=by_day,
        previous=previous,
        following=following,
    )


@bp.get("/<int:session_id>")
def session(session_id: int) -> str:
    found = session_or_404(session_id)
    registration = position = None
    if current_user.is_authenticated:
        registration = live.registration_of(current_user, found)
        if registration is not None and registration.status == "waitlisted":
            position = live.waitlist_position(registration)
    return render_template(
        "live/session.html",
        session=found,
        registration=registration,
        position=position,
        taken=live.seats_taken(found),
        runs=live.can_run(current_user, found),
        checkin_open=checkin.is_open(found),
        cancellable=registration is not None and live.can_cancel(current_user, found),
        attendance=checkin.attendance_of(current_user, found),
        form=ActionForm(),
        checkin_form=_checkin_form(found),
    )


def _checkin_form(found: LiveSession, formdata: Any = None) -> CheckinForm:
    """Only the choices the check-in accepts: "myself" for a registered learner, and the
    registered colleagues nobody has checked in for yet."""
    form = CheckinForm(formdata=formdata) if formdata is not None else CheckinForm(formdata=None)
    choices = []
    if current_user.is_authenticated and checkin.may_check_in_myself(current_user, found):
        choices.append(SelectChoice(0, _("— myself —")))
    if current_user.is_authenticated:
        choices += [
            SelectChoice(user.id, user.name)
            for user in checkin.replaceable_colleagues(current_user, found)
        ]
    form.substitute_for.choices = choices
    form.substitute_for.validate_choice = False  # checkin.check_in says why a choice is refused
    if formdata is None:
        form.code.data = request.args.get("code", "")
    return form


@bp.post("/<int:session_id>/register")
@login_required
def register(session_id: int) -> Response:
    found = session_or_404(session_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        registration = live.register(current_user, found)
    except live.LiveError as exc:
        abort(409, str(exc))
    if registration.status == "registered":
        flash(_("You have a seat."), "success")
    else:
        flash(_("The session is full: you are on the waitlist."), "info")
    return redirect(url_for(".session", session_id=found.id))


@bp.post("/<int:session_id>/cancel-registration")
@login_required
def cancel_registration(session_id: int) -> Response:
    found = session_or_404(session_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        live.cancel_registration(current_user, found)
    except live.LiveError as exc:
        abort(409, str(exc))
    flash(_("Your registration is cancelled."), "info")
    return redirect(url_for(".session", session_id=found.id))


@bp.route("/<int:session_id>/checkin", methods=["GET", "POST"])
@login_required
def check_in(session_id: int) -> str | Response | tuple[str, int]:
    found = session_or_404(session_id)
    form = _checkin_form(found, request.form if request.method == "POST" else None)
    if request.method == "POST" and checkin.attendance_of(current_user, found) is not None:
        flash(_("You were already checked in."), "info")
        return redirect(url_for(".check_in", session_id=found.id))
    if request.method == "POST":
        key = f"{current_user.id}"
        if not ratelimit.allowed("checkin", key, CHECKIN_RATE):
            abort(
                429,
                _("Too many wrong codes. Wait a minute and ask the trainer for the current code."),
            )
        if form.validate_on_submit():
            absent = (
                db.session.get(User, form.substitute_for.data) if form.substitute_for.data else None
            )
            try:
                result = checkin.check_in(
                    current_user, found, form.code.data, substitute_for=absent
                )
            except checkin.CheckinError as exc:
                ratelimit.spend("checkin", key, CHECKIN_RATE)
                form.code.errors.append(str(exc))
            else:
                if result.created:
                    flash(_("You are checked in. Welcome!"), "success")
                else:
                    flash(_("You were already checked in."), "info")
                return redirect(url_for(".check_in", session_id=found.id))
        else:
            ratelimit.spend("checkin", key, CHECKIN_RATE)
    status = 400 if form.errors else 200
    return render_template(
        "live/checkin.html",
        session=found,
        form=form,
        attendance=checkin.attendance_of(current_user, found),
        opens_at=checkin.opens_at(found),
        closes_at=checkin.closes_at(found),
        checkin_open=checkin.is_open(found),
    ), status


@bp.get("/<int:session_id>/code")
@login_required
def code_page(session_id: int) -> str:
    found = runnable_or_404(session_id)
    return render_template("live/code.html", session=found)


@bp.get("/<int:session_id>/code.json")
@login_required
def code_json(session_id: int) -> Response:
    found = runnable_or_404(session_id)
    response = jsonify(
        {
            "code": checkin.code_for(found),
            "seconds_left": checkin.seconds_left(),
            "open": checkin.is_open(found),
            "qr": url_for(".code_qr", session_id=found.id, t=checkin.code_for(found)),
        }
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:session_id>/code.svg")
@login_required
def code_qr(session_id: int) -> Response:
    found = runnable_or_404(session_id)
    target = url_for(".check_in", session_id=found.id, code=checkin.code_for(found), _external=True)
    image = io.BytesIO()
    segno.make(target, error="m").save(image, kind="svg", scale=8, border=2, xmldecl=False)
    return Response(
        image.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@bp.get("/<int:session_id>/roster")
@login_required
def roster(session_id: int) -> str:
    found = runnable_or_404(session_id)
    return render_template(
        "live/roster.html",
        session=found,
        rows=checkin.roster(found),
        corrections=checkin.corrections(found),
        form=CorrectionForm(formdata=None),
    )


@bp.post("/<int:session_id>/attendance")
@login_required
def correct(session_id: int) -> Response:
    found = runnable_or_404(session_id)
    form = CorrectionForm()
    learner = db.session.get(User, form.learner.data) if form.validate_on_submit() else None
    if learner is None:
        abort(400, _("Choose a learner and a status."))
    try:
        checkin.correct(current_user, found, learner, form.status.data, form.reason.data or "")
    except checkin.CheckinError as exc:
        abort(400, str(exc))
    flash(_("Attendance corrected."), "success")
    return redirect(url_for(".roster", session_id=found.id))


def _course_choices() -> list[SelectChoice]:
    """Published courses of visible camps; a session tied to a course also gets its camp."""
    courses = db.session.scalars(
        db.select(Course)
        .where(Course.camp_id.in_(live.camp_ids_visible()), Course.status == "published")
        .where(Course.archived_at.is_(None))
        .order_by(Course.camp_id, Course.position)
    )
    return [SelectChoice(0, _("— none —"))] + [SelectChoice(c.id, c.title) for c in courses]


def _camp_choices() -> list[SelectChoice]:
    return [SelectChoice("", _("— the whole academy —"))] + [
        SelectChoice(camp.slug, camp.title) for camp in visible_camps()
    ]


def _lecturer_choices() -> list[SelectChoice]:
    trainers = db.session.scalars(
        db.select(User)
        .where(User.role.in_(("trainer", "organizer")), User.active.is_(True))
        .order_by(User.name)
    )
    return [SelectChoice(0, _("— none —"))] + [
        SelectChoice(user.id, user.name) for user in trainers
    ]


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response | tuple[str, int]:
    if not current_user.is_trainer:
        abort(403)
    form = SessionForm()
    form.camp.choices = _camp_choices()
    form.course.choices = _course_choices()
    form.lecturer.choices = _lecturer_choices()
    zones = [academy_timezone(), *(z for z in TIMEZONES if z != academy_timezone())]
    form.timezone.choices = [SelectChoice(z, z) for z in zones]
    if request.method == "GET":
        _activity_day_defaults(form)
    if form.validate_on_submit():
        try:
            created = _create(form)
        except live.LiveError as exc:
            form.repeat.errors.append(str(exc))
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".session", session_id=created.id))
    return render_template("live/new.html", form=form), 400 if form.errors else 200


def _activity_day_defaults(form: SessionForm) -> None:
    today = live.local(utcnow(), academy_timezone()).date()
    next_25th = (
        today.replace(day=25)
        if today.day <= 25
        else (today.replace(day=1) + timedelta(days=32)).replace(day=25)
    )
    form.title_zh.data, form.title_en.data = "园区党员固定活动日", "Park activity day"
    form.date.data, form.start.data = next_25th, live.ACTIVITY_DAY_START
    form.timezone.data = academy_timezone()
    form.repeat.data = live.ACTIVITY_DAY_RULE
    form.location.data = live.REMOTE_EDUCATION_CENTRE
    form.capacity.data = 80


def _create(form: SessionForm) -> LiveSession:
    course = db.session.get(Course, form.course.data) if form.course.data else None
    camp = (
        db.session.scalar(db.select(Camp).filter_by(slug=form.camp.data))
        if form.camp.data
        else None
    )
    if course is not None:
        camp = course.camp
    lesson_id = form.screening_lesson.data if form.delivery.data == "screening" else None
    if lesson_id is not None and db.session.get(Lesson, lesson_id) is None:
        raise live.LiveError(_("There is no lesson with this number."))
    values = live.SessionValues(
        title_zh=form.title_zh.data.strip(),
        title_en=form.title_en.data.strip(),
        summary_zh=form.summary_zh.data or "",
        summary_en=form.summary_en.data or "",
        location=form.location.data.strip(),
        capacity=form.capacity.data,
        timezone=form.timezone.data,
        camp_id=camp.id if camp else None,
        course_id=course.id if course else None,
        lecturer_id=form.lecturer.data or None,
        guest_name=(form.guest_name.data or "").strip(),
        guest_title=(form.guest_title.data or "").strip(),
        delivery=form.delivery.data,
        screening_lesson_id=lesson_id,
    )
    plan = live.ACTIVITY_DAY_SEGMENTS
    if form.plan.data == "lecture":
        minutes = form.minutes.data or 90
        plan = [
            {
                "kind": "lecture",
                "title_zh": "讲座",
                "title_en": "Lecture",
                "offset": 0,
                "minutes": minutes,
            }
        ]
    starts_local = datetime.combine(form.date.data, form.start.data)
    if form.repeat.data:
        series = live.create_series(
            values, form.repeat.data.upper(), starts_local, plan, current_user
        )
        first = db.session.scalar(
            db.select(LiveSession)
            .filter_by(series_id=series.id)
            .order_by(LiveSession.starts_at)
            .limit(1)
        )
        if first is None:
            raise live.LiveError(_("The rule gives no date in the coming months."))
        return first
    return live.create_session(
        values, starts_local.replace(tzinfo=live.zone(values.timezone)), plan
    )


@bp.route("/<int:session_id>/manage", methods=["GET", "POST"])
@login_required
def manage(session_id: int) -> str | Response | tuple[str, int]:
    found = runnable_or_404(session_id)
    form = MoveForm()
    if form.validate_on_submit():
        moment = datetime.combine(form.date.data, form.start.data).replace(
            tzinfo=live.zone(found.timezone)
        )
        try:
            live.move(found, moment)
        except live.LiveError as exc:
            form.date.errors.append(str(exc))
        else:
            flash(_("The session was moved."), "success")
            return redirect(url_for(".session", session_id=found.id))
    if request.method == "GET":
        start = live.local(found.starts_at, found.timezone)
        form.date.data, form.start.data = start.date(), start.time()
    return render_template(
        "live/manage.html", session=found, form=form, action=ActionForm()
    ), 400 if form.errors else 200


@bp.post("/<int:session_id>/<any(cancel, reinstate):change>")
@login_required
def change_status(session_id: int, change: str) -> Response:
    found = runnable_or_404(session_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    if change == "cancel":
        live.cancel(found)
        flash(_("The session is cancelled."), "info")
    else:
        live.reinstate(found)
        flash(_("The session is back on."), "success")
    return redirect(url_for(".session", session_id=found.id))
