"""The organizer's form for creating an account by hand (``/admin/users/new``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from lms.web.forms import (
    LANGUAGE_CHOICES,
    NO_CONTROL,
    ROLE_CHOICES,
    StrongPassword,
    page_language,
)


class NewUserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100), NO_CONTROL])
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="learner")
    organization = SelectField(_l("Organization"), coerce=int, default=0)
    is_manager = BooleanField(_l("Manager of the organization"))
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, default=page_language)
    password = PasswordField(
        _l("Initial password (leave empty to get a set-password link)"),
        validators=[Optional(), StrongPassword()],
    )
