"""Forms of the organization pages (CSRF-protected through Flask-WTF).

Ids chosen in selects (groups, staff) are not checked against the choices here: the
services look them up inside the organization, so another organization's id is a 404
like an unknown one, not a 400 that would tell them apart.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from lms.services.invites import INVITE_DAYS, INVITE_USES
from lms.services.organizations import MAX_TARGET_HOURS, ORGANIZATION_NAME_LENGTH
from lms.services.staff_groups import GROUP_NAME_LENGTH
from lms.services.staff_mail import MAX_ADDRESSES
from lms.web.forms import NO_CONTROL, RegisterForm, page_language


def _optional_id(value: object) -> int | None:
    """A select's value as an id; empty (no choice) is None, nonsense 0 (found nowhere)."""
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[call-overload]  # anything: int() raises, caught below
    except (TypeError, ValueError):
        return 0


def target_field() -> IntegerField:
    return IntegerField(
        _l("Monthly target (hours)"),
        validators=[Optional(), NumberRange(min=0, max=MAX_TARGET_HOURS)],
    )


class OrganizationForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=ORGANIZATION_NAME_LENGTH), NO_CONTROL],
    )
    monthly_target_hours = target_field()


class RenameForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=ORGANIZATION_NAME_LENGTH), NO_CONTROL],
    )


class TargetForm(FlaskForm):
    monthly_target_hours = target_field()


class MemberEmailForm(FlaskForm):
    email = EmailField(
        _l("E-mail of an existing account"), validators=[DataRequired(), Length(max=254)]
    )


class MoveForm(FlaskForm):
    """An organizer moves a member to another organization (any id: unknown ones are 404)."""

    to = SelectField(_l("Move to"), coerce=_optional_id, validate_choice=False)


class GroupForm(FlaskForm):
    name = StringField(
        _l("Group name"), validators=[DataRequired(), Length(max=GROUP_NAME_LENGTH), NO_CONTROL]
    )


class GroupMemberForm(FlaskForm):
    user = SelectField(_l("Staff member"), coerce=_optional_id, validate_choice=False)


class InviteForm(FlaskForm):
    group = SelectField(_l("Group (optional)"), coerce=_optional_id, validate_choice=False)
    days = IntegerField(
        _l("Valid for (days)"),
        default=INVITE_DAYS[2],
        validators=[InputRequired(), NumberRange(min=INVITE_DAYS[0], max=INVITE_DAYS[1])],
    )
    max_uses = IntegerField(
        _l("Maximum uses"),
        default=INVITE_USES[2],
        validators=[InputRequired(), NumberRange(min=INVITE_USES[0], max=INVITE_USES[1])],
    )


class InviteMailForm(FlaskForm):
    """Invite links by e-mail, one per address (its fields have names of their own: it
    shares the page with :class:`InviteForm`)."""

    emails = TextAreaField(
        _l("E-mail addresses"),
        description=_l("Separated by commas or one per line; at most %(max)d.", max=MAX_ADDRESSES),
        validators=[DataRequired(), Length(max=MAX_ADDRESSES * 260)],
    )
    mail_group = SelectField(_l("Group (optional)"), coerce=_optional_id, validate_choice=False)
    mail_days = IntegerField(
        _l("Valid for (days)"),
        default=INVITE_DAYS[2],
        validators=[InputRequired(), NumberRange(min=INVITE_DAYS[0], max=INVITE_DAYS[1])],
    )
    language = SelectField(
        _l("Language of the message"),
        description=_l("Someone who has an account gets it in the language of their account."),
        choices=[SelectChoice("zh_CN", "中文"), SelectChoice("en", "English")],
        default=page_language,
    )


class SetupLinksForm(FlaskForm):
    """Set-password links by e-mail: to the staff whose ids are given, or (none given) to
    every member still without a password."""

    user = SelectMultipleField(coerce=int, validate_choice=False)


class ImportUploadForm(FlaskForm):
    file = FileField(_l("CSV file (UTF-8)"), validators=[FileRequired()])


class ImportConfirmForm(FlaskForm):
    csv_text = HiddenField(validators=[DataRequired()])
    # The second button of the preview: import the valid rows, skip those with errors.
    skip_invalid = BooleanField()


class LinksDownloadForm(FlaskForm):
    links = HiddenField(validators=[DataRequired()])


class SetPasswordForm(FlaskForm):
    """The registration form's password rules."""

    password = RegisterForm.password
    confirm = RegisterForm.confirm
