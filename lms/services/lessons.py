"""Lessons: completion thresholds, completing reading lessons, rendering lesson text."""

from __future__ import annotations

import functools
from datetime import datetime

import markdown as markdown_lib
import nh3
from markupsafe import Markup

from lms.database import insert_ignoring_conflicts
from lms.extensions import db
from lms.models import Caption, Lesson, LessonProgress, User
from lms.models._base import utcnow
from lms.services import loading
from lms.services.camps import registry
from lms.services.completion import Finish, after_lesson_completed, finish_state

DEFAULT_COMPLETION_THRESHOLD = 0.9

ALLOWED_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "code", "pre",
    "blockquote", "table", "thead", "tbody", "tr", "th", "td", "a",
}  # fmt: skip


def completion_threshold(lesson: Lesson) -> float:
    """The watched fraction that completes ``lesson``: a camp's hook, else the core default."""
    loading.for_hook(lesson)
    value = registry().call_first("lms_lesson_completion_threshold", lesson=lesson)
    if isinstance(value, int | float) and 0 < value <= 1:
        return float(value)
    return DEFAULT_COMPLETION_THRESHOLD


def load_captions(lesson: Lesson) -> None:
    """Load the lesson's caption tracks for its page's player (one statement; a kept lesson
    has them already)."""
    loading.load(lesson, "captions")


def caption_of(lesson: Lesson, language: str) -> Caption | None:
    """The lesson's caption track in ``language``: from its captions when they are loaded
    (a kept lesson), else one statement."""
    if loading.is_loaded(lesson, "captions"):
        return next((c for c in lesson.captions if c.language == language), None)
    found: Caption | None = db.session.scalar(
        db.select(Caption).filter_by(lesson_id=lesson.id, language=language)
    )
    return found


@functools.lru_cache(maxsize=1024)
def render_markdown(text: str) -> Markup:
    """Markdown to HTML, sanitized with nh3 (no raw HTML, no scripts, safe links only).

    Remembered per process by the text itself (a pure function of it: a changed lesson is
    another text), so a lesson page does not run the Markdown parser on every view.
    """
    html = markdown_lib.markdown(text, extensions=["tables", "sane_lists"])
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 - sanitized by nh3 above


def mark_read(user: User, lesson: Lesson, now: datetime | None = None) -> Finish | None:
    """Complete a reading (or passed quiz) lesson for ``user``; idempotent: the first
    completion time stays. What the completion changed, or None if it was complete already."""
    now = now or utcnow()  # a recorded history (the demo) completes lessons in the past
    insert_ignoring_conflicts(
        LessonProgress,
        ["user_id", "lesson_id"],
        user_id=user.id,
        lesson_id=lesson.id,
        position_seconds=0.0,
        updated_at=now,
    )
    progress = db.session.scalars(
        db.select(LessonProgress).filter_by(user_id=user.id, lesson_id=lesson.id)
    ).one()
    newly_completed = progress.completed_at is None
    if newly_completed:
        progress.completed_at = now
    progress.updated_at = now
    db.session.commit()
    if not newly_completed:
        return None
    finished = after_lesson_completed(user, lesson, progress, now)
    loading.load_path(lesson, "module", "course")  # expired by the commits
    return finish_state(user, lesson.module.course, finished)
