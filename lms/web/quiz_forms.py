"""Forms of the question bank, the quiz settings and the GIFT import (CSRF-protected)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from lms.web.forms import NO_CONTROL

KIND_CHOICES = [
    SelectChoice("single", _l("Single choice")),
    SelectChoice("multiple", _l("Multiple choice")),
    SelectChoice("truefalse", _l("True or false")),
    SelectChoice("short", _l("Short answer")),
    SelectChoice("numeric", _l("Number")),
    SelectChoice("ordering", _l("Ordering")),
]


class QuestionForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES)
    text_zh = TextAreaField(_l("Question (Chinese, Markdown)"), validators=[Length(max=5000)])
    text_en = TextAreaField(_l("Question (English, Markdown)"), validators=[Length(max=5000)])
    choices_zh = TextAreaField(
        _l("Choices in Chinese, one per line: * marks a right one, “ # ” adds its feedback"),
        validators=[Length(max=10000)],
    )
    choices_en = TextAreaField(
        _l("Choices in English (same lines)"), validators=[Length(max=10000)]
    )
    truth = SelectField(
        _l("The statement is"),
        choices=[SelectChoice("true", _l("True")), SelectChoice("false", _l("False"))],
        default="true",
    )
    accepted = TextAreaField(
        _l("Accepted answers, one per line (case, full-width characters and spaces ignored)"),
        validators=[Length(max=5000)],
    )
    number = FloatField(_l("Right number"), validators=[Optional()])
    tolerance = FloatField(
        _l("Tolerance (±)"), validators=[Optional(), NumberRange(min=0, max=1e12)], default=0
    )
    explanation_zh = TextAreaField(_l("Explanation (Chinese)"), validators=[Length(max=5000)])
    explanation_en = TextAreaField(_l("Explanation (English)"), validators=[Length(max=5000)])
    points = FloatField(
        _l("Points"), validators=[InputRequired(), NumberRange(min=0.1, max=100)], default=1
    )
    tags = StringField(_l("Tags (comma-separated)"), validators=[Length(max=400), NO_CONTROL])


class QuizSettingsForm(FlaskForm):
    passing_score = FloatField(
        _l("Pass mark (%)"), validators=[InputRequired(), NumberRange(min=0, max=100)], default=60
    )
    max_attempts = IntegerField(
        _l("Attempts allowed (empty: unlimited)"), validators=[Optional(), NumberRange(1, 100)]
    )
    time_limit_minutes = IntegerField(
        _l("Time limit in minutes (empty: none)"), validators=[Optional(), NumberRange(1, 600)]
    )
    review = SelectField(
        _l("Show answers and feedback"),
        choices=[
            SelectChoice("after_attempt", _l("after each attempt")),
            SelectChoice("after_pass", _l("once the learner passed")),
            SelectChoice("never", _l("never (the score only)")),
        ],
    )
    selection = SelectField(
        _l("Questions"),
        choices=[
            SelectChoice("fixed", _l("the questions ticked below")),
            SelectChoice("random", _l("drawn at random from the bank")),
        ],
    )
    question_ids = SelectMultipleField(_l("Fixed questions"), coerce=int, validate_choice=True)
    draw_count = IntegerField(_l("How many to draw"), validators=[Optional(), NumberRange(1, 200)])
    draw_tags = StringField(
        _l("Draw from these tags (comma-separated; empty: the whole bank)"),
        validators=[Length(max=400), NO_CONTROL],
    )
    mastery_m = IntegerField(
        _l("Mastery: right answers needed (m)"), validators=[Optional(), NumberRange(1, 100)]
    )
    mastery_n = IntegerField(
        _l("Mastery: among the last (n)"), validators=[Optional(), NumberRange(1, 100)]
    )
    shuffle = BooleanField(_l("Shuffle questions and choices for each attempt"), default=True)


class GiftForm(FlaskForm):
    gift = TextAreaField(
        _l("Questions in GIFT format"), validators=[DataRequired(), Length(max=300_000)]
    )
    language = SelectField(
        _l("Language of the questions"),
        choices=[SelectChoice("zh", "中文"), SelectChoice("en", "English")],
    )
    confirm = BooleanField(default=False)
