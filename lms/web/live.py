"""Live teaching pages: sessions, registration, check-in codes, rosters and the calendar."""

from __future__ import annotations

import io
from datetime import datetime
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
from flask_babel import ngettext
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from lms.models import LiveSegment, LiveSession
from lms.models._base import utcnow
from lms.services import (
    checkin,
    hours,
    live,
    live_attendance,
    live_corrections,
    live_series,
    live_setup,
    ratelimit,
)
from lms.services.camps import visible_camps
from lms.services.hours import academy_timezone
from lms.web.downloads import csv_response
from lms.web.forms import ActionForm
from lms.web.live_forms import (
    TIMEZONES,
    CheckinForm,
    CorrectionForm,
    EditForm,
    MarkAllForm,
    ReasonForm,
    SessionForm,
)

bp = Blueprint("live", __name__, url_prefix="/live")

CHECKIN_RATE = "5/minute"


@bp.app_template_global("live_status")
def status_label(code: str) -> str:
    """An attendance or registration status as the reader's language says it."""
    labels = {
        "present": _("present"), "late": _("late"), "excused": _("excused"),
        "absent": _("absent"), "replaced": _("replaced"), "registered": _("registered"),
        "waitlisted": _("waitlist"), "cancelled": _("cancelled"),
    }  # fmt: skip
    return labels.get(code, code)


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
    sessions = live.upcoming(live.camp_ids_visible())
    return render_template(
        "live/index.html",
        sessions=sessions,
        registrations=live_setup.registrations_by_session(current_user, sessions),
    )


@bp.get("/calendar")
def calendar_page() -> str:
    try:
        year, month = (request.args.get(name) for name in ("year", "month"))
        page = live_setup.calendar_month(
            None if year is None else int(year), None if month is None else int(month)
        )
    except (ValueError, OverflowError):
        abort(400, _("Unknown month."))
    return render_template("live/calendar.html", **vars(page))


@bp.get("/<int:session_id>")
def session(session_id: int) -> str:
    found = session_or_404(session_id)
    registration = position = None
    if current_user.is_authenticated:
        registration = live.registration_of(current_user, found)
        if registration is not None and registration.status == "waitlisted":
            position = live.waitlist_position(registration)
    attendance = checkin.attendance_of(current_user, found)
    return render_template(
        "live/session.html",
        session=found,
        registration=registration,
        position=position,
        taken=live.seats_taken(found),
        runs=live.can_run(current_user, found),
        checkin_open=checkin.is_open(found),
        cancellable=registration is not None and live.can_cancel(current_user, found),
        attendance=attendance,
        form=ActionForm(),
        checkin_form=_checkin_form(found),
        checked_in_now=checkin.checked_in_now(current_user, found),
        **_attendance_context(found, attendance),
    )


def _checkin_form(found: LiveSession, formdata: Any = None) -> CheckinForm:
    """Only the choices the check-in accepts: "myself" for a registered learner, and the
    registered colleagues nobody has checked in for yet."""
    form = CheckinForm(formdata=formdata) if formdata is not None else CheckinForm(formdata=None)
    choices = []
    if current_user.is_authenticated and checkin.may_check_in_myself(current_user, found):
        choices.append(SelectChoice(0, _("— myself —")))
    if current_user.is_authenticated and checkin.attendance_of(current_user, found) is None:
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
    if request.method == "POST" and checkin.checked_in_now(current_user, found):
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
            absent = live_setup.user(form.substitute_for.data)
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
    attendance = checkin.attendance_of(current_user, found)
    return render_template(
        "live/checkin.html",
        session=found,
        form=form,
        attendance=attendance,
        credited=hours.credited_for_session(current_user.id, found.id) if attendance else None,
        opens_at=checkin.opens_at(found),
        closes_at=checkin.closes_at(found),
        checkin_open=checkin.is_open(found),
        checked_in_now=checkin.checked_in_now(current_user, found),
        **_attendance_context(found, attendance),
    ), status


