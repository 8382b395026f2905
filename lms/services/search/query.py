"""Finding index rows: the match, the ranking and, above all, who may see what.

Visibility is decided from the live rows at every search, never from the index:

* courses and lessons: the camp is enabled and its plugin loaded; the course, and for a
  lesson its module and itself, are not archived; the course is published, or the searcher
  may edit it (organizers; its owner and trainers);
* salon cases and discussion topics: any signed-in, active member (every community page
  needs a login, and every member reads every case and topic: docs/community.md).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, table, text
from sqlalchemy.orm import aliased

from lms.extensions import db
from lms.models import Camp, Course, CourseTrainer, Lesson, Module
from lms.models.search import SearchDocument
from lms.services.search.segment import is_prefix_term

# The title counts ten times the body in bm25 (SQLite), as weight A against B (PostgreSQL).
TITLE_WEIGHT, BODY_WEIGHT = 10.0, 1.0
FTS = table("search_fts")
LessonModule = aliased(Module)


def _is_member(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def _may_see_course(user: Any) -> ColumnElement[bool]:
    """Published, or a draft the user may edit (``catalog.can_edit`` as SQL)."""
    published = Course.status == "published"
    if not _is_member(user) or user.role not in ("trainer", "organizer"):
        return published
    if user.is_organizer:
        return Course.id.is_not(None)
    trained = select(CourseTrainer.course_id).where(CourseTrainer.user_id == user.id)
    return or_(published, Course.owner_id == user.id, Course.id.in_(trained))


def visible(user: Any, camp_ids: list[int]) -> ColumnElement[bool]:
    """The condition on a row joined with its course, lesson and lesson's module."""
    course_ok = and_(
        Course.camp_id.in_(camp_ids), Course.archived_at.is_(None), _may_see_course(user)
    )
    lesson_ok = and_(
        Lesson.archived_at.is_(None),
        LessonModule.archived_at.is_(None),
        LessonModule.course_id == SearchDocument.course_id,
    )
    kinds = [
        and_(SearchDocument.kind == "course", course_ok),
        and_(SearchDocument.kind == "lesson", course_ok, lesson_ok),
    ]
    if _is_member(user):
        kinds.append(SearchDocument.kind.in_(("case", "topic")))
    return or_(*kinds)


def _joined(columns: list[Any]) -> Any:
    return (
        select(*columns)
        .select_from(SearchDocument)
        .outerjoin(Course, Course.id == SearchDocument.course_id)
        .outerjoin(Lesson, Lesson.id == SearchDocument.lesson_id)
        .outerjoin(LessonModule, LessonModule.id == Lesson.module_id)
    )


def _match(dialect: str, terms: list[str]) -> tuple[ColumnElement[bool], ColumnElement[Any]]:
    """The condition that every term occurs, and the rank (smaller is better) for this engine.

    Terms are runs of letters and digits only (``segment.WORD``), so quoting them is enough
    to keep them from being read as query syntax.
    """
    if dialect == "postgresql":
        query = " & ".join(f"{term}:*" if is_prefix_term(term) else term for term in terms)
        tsquery = func.to_tsquery(literal_column("'simple'"), query)
        tsv = literal_column("search_documents.tsv")
        return tsv.op("@@")(tsquery), -func.ts_rank(tsv, tsquery)
    query = " ".join(f'"{term}"*' if is_prefix_term(term) else f'"{term}"' for term in terms)
    condition = text("search_fts MATCH :fts_query").bindparams(fts_query=query)
    rank = func.bm25(literal_column("search_fts"), TITLE_WEIGHT, BODY_WEIGHT)
    return condition, rank


def find(
    user: Any,
    terms: list[str],
    camp_ids: list[int],
    camp_id: int | None,
    kind: str | None,
    page: int,
    per_page: int,
) -> tuple[int, int, list[Any]]:
    """(total, page clamped to the pages there are, rows of that page), best first.

    ``camp_ids``: the visible camps; ``camp_id``: the one to search in, if any.
    Each row: the document, its camp's slug, its course's slug and titles, the lesson's slug.
    """
    dialect = db.session.get_bind().dialect.name
    condition, rank = _match(dialect, terms)
    where = [condition, visible(user, camp_ids)]
    if camp_id is not None:
        where.append(SearchDocument.camp_id == camp_id)
    if kind is not None:
        where.append(SearchDocument.kind == kind)

    def with_fts(query: Any) -> Any:
        if dialect == "postgresql":
            return query
        return query.join(FTS, literal_column("search_fts.rowid") == SearchDocument.id)

    total = db.session.scalar(with_fts(_joined([func.count()])).where(*where)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    if not total:
        return 0, page, []
    query = (
        with_fts(
            _joined(
                [
                    SearchDocument,
                    Camp.slug,
                    Course.slug,
                    Course.title_zh,
                    Course.title_en,
                    Lesson.slug,
                ]
            )
        )
        .outerjoin(Camp, Camp.id == Course.camp_id)
        .where(*where)
        .order_by(rank, SearchDocument.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return total, page, list(db.session.execute(query).all())
