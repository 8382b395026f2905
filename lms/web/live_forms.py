"""Forms of the live-teaching pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from lms.web.forms import NO_CONTROL, BilingualText, BilingualTitle

TIMEZONES = [
    "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Singapore", "Asia/Tokyo", "Europe/London",
    "Europe/Berlin", "America/New_York", "America/Los_Angeles", "UTC",
]  # fmt: skip


class SessionForm(BilingualText, FlaskForm):
    camp = SelectField(_l("Camp"), validators=[Optional()])
    course = SelectField(_l("Course (optional)"), coerce=int, validators=[Optional()])
    plan = SelectField(
        _l("Programme"),
        choices=[
            SelectChoice(
                "activity_day", _l("Activity day: open class, maker salon, members' discussion")
            ),
            SelectChoice("lecture", _l("A single lecture")),
        ],
    )
    minutes = IntegerField(
        _l("Lecture length (minutes)"), default=90, validators=[Optional(), NumberRange(10, 600)]
    )
    date = DateField(_l("Date (first date of a series)"), validators=[DataRequired()])
    start = TimeField(_l("Start time"), validators=[DataRequired()])
    timezone = SelectField(_l("Time zone"), choices=[SelectChoice(z, z) for z in TIMEZONES])
    frequency = SelectField(
        _l("Repeat"),
        choices=[
            SelectChoice("", _l("Once (a single session)")),
            SelectChoice("weekly", _l("Weekly")),
            SelectChoice("monthly", _l("Monthly")),
            SelectChoice("rule", _l("Advanced: an iCalendar rule")),
        ],
        validators=[Optional()],
    )
    weekday = SelectField(
        _l("On"),
        choices=[
            SelectChoice("MO", _l("Monday")),
            SelectChoice("TU", _l("Tuesday")),
            SelectChoice("WE", _l("Wednesday")),
            SelectChoice("TH", _l("Thursday")),
            SelectChoice("FR", _l("Friday")),
            SelectChoice("SA", _l("Saturday")),
            SelectChoice("SU", _l("Sunday")),
        ],
        validators=[Optional()],
    )
    monthday = IntegerField(
        _l("On day of the month"), default=25, validators=[Optional(), NumberRange(1, 31)]
    )
    until = DateField(_l("Until (optional)"), validators=[Optional()])
    count = IntegerField(
        _l("Or this many sessions (optional)"), validators=[Optional(), NumberRange(1, 60)]
    )
    repeat = StringField(
        _l("Advanced: iCalendar RRULE"),
        validators=[
            Optional(),
            Length(max=500),
            Regexp(
                r"^[A-Za-z0-9=;,+\-]*$",
                message=_l("Use the RRULE syntax, e.g. FREQ=MONTHLY;BYMONTHDAY=25."),
            ),
        ],
    )
    location = StringField(_l("Place"), validators=[DataRequired(), Length(max=200), NO_CONTROL])
    capacity = IntegerField(
        _l("Seats"), default=60, validators=[DataRequired(), NumberRange(1, 5000)]
    )
    lecturer = SelectField(_l("Lecturer (a trainer)"), coerce=int, validators=[Optional()])
    guest_name = StringField(
        _l("Or an invited guest: name"), validators=[Length(max=100), NO_CONTROL]
    )
    guest_title = StringField(_l("Guest's title"), validators=[Length(max=200), NO_CONTROL])
    delivery = SelectField(
        _l("Delivery"),
        choices=[
            SelectChoice("lecture", _l("On-site lecture")),
            SelectChoice("screening", _l("Group screening of a video lesson")),
        ],
    )
    screening_lesson = IntegerField(
        _l("Video lesson to screen (lesson number)"), validators=[Optional(), NumberRange(1)]
    )
    confirm_past = BooleanField(_l("Yes, this date is in the past"))
    previewed = HiddenField()


class EditForm(BilingualTitle, FlaskForm):
    """One session, or this and the following sessions of its series."""

    scope = SelectField(
        _l("Apply to"),
        choices=[
            SelectChoice("one", _l("This session only")),
            SelectChoice("following", _l("This and the following sessions of the series")),
        ],
    )
    date = DateField(_l("Date"), validators=[DataRequired()])
    start = TimeField(_l("Start time"), validators=[DataRequired()])
    location = StringField(_l("Place"), validators=[DataRequired(), Length(max=200), NO_CONTROL])
    capacity = IntegerField(_l("Seats"), validators=[DataRequired(), NumberRange(1, 5000)])
    lecturer = SelectField(_l("Lecturer (a trainer)"), coerce=int, validators=[Optional()])
    guest_name = StringField(
        _l("Or an invited guest: name"), validators=[Length(max=100), NO_CONTROL]
    )
    guest_title = StringField(_l("Guest's title"), validators=[Length(max=200), NO_CONTROL])
    confirm_past = BooleanField(_l("Yes, this date is in the past"))


class ReasonForm(FlaskForm):
    """Cancelling a session, or ending a series: the reason is kept and shown."""

    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500), NO_CONTROL])


class CheckinForm(FlaskForm):
    code = StringField(
        _l("Check-in code"),
        validators=[
            DataRequired(),
            Regexp(r"^\s*\d{6}\s*$", message=_l("The code has six digits.")),
        ],
    )
    substitute_for = SelectField(_l("I attend in place of"), coerce=int, validators=[Optional()])


class CorrectionForm(FlaskForm):
    learner = IntegerField(validators=[DataRequired()])
    status = SelectField(
        _l("Attendance"),
        choices=[
            SelectChoice("present", _l("present")),
            SelectChoice("late", _l("late")),
            SelectChoice("excused", _l("excused")),
            SelectChoice("absent", _l("absent")),
        ],
        validate_choice=True,
    )
    segment = IntegerField(_l("Segment"), validators=[Optional(), NumberRange(0)])
    arrived = TimeField(_l("Arrived at (late)"), validators=[Optional()])
    left = TimeField(_l("Left at (early)"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500), NO_CONTROL])


class MarkAllForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500), NO_CONTROL])
    segment = IntegerField(_l("Segment"), validators=[Optional(), NumberRange(0)])
