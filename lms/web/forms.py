"""WTForms forms (CSRF-protected through Flask-WTF)."""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from lms.models._base import MAX_INTEGER
from lms.services import passwords
from lms.services.catalog import LEVEL_LABELS

LANGUAGE_CHOICES = [SelectChoice("zh_CN", "中文"), SelectChoice("en", "English")]


def page_language() -> str:
    """The language the page is shown in, as a choice of :data:`LANGUAGE_CHOICES`: the
    default of the language fields of sign-up and invite forms."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh_CN"


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    next = HiddenField()


def _text_of(form: Any, name: str) -> str | None:
    field = getattr(form, "_fields", {}).get(name)
    return field.data if field is not None and isinstance(field.data, str) else None


class StrongPassword:
    """The password rules (:mod:`lms.services.passwords`) as a WTForms validator: one
    for registration, the invite sign-up, set-password links, the password change and
    the reset. The e-mail address and name the password must differ from are the form's
    ``email`` and ``name`` fields, else those of the ``account`` the view put on the form.
    """

    def __call__(self, form: Any, field: Any) -> None:
        account = getattr(form, "account", None)
        email = _text_of(form, "email") or getattr(account, "email", None)
        name = _text_of(form, "name") or getattr(account, "name", None)
        code = passwords.problem(field.data or "", email=email, name=name)
        if code == passwords.TOO_SHORT:
            # The number is MIN_LENGTH; the message keeps its translated wording.
            raise ValidationError(_("Use at least 10 characters."))
        if code == passwords.TOO_LONG:
            raise ValidationError(
                _("Use at most %(limit)d characters.", limit=passwords.MAX_LENGTH)
            )
        if code == passwords.LIKE_ACCOUNT:
            raise ValidationError(_("Choose a password that is not your e-mail address or name."))
        if code == passwords.COMMON:
            raise ValidationError(
                _(
                    "This password is one of the most common ones, which attackers try "
                    "first. Choose another: several unrelated words are easy to remember."
                )
            )


class RegisterForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=100), Regexp(r"^[^\x00-\x1f\x7f]*$")],
    )
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(), StrongPassword()])
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES, default=page_language)


class ChangePasswordForm(FlaskForm):
    """The account page's password change; the view sets ``account`` (the user)."""

    current_password = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=passwords.MAX_LENGTH)]
    )
    password = PasswordField(_l("New password"), validators=[DataRequired(), StrongPassword()])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        _l("E-mail"),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )


class ResetPasswordForm(FlaskForm):
    """A new password through a reset link; the view sets ``account`` (the link's user)."""

    password = PasswordField(_l("New password"), validators=[DataRequired(), StrongPassword()])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    next = HiddenField()


class ActionForm(FlaskForm):
    """A button that changes state: just the CSRF token."""


SLUG_RULE = Regexp(
    r"^[a-z0-9][a-z0-9-]{0,98}$",
    message=_l("Use lowercase letters, digits and hyphens."),
)
NO_CONTROL = Regexp(
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$", message=_l("Remove control characters.")
)


class BilingualTitle:
    """A title in Chinese and in English (mixed into forms)."""

    title_zh = StringField(
        _l("Title (Chinese)"), validators=[DataRequired(), Length(max=200), NO_CONTROL]
    )
    title_en = StringField(
        _l("Title (English)"), validators=[DataRequired(), Length(max=200), NO_CONTROL]
    )


class BilingualText(BilingualTitle):
    """Title and summary in Chinese and in English (mixed into forms)."""

    summary_zh = TextAreaField(_l("Summary (Chinese)"), validators=[Length(max=2000), NO_CONTROL])
    summary_en = TextAreaField(_l("Summary (English)"), validators=[Length(max=2000), NO_CONTROL])


# Empty: made from the title (Chinese as pinyin) by lms.services.authoring.
SLUG_FIELD = StringField(
    _l("Address name (slug)"),
    validators=[Optional(), SLUG_RULE],
    render_kw={"placeholder": _l("Made from the title when left empty")},
)
LEVEL_CHOICES = [SelectChoice("", _l("Not set"))] + [
    SelectChoice(value, label) for value, label in LEVEL_LABELS.items()
]


class CourseForm(BilingualText, FlaskForm):
    slug = SLUG_FIELD
    level = SelectField(
        _l("Level"),
        choices=LEVEL_CHOICES,
        validate_choice=True,
        default="",
    )


class NewCourseForm(CourseForm):
    camp = SelectField(_l("Camp"), validators=[DataRequired()])


class ModuleForm(BilingualTitle, FlaskForm):
    slug = SLUG_FIELD


class LessonForm(BilingualText, FlaskForm):
    slug = SLUG_FIELD
    kind = SelectField(
        _l("Kind"),
        choices=[
            SelectChoice("video", _l("Video")),
            SelectChoice("reading", _l("Reading")),
            SelectChoice("live", _l("Live")),
            SelectChoice("quiz", _l("Quiz")),
        ],
    )
    body_zh = TextAreaField(_l("Text (Chinese, Markdown)"), validators=[Length(max=50000)])
    body_en = TextAreaField(_l("Text (English, Markdown)"), validators=[Length(max=50000)])
    minutes = IntegerField(_l("Minutes"), validators=[InputRequired(), NumberRange(min=0, max=600)])
    required = BooleanField(_l("Required for completion"), default=True)
    preview = BooleanField(_l("Preview: anyone may watch or read it, without enrolling"))


# What the file pickers offer: videos, or WebVTT captions (the server checks again).
VIDEO_ACCEPT = "video/*,.mp4,.mov,.m4v,.webm,.mkv,.avi"
CAPTIONS_ACCEPT = ".vtt,text/vtt"


class VideoUploadForm(FlaskForm):
    video = FileField(
        _l("Video file (MP4, MOV, M4V, WebM, MKV or AVI)"),
        validators=[
            FileRequired(_l("Choose a video file to upload.")),
            FileAllowed(
                ["mp4", "mov", "m4v", "webm", "mkv", "avi"],
                _l("Only MP4, MOV, M4V, WebM, MKV and AVI videos are accepted."),
            ),
        ],
        render_kw={"accept": VIDEO_ACCEPT},
    )


class RetryMediaForm(FlaskForm):
    """Retry a failed video; from a lesson's page, back to that page."""

    lesson_id = IntegerField(validators=[Optional(), NumberRange(min=1, max=MAX_INTEGER)])


class CaptionForm(FlaskForm):
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    captions = FileField(
        _l("Captions (WebVTT)"),
        validators=[
            FileRequired(_l("Choose a WebVTT (.vtt) captions file.")),
            FileAllowed(["vtt"], _l("Only WebVTT (.vtt) caption files are accepted.")),
        ],
        render_kw={"accept": CAPTIONS_ACCEPT},
    )


class AttachMediaForm(FlaskForm):
    media = SelectField(_l("Video from the courseware library"), coerce=int)


class TrainerForm(FlaskForm):
    email = EmailField(_l("Trainer's e-mail"), validators=[DataRequired(), Length(max=254)])


ROLE_CHOICES = [
    SelectChoice("learner", _l("Learner")),
    SelectChoice("trainer", _l("Trainer")),
    SelectChoice("organizer", _l("Organizer")),
]


class UserAdminForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    active = SelectField(
        _l("Account"), choices=[SelectChoice("1", _l("active")), SelectChoice("0", _l("disabled"))]
    )