def _attendance_context(found: LiveSession, attendance: Any) -> dict[str, Any]:
    """What the learner's attendance box shows: their segments and the check-out button."""
    return {
        "segment_lines": checkin.segment_lines(found, attendance) if attendance else [],
        "can_check_out": checkin.can_check_out(attendance, found),
        "checkout_form": ActionForm(formdata=None),
    }


@bp.post("/<int:session_id>/checkout")
@login_required
def check_out(session_id: int) -> Response:
    """The learner leaves early: the time credited ends now."""
    found = session_or_404(session_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        checkin.check_out(current_user, found)
    except checkin.CheckinError as exc:
        abort(409, str(exc))
    flash(_("You are checked out. Your time in this segment ends now."), "info")
    return redirect(url_for(".check_in", session_id=found.id))


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
    rows = checkin.roster(found)
    return render_template(
        "live/roster.html",
        session=found,
        rows=rows,
        segments=found.segments,
        lines={row["user"].id: checkin.segment_lines(found, row["attendance"]) for row in rows},
        corrections=live_corrections.corrections(found),
        form=CorrectionForm(formdata=None),
        mark_all=MarkAllForm(
            formdata=None, reason=_("Everyone in the room, counted by the trainer")
        ),
        can_mark_all=checkin.is_open(found) or utcnow() > checkin.closes_at(found),
        correctable=checkin.CORRECTABLE,
    )


@bp.get("/<int:session_id>/roster.csv")
@login_required
def roster_csv(session_id: int) -> Response:
    found = runnable_or_404(session_id)
    rows = checkin.roster_lines(found)
    return csv_response(
        (
            (
                row.name, row.email, row.organization, status_label(row.registration),
                status_label(row.attendance), row.arrived, row.left, row.in_place_of,
                row.replaced_by, row.segments,
            )
            for row in rows
        ),
        [
            _("Learner"), _("E-mail"), _("Organization"), _("Registration"), _("Attendance"),
            _("Arrived"), _("Left"), _("In place of"), _("Replaced by"), _("Segments attended"),
        ],
        f"roster-{found.id}-{live.local(found.starts_at, found.timezone):%Y-%m-%d}",
    )  # fmt: skip


@bp.get("/<int:session_id>/sign-in-sheet")
@login_required
def sign_in_sheet(session_id: int) -> str:
    found = runnable_or_404(session_id)
    return render_template(
        "live/sign_in_sheet.html", session=found, rows=checkin.roster_lines(found)
    )


def _segment_or_400(found: LiveSession, segment_id: int | None) -> LiveSegment | None:
    """The segment a roster form names (none, or 0: the whole session)."""
    if not segment_id:
        return None
    segment = live_attendance.segment_of(found, segment_id)
    if segment is None:
        abort(400, _("Choose a segment of this session."))
    return segment


@bp.post("/<int:session_id>/attendance")
@login_required
def correct(session_id: int) -> Response:
    found = runnable_or_404(session_id)
    form = CorrectionForm()
    if not form.validate_on_submit():
        abort(400, _("Choose a learner and a status, and give a reason."))
    learner = live_setup.user(form.learner.data)
    if learner is None:
        abort(400, _("Choose a learner and a status, and give a reason."))
    segment = _segment_or_400(found, form.segment.data)
    try:
        live_corrections.correct(
            current_user,
            found,
            learner,
            form.status.data,
            form.reason.data,
            arrived_at=live_setup.on_session_day(found, form.arrived.data),
            left_at=live_setup.on_session_day(found, form.left.data),
            segment=segment,
        )
    except checkin.SeatConflict as exc:
        abort(409, str(exc))
    except checkin.CheckinError as exc:
        abort(400, str(exc))
    flash(_("Attendance corrected."), "success")
    return redirect(url_for(".roster", session_id=found.id))


@bp.post("/<int:session_id>/attendance/all-present")
@login_required
def mark_all_present(session_id: int) -> Response:
    found = runnable_or_404(session_id)
    form = MarkAllForm()
    if not form.validate_on_submit():
        abort(400, _("Give a reason for the correction."))
    segment = _segment_or_400(found, form.segment.data)
    try:
        marked = live_corrections.mark_all_present(
            current_user, found, form.reason.data, segment=segment
        )
    except checkin.CheckinError as exc:
        abort(409, str(exc))
    flash(ngettext("%(num)d learner marked present.", "%(num)d learners marked present.", marked),
          "success")  # fmt: skip
    return redirect(url_for(".roster", session_id=found.id))


def _course_choices() -> list[SelectChoice]:
    """Published courses of visible camps; a session tied to a course also gets its camp."""
    return [SelectChoice(0, _("— none —"))] + [
        SelectChoice(c.id, c.title) for c in live_setup.schedulable_courses()
    ]


def _camp_choices() -> list[SelectChoice]:
    return [SelectChoice("", _("— the whole academy —"))] + [
        SelectChoice(camp.slug, camp.title) for camp in visible_camps()
    ]


def _lecturer_choices() -> list[SelectChoice]:
    return [SelectChoice(0, _("— none —"))] + [
        SelectChoice(user.id, user.name) for user in live_setup.lecturers()
    ]


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> str | Response | tuple[str, int]:
    """Create a session or a series. A series is saved only once its dates were previewed
    (the page lists them, with the rule, before the trainer saves)."""
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
    dates: list[datetime] = []
    rule = ""
    asks_past = False
    if form.validate_on_submit():
        try:
            rule = _rule(form)
            starts_local = datetime.combine(form.date.data, form.start.data)
            if rule:
                dates = live.preview(rule, starts_local, form.timezone.data)
                first = dates[0]
            else:
                first = starts_local.replace(tzinfo=live.zone(form.timezone.data))
                live.check_year(first.year)
            live.check_past(first, bool(form.confirm_past.data))
            if rule and (request.form.get("action") == "preview" or form.previewed.data != rule):
                form.previewed.data = rule
            else:
                created = _create(form, rule, starts_local)
                flash(_("Saved."), "success")
                return redirect(url_for(".session", session_id=created.id))
        except live.NeedsConfirmation as exc:
            asks_past = True
            form.confirm_past.errors.append(str(exc))
        except live.LiveError as exc:
            form.repeat.errors.append(str(exc))
    return render_template(
        "live/new.html",
        form=form,
        dates=dates,
        rule=rule,
        asks_past=asks_past,
        cap=live.MAX_SERIES_SESSIONS,
    ), 400 if form.errors else 200


def _rule(form: SessionForm) -> str:
    """The RRULE the recurrence fields choose ("" for a single session)."""
    frequency = form.frequency.data or ("rule" if form.repeat.data else "")
    if frequency == "rule":
        if not form.repeat.data:
            raise live.LiveError(_("Give a recurrence rule such as FREQ=MONTHLY;BYMONTHDAY=25."))
        return form.repeat.data.upper()
    if not frequency:
        return ""
    return live.build_rule(
        frequency,
        weekday=form.weekday.data or "",
        monthday=form.monthday.data,
        until=form.until.data,
        count=form.count.data,
        timezone=form.timezone.data,
    )


def _activity_day_defaults(form: SessionForm) -> None:
    defaults = live_setup.activity_day_defaults()
    for name in ("title_zh", "title_en", "location", "capacity", "timezone"):
        getattr(form, name).data = getattr(defaults.values, name)
    form.date.data, form.start.data = defaults.date, defaults.start
    form.frequency.data, form.monthday.data = defaults.frequency, defaults.monthday


def _create(form: SessionForm, rule: str, starts_local: datetime) -> LiveSession:
    camp_id, course_id = live_setup.placement(form.camp.data or "", form.course.data or None)
    lesson_id = form.screening_lesson.data if form.delivery.data == "screening" else None
    live_setup.check_screening(lesson_id)
    values = live.SessionValues(
        title_zh=form.title_zh.data.strip(),
        title_en=form.title_en.data.strip(),
        summary_zh=form.summary_zh.data or "",
        summary_en=form.summary_en.data or "",
        location=form.location.data.strip(),
        capacity=form.capacity.data,
        timezone=form.timezone.data,
        camp_id=camp_id,
        course_id=course_id,
        lecturer_id=form.lecturer.data or None,
        guest_name=(form.guest_name.data or "").strip(),
        guest_title=(form.guest_title.data or "").strip(),
        delivery=form.delivery.data,
        screening_lesson_id=lesson_id,
    )
    plan = live_setup.segment_plan(form.plan.data, form.minutes.data)
    return live_setup.create(values, rule, starts_local, plan, current_user)


def _edit_form(found: LiveSession) -> EditForm:
    form = EditForm()
    form.lecturer.choices = _lecturer_choices()
    if found.series_id is None:
        form.scope.choices = form.scope.choices[:1]
    if request.method == "GET":
        start = live.local(found.starts_at, found.timezone)
        form.date.data, form.start.data = start.date(), start.time()
        form.title_zh.data, form.title_en.data = found.title_zh, found.title_en
        form.location.data, form.capacity.data = found.location, found.capacity
        form.lecturer.data = found.lecturer_id or 0
        form.guest_name.data, form.guest_title.data = found.guest_name, found.guest_title
    return form


@bp.route("/<int:session_id>/manage", methods=["GET", "POST"])
@login_required
def manage(session_id: int) -> str | Response | tuple[str, int]:
    """Edit one session (or this and the following of its series), cancel, end the series."""
    found = runnable_or_404(session_id)
    form = _edit_form(found)
    status = 200
    if form.validate_on_submit():
        edit = live.SessionEdit(
            title_zh=form.title_zh.data.strip(),
            title_en=form.title_en.data.strip(),
            location=form.location.data.strip(),
            capacity=form.capacity.data,
            lecturer_id=form.lecturer.data or None,
            guest_name=(form.guest_name.data or "").strip(),
            guest_title=(form.guest_title.data or "").strip(),
        )
        moment = datetime.combine(form.date.data, form.start.data).replace(
            tzinfo=live.zone(found.timezone)
        )
        try:
            if form.scope.data == "following":
                live_series.edit_following(
                    found, edit, starts_at=moment, confirm_past=bool(form.confirm_past.data)
                )
            else:
                live.edit_session(found, edit, moment, bool(form.confirm_past.data))
        except live.LiveConflict as exc:
            form.date.errors.append(str(exc))
            status = 409
        except live.LiveError as exc:
            form.date.errors.append(str(exc))
        else:
            flash(_("Saved."), "success")
            return redirect(url_for(".session", session_id=found.id))
    if form.errors and status == 200:
        status = 400
    return render_template(
        "live/manage.html",
        session=found,
        form=form,
        action=ActionForm(),
        reason_form=ReasonForm(formdata=None),
        end_form=ReasonForm(formdata=None, prefix="end"),
    ), status


@bp.post("/<int:session_id>/<any(cancel, reinstate):change>")
@login_required
def change_status(session_id: int, change: str) -> Response:
    found = runnable_or_404(session_id)
    if change == "cancel":
        form = ReasonForm()
        if not form.validate_on_submit():
            abort(400, _("Give a reason."))
        live.cancel(found, form.reason.data)
        flash(_("The session is cancelled."), "info")
    else:
        if not ActionForm().validate_on_submit():
            abort(400)
        live.reinstate(found)
        flash(_("The session is back on."), "success")
    return redirect(url_for(".session", session_id=found.id))


@bp.post("/<int:session_id>/end-series")
@login_required
def end_series(session_id: int) -> Response:
    found = runnable_or_404(session_id)
    form = ReasonForm(prefix="end")
    if not form.validate_on_submit():
        abort(400, _("Give a reason."))
    try:
        removed, cancelled = live_series.end_series(found, form.reason.data)
    except live.LiveError as exc:
        abort(400, str(exc))
    flash(
        _(
            "The series ends with this session: %(removed)d later sessions removed, "
            "%(cancelled)d with registrations cancelled.",
            removed=removed,
            cancelled=cancelled,
        ),
        "info",
    )
    return redirect(url_for(".session", session_id=found.id))
