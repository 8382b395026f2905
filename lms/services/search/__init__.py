"""Site search over courses, lessons, salon cases and discussion topics (docs/search.md).

The index (``search_documents``) is kept current by the services that write content, each
with one call after its commit:

* ``index_course(course)`` — a course created or edited (authoring);
* ``index_lesson(lesson)`` — a lesson created or edited, or its captions changed;
* ``index_camp(camp)`` — after a curriculum sync: every course and lesson of the camp;
* ``index_case(case)``, ``index_topic(topic)`` — community posts created or edited;
* ``remove(case_or_topic)`` — a community post hidden or deleted by a moderator or its
  author (``index`` again when a moderator shows it again);
* nothing for deletions of rows: deleting a course, lesson, case or topic deletes its
  document through the foreign key;
* ``reindex()`` — everything again (``lms search reindex``).

Publishing, archiving and enabling camps need no call: who may see a document is decided
from the live rows at each search (``query.visible``). ``search()`` answers a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from sqlalchemy import func, select

from lms.extensions import db
from lms.models import Camp, Course, DiscussionTopic, Lesson, SalonCase
from lms.models._base import current_language
from lms.models.search import SEARCH_KINDS, SearchDocument
from lms.services import loading
from lms.services.errors import Invalid
from lms.services.paging import Paginated
from lms.services.search import documents, query, snippets
from lms.services.search.segment import query_terms
from lms.services.text import control_characters

MAX_QUERY = 200
PER_PAGE = 20
MAX_PAGE = 10_000


class SearchError(Invalid):
    """A search the service refuses (a malformed parameter)."""


# -- keeping the index current -------------------------------------------------------------


def _save(rows: list[dict[str, Any]]) -> None:
    documents.upsert(rows)
    db.session.commit()


def index_course(course: Course) -> None:
    """(Re)index a course's title and summary. Commits."""
    _save([documents.course_row(course)])


def index_lesson(lesson: Lesson) -> None:
    """(Re)index a lesson: title, summary, reading text and caption text. Commits."""
    loading.load_path(lesson, "module", "course")  # expired by the caller's commit
    course = lesson.module.course
    captions = documents.caption_texts([lesson.id]).get(lesson.id, {})
    _save([documents.lesson_row(lesson, course, captions)])


def index_camp(camp: Camp) -> None:
    """(Re)index every course and lesson of a camp (after a curriculum sync). Commits."""
    _save(documents.camp_rows(camp.id))


def index_case(case: SalonCase) -> None:
    """(Re)index a salon case: title, company and text. Commits."""
    _save([documents.case_row(case)])


def index_topic(topic: DiscussionTopic) -> None:
    """(Re)index a discussion topic: title and text. Commits."""
    _save([documents.topic_row(topic)])


def index(obj: object) -> None:
    """(Re)index a course, lesson, case or topic an edit changed (a module has no
    document). Commits."""
    if isinstance(obj, Course):
        index_course(obj)
    elif isinstance(obj, Lesson):
        index_lesson(obj)
    elif isinstance(obj, SalonCase):
        index_case(obj)
    elif isinstance(obj, DiscussionTopic):
        index_topic(obj)


def remove(obj: SalonCase | DiscussionTopic) -> None:
    """Take a hidden or deleted case or topic out of the index. Commits."""
    documents.remove_key(f"{'case' if isinstance(obj, SalonCase) else 'topic'}:{obj.id}")
    db.session.commit()


def reindex() -> int:
    """Rebuild the whole index in one transaction; the number of documents. Commits."""
    rows = documents.every_row()
    documents.clear()
    documents.upsert(rows)
    db.session.commit()
    return len(rows)


def indexed_count() -> int:
    return db.session.scalar(select(func.count(SearchDocument.id))) or 0


# -- searching -----------------------------------------------------------------------------


@dataclass
class Hit:
    """One result: what it is, where it lives, its title and snippet (escaped, marked)."""

    kind: str
    object_id: int
    title: Markup
    snippet: Markup
    camp_slug: str | None = None
    course_slug: str | None = None
    course_title: str | None = None
    lesson_slug: str | None = None


@dataclass
class Results(Paginated):
    query: str
    terms: list[str]
    total: int = 0
    page: int = 1
    per_page: int = PER_PAGE
    hits: list[Hit] = field(default_factory=list)
    camps: list[Camp] = field(default_factory=list)  # the visible camps, for the filter


def clean_query(raw: str | None) -> str:
    """The query as searched: trimmed, other whitespace and control characters as spaces.

    Raises SearchError for a NUL character or more than ``MAX_QUERY`` characters.
    """
    raw = raw or ""
    if "\x00" in raw:
        raise SearchError("NUL")
    if len(raw) > MAX_QUERY:
        raise SearchError("too long")
    return " ".join(control_characters(keep_line_breaks=False).sub(" ", raw).split())


def search(
    user: Any,
    raw_query: str | None,
    camp: str | None = None,
    kind: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Results:
    """One page of what ``user`` may see that holds every word of the query, best first.

    ``camp`` (a visible camp's slug) and ``kind`` (one of ``SEARCH_KINDS``) narrow it; the
    page is clamped to the pages there are. Raises SearchError for a malformed query, an
    unknown kind or a camp that is not visible. An empty query finds nothing.
    """
    text = clean_query(raw_query)
    if kind is not None and kind not in SEARCH_KINDS:
        raise SearchError("kind")
    # Imported here: camps imports the curriculum sync, which indexes through this module.
    from lms.services.camps import visible_camps

    camps = visible_camps()
    camp_id = None
    if camp is not None:
        camp_id = next((found.id for found in camps if found.slug == camp), None)
        if camp_id is None:
            raise SearchError("camp")
    page = min(max(1, page), MAX_PAGE)
    terms = query_terms(text)
    results = Results(text, terms, per_page=per_page, camps=camps)
    if not terms:
        return results
    results.total, results.page, rows = query.find(
        user, terms, [found.id for found in camps], camp_id, kind, page, per_page
    )
    found = snippets.pattern(terms)
    english = current_language() == "en"
    for doc, texts_of, camp_slug, course_slug, course_zh, course_en, lesson_slug in rows:
        title = texts_of.title_en if english and texts_of.title_en else texts_of.title_zh
        texts = [texts_of.text_en, texts_of.text_zh]
        if not english:
            texts.reverse()
        results.hits.append(
            Hit(
                kind=doc.kind,
                object_id=doc.lesson_id or doc.course_id or doc.case_id or doc.topic_id,
                title=snippets.highlight(title, found),
                snippet=snippets.snippet(texts, found),
                camp_slug=camp_slug,
                course_slug=course_slug,
                course_title=(course_en if english and course_en else course_zh),
                lesson_slug=lesson_slug,
            )
        )
    return results
