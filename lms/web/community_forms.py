"""Forms of the community pages: salon cases, discussion topics, comments, the library filter."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp

from lms.models import CASE_TOPICS, TOPIC_KINDS
from lms.services.community import (
    MAX_BODY,
    MAX_COMMENT,
    MAX_COMPANY,
    MAX_QUERY,
    MAX_REASON,
    MAX_TITLE,
)
from lms.web.forms import NO_CONTROL

# The labels of the model's choices, in the order of the model's tuples.
CASE_TOPIC_LABELS = {
    "strategy": _l("Strategy"),
    "management": _l("Management"),
    "hr": _l("Human resources"),
    "financing": _l("Financing"),
    "innovation": _l("Innovation"),
    "party_building": _l("Party-building experience"),
    "other": _l("Other"),
}
TOPIC_KIND_LABELS = {
    "news": _l("A news item"),
    "event": _l("An event"),
    "phenomenon": _l("A phenomenon"),
    "person": _l("A person"),
    "party_building": _l("Park party building"),
}


def case_topic_choices() -> list[SelectChoice]:
    return [SelectChoice(topic, CASE_TOPIC_LABELS[topic]) for topic in CASE_TOPICS]


def topic_kind_choices() -> list[SelectChoice]:
    return [SelectChoice(kind, TOPIC_KIND_LABELS[kind]) for kind in TOPIC_KINDS]


class CaseForm(FlaskForm):
    company = StringField(
        _l("Company"), validators=[DataRequired(), Length(max=MAX_COMPANY), NO_CONTROL]
    )
    organization = SelectField(
        _l("Park organization"), coerce=int, default=0, validators=[Optional()]
    )
    topic = SelectField(_l("Topic"), choices=case_topic_choices(), validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=MAX_TITLE), NO_CONTROL])
    body = TextAreaField(
        _l("The case (Markdown)"), validators=[DataRequired(), Length(max=MAX_BODY)]
    )
    session = SelectField(
        _l("Presented at (live session)"), coerce=int, default=0, validators=[Optional()]
    )


class TopicForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=topic_kind_choices(), validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=MAX_TITLE), NO_CONTROL])
    body = TextAreaField(
        _l("The topic (Markdown)"), validators=[DataRequired(), Length(max=MAX_BODY)]
    )
    session = SelectField(
        _l("Discussed at (live session)"), coerce=int, default=0, validators=[Optional()]
    )


class CaseCommentForm(FlaskForm):
    body = TextAreaField(
        _l("Your comment or suggestion"), validators=[DataRequired(), Length(max=MAX_COMMENT)]
    )
    expert_review = BooleanField(_l("Post as an expert review"))


class TopicCommentForm(FlaskForm):
    body = TextAreaField(_l("Your comment"), validators=[DataRequired(), Length(max=MAX_COMMENT)])
    parent_id = HiddenField(
        validators=[Optional(), Regexp(r"^\d{1,18}$", message=_l("Unknown comment."))]
    )


class LibraryFilterForm(FlaskForm):
    """The GET filter of the case library (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    topic = SelectField(_l("Topic"), default="", validators=[Optional()])
    q = StringField(_l("Search title or company"), validators=[Length(max=MAX_QUERY)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.topic.choices = [SelectChoice("", _l("All topics")), *case_topic_choices()]


class TopicFilterForm(FlaskForm):
    class Meta:
        csrf = False

    kind = SelectField(_l("Kind"), default="", validators=[Optional()])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice("", _l("All kinds")), *topic_kind_choices()]


class PostEditForm(FlaskForm):
    """The author's edit of their case or topic: its title and text."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=MAX_TITLE), NO_CONTROL])
    body = TextAreaField(
        _l("The text (Markdown)"), validators=[DataRequired(), Length(max=MAX_BODY)]
    )


class CommentEditForm(FlaskForm):
    """The author's edit of their comment."""

    body = TextAreaField(
        _l("Your comment (Markdown)"), validators=[DataRequired(), Length(max=MAX_COMMENT)]
    )


class DeleteForm(FlaskForm):
    """Delete a post: the author needs no reason, a moderator gives one (checked by the
    service, which knows who is deleting)."""

    reason = StringField(_l("Reason"), validators=[Length(max=MAX_REASON), NO_CONTROL])


class ModerationForm(FlaskForm):
    """A moderator hides, shows again or deletes a post, with a reason."""

    action = SelectField(
        _l("Action"),
        choices=[
            SelectChoice("hide", _l("Hide")),
            SelectChoice("unhide", _l("Show again")),
            SelectChoice("delete", _l("Delete")),
        ],
        validators=[DataRequired()],
    )
    reason = StringField(
        _l("Reason"), validators=[DataRequired(), Length(max=MAX_REASON), NO_CONTROL]
    )
