"""Forms of the live-teaching pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from lms.web.forms import NO_CONTROL, BilingualText

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
    repeat = StringField(
        _l("Repeat (iCalendar RRULE; empty for a single session)"),
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


class MoveForm(FlaskForm):
    date = DateField(_l("New date"), validators=[DataRequired()])
    start = TimeField(_l("New start time"), validators=[DataRequired()])


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
    )
    reason = StringField(_l("Reason"), validators=[Length(max=500), NO_CONTROL])
