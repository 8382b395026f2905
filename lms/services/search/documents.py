"""The index rows of courses, lessons, salon cases and discussion topics, and their upkeep."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

import markdown as markdown_lib
import nh3
from sqlalchemy import ColumnElement, delete, insert, select

from lms.extensions import db
from lms.models import Caption, Course, DiscussionTopic, Lesson, Module, SalonCase
from lms.models._base import utcnow
from lms.models.search import SearchDocument, SearchText
from lms.services import media
from lms.services.search.segment import index_words

# Longer texts are indexed up to here (a caption track of hours is still whole).
MAX_TEXT = 200_000
SPACES = re.compile(r"\s+")
VTT_TIMING = re.compile(r"-->")
VTT_TAG = re.compile(r"<[^>]*>")


@lru_cache(maxsize=4096)
def plain_markdown(text: str) -> str:
    """The words a reader sees in Markdown: rendered, then every tag dropped (nh3).

    Cached: a curriculum sync renders the same lesson texts again and again."""
    if not text:
        return ""
    rendered = markdown_lib.markdown(text, extensions=["tables", "sane_lists"])
    return _squash(html.unescape(nh3.clean(rendered, tags=set())))


def plain_webvtt(text: str) -> str:
    """The cue text of a WebVTT file: no header, notes, cue ids, timings or voice tags."""
    lines: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        rows = block.strip().split("\n")
        timing = next((i for i, row in enumerate(rows) if VTT_TIMING.search(row)), None)
        if timing is None:  # WEBVTT header, NOTE, STYLE or REGION block
            continue
        lines += [html.unescape(VTT_TAG.sub("", row)) for row in rows[timing + 1 :]]
    return _squash(" ".join(lines))


def _squash(text: str) -> str:
    return SPACES.sub(" ", text).strip()[:MAX_TEXT]


def caption_texts(lesson_ids: list[int]) -> dict[int, dict[str, str]]:
    """Lesson id -> language ("zh"/"en") -> the text of its caption tracks. One query."""
    texts: dict[int, dict[str, str]] = {}
    if not lesson_ids:
        return texts
    captions = db.session.scalars(select(Caption).where(Caption.lesson_id.in_(lesson_ids)))
    for caption in captions:
        path = media.media_root() / "captions" / caption.storage_key
        try:
            text = plain_webvtt(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:  # a file lost from the store: the lesson's other texts still count
            continue
        language = "en" if caption.language.startswith("en") else "zh"
        found = texts.setdefault(caption.lesson_id, {})
        found[language] = f"{found.get(language, '')} {text}".strip()
    return texts


def _row(
    kind: str, object_id: int, titles: tuple[str, str], texts: tuple[str, str], **ids: Any
) -> dict[str, Any]:
    title_zh, title_en = titles
    text_zh, text_en = (_squash(text) for text in texts)
    title_terms = index_words(title_zh if title_zh == title_en else f"{title_zh} {title_en}")
    return {
        "key": f"{kind}:{object_id}",
        "kind": kind,
        "title_zh": title_zh[:300],
        "title_en": title_en[:300],
        "text_zh": text_zh,
        "text_en": text_en,
        "title_terms": title_terms,
        "body_terms": index_words(f"{text_zh} {text_en}"),
        "camp_id": None,
        "course_id": None,
        "lesson_id": None,
        "case_id": None,
        "topic_id": None,
        **ids,
    }


def course_row(course: Course) -> dict[str, Any]:
    return _row(
        "course",
        course.id,
        (course.title_zh, course.title_en),
        (course.summary_zh, course.summary_en),
        camp_id=course.camp_id,
        course_id=course.id,
    )


def lesson_row(lesson: Lesson, course: Course, captions: dict[str, str]) -> dict[str, Any]:
    """The row of a lesson; ``captions``: its caption texts by language."""
    texts = [
        " ".join([lesson.summary_zh, plain_markdown(lesson.body_zh), captions.get("zh", "")]),
        " ".join([lesson.summary_en, plain_markdown(lesson.body_en), captions.get("en", "")]),
    ]
    return _row(
        "lesson",
        lesson.id,
        (lesson.title_zh, lesson.title_en),
        (texts[0], texts[1]),
        camp_id=course.camp_id,
        course_id=course.id,
        lesson_id=lesson.id,
    )


def case_row(case: SalonCase) -> dict[str, Any]:
    text = f"{case.company} {plain_markdown(case.body)}"
    return _row("case", case.id, (case.title, case.title), (text, ""), case_id=case.id)


def topic_row(topic: DiscussionTopic) -> dict[str, Any]:
    text = plain_markdown(topic.body)
    return _row("topic", topic.id, (topic.title, topic.title), (text, ""), topic_id=topic.id)


DOCUMENT_COLUMNS = ("key", "kind", "camp_id", "course_id", "lesson_id", "case_id", "topic_id")
TEXT_COLUMNS = ("title_zh", "title_en", "text_zh", "text_en", "title_terms", "body_terms")
BATCH = 1_000
# The tables themselves (as Table objects, which ``Model.__table__`` is not typed as): the
# rows are written with Core INSERTs.
DOCUMENTS = SearchDocument.metadata.tables[SearchDocument.__tablename__]
TEXTS = SearchText.metadata.tables[SearchText.__tablename__]


def upsert(rows: list[dict[str, Any]]) -> None:
    """Replace the documents of these rows (by ``key``) in the current transaction."""
    if not rows:
        return
    keys = [row["key"] for row in rows]
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        db.session.execute(delete(SearchDocument).where(SearchDocument.key.in_(chunk)))
    now = utcnow()
    inserted = db.session.execute(
        insert(DOCUMENTS).returning(DOCUMENTS.c.id, DOCUMENTS.c.key),
        [{**{name: row[name] for name in DOCUMENT_COLUMNS}, "updated_at": now} for row in rows],
    ).all()
    ids = {key: document_id for document_id, key in inserted}
    db.session.execute(
        insert(TEXTS),
        [
            {"document_id": ids[row["key"]], **{name: row[name] for name in TEXT_COLUMNS}}
            for row in rows
        ],
    )


def camp_rows(camp_id: int) -> list[dict[str, Any]]:
    """The rows of every course and lesson of a camp (archived ones too: hidden at query)."""
    courses = list(db.session.scalars(select(Course).where(Course.camp_id == camp_id)))
    return _courses_rows(courses)


def _courses_rows(courses: list[Course]) -> list[dict[str, Any]]:
    by_id = {course.id: course for course in courses}
    rows = [course_row(course) for course in courses]
    if not by_id:
        return rows
    lessons = db.session.execute(
        select(Lesson, Module.course_id)
        .join(Module, Lesson.module_id == Module.id)
        .where(Module.course_id.in_(by_id))
        .order_by(Lesson.id)
    ).all()
    captions = caption_texts([lesson.id for lesson, _course_id in lessons])
    for lesson, course_id in lessons:
        rows.append(lesson_row(lesson, by_id[course_id], captions.get(lesson.id, {})))
    return rows


def every_row() -> list[dict[str, Any]]:
    """The rows of everything searchable."""
    rows = _courses_rows(list(db.session.scalars(select(Course).order_by(Course.id))))
    rows += [
        case_row(case) for case in db.session.scalars(select(SalonCase).where(*_public(SalonCase)))
    ]
    rows += [
        topic_row(topic)
        for topic in db.session.scalars(select(DiscussionTopic).where(*_public(DiscussionTopic)))
    ]
    return rows


def _public(model: type[SalonCase | DiscussionTopic]) -> tuple[ColumnElement[bool], ...]:
    """Community posts neither hidden nor deleted by a moderator (or their author)."""
    return (model.hidden_at.is_(None), model.deleted_at.is_(None))


def remove_key(key: str) -> None:
    """Drop one document (its texts go with it) in the current transaction."""
    db.session.execute(delete(SearchDocument).where(SearchDocument.key == key))


def clear() -> None:
    db.session.execute(delete(SearchDocument))
