"""The form of the training-plan page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from lms.web.forms import NO_CONTROL


class AssignmentForm(FlaskForm):
    """Choices are ``user:<id>``/``group:<id>`` and ``course:<id>``/``camp:<id>``, set by
    the view from the organization's staff and the assignable courses and camps."""

    assignee = SelectField(_l("Assign to"), validators=[DataRequired()])
    subject = SelectField(_l("Course or camp"), validators=[DataRequired()])
    due_on = DateField(_l("Due date"), validators=[InputRequired()])
    note = StringField(_l("Note"), validators=[Length(max=200), NO_CONTROL])
