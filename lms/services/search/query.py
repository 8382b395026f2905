"""Finding index rows: the match, the ranking and, above all, who may see what.

Visibility is decided from the live rows at every search, never from the index:

* courses and lessons: the camp is enabled and its plugin loaded; the course, and for a
  lesson its module and itself, are not archived; the course is published, or the searcher
  may edit it (organizers; its owner and trainers);
* salon cases and discussion topics: any signed-in, active member (every community page
  needs a login, and every member reads every case and topic: docs/community.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, or_, select, table, text

from lms.extensions import db
from lms.models import Camp, Course, CourseTrainer, Lesson, Module
from lms.models.search import SearchDocument, SearchText
from lms.services.search.segment import is_prefix_term

# The title counts ten times the body in bm25 (SQLite), as weight A against B (PostgreSQL).
TITLE_WEIGHT, BODY_WEIGHT = 10.0, 1.0


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
    """The condition on a document row (``search_documents``): the live course, module and
    lesson rows decide, through two subqueries each database evaluates once."""
    courses = select(Course.id).where(
        Course.camp_id.in_(camp_ids), Course.archived_at.is_(None), _may_see_course(user)
    )
    lessons = (
        select(Lesson.id)
        .join(Module, Lesson.module_id == Module.id)
        .where(
            Module.course_id.in_(courses),
            Module.archived_at.is_(None),
            Lesson.archived_at.is_(None),
        )
    )
    kinds = [
        and_(SearchDocument.kind == "course", SearchDocument.course_id.in_(courses)),
        and_(SearchDocument.kind == "lesson", SearchDocument.lesson_id.in_(lessons)),
    ]
    if _is_member(user):
        kinds.append(SearchDocument.kind.in_(("case", "topic")))
    return or_(*kinds)


def _matches(dialect: str, terms: list[str]) -> Any:
    """(id, score) of every document holding every term; a smaller score ranks higher.

    Terms are runs of letters and digits only (``segment.WORD``), so quoting them is enough
    to keep them from being read as query syntax.
    """
    if dialect == "postgresql":
        query = " & ".join(f"{term}:*" if is_prefix_term(term) else term for term in terms)
        tsquery = func.to_tsquery(literal_column("'simple'"), query)
        tsv: ColumnElement[Any] = literal_column("search_texts.tsv")
        return select(
            SearchText.document_id.label("id"), (-func.ts_rank(tsv, tsquery)).label("score")
        ).where(tsv.op("@@")(tsquery))
    query = " ".join(f'"{term}"*' if is_prefix_term(term) else f'"{term}"' for term in terms)
    return (
        select(
            literal_column("search_fts.rowid").label("id"),
            func.bm25(literal_column("search_fts"), TITLE_WEIGHT, BODY_WEIGHT).label("score"),
        )
        .select_from(table("search_fts"))
        .where(text("search_fts MATCH :fts_query").bindparams(fts_query=query))
    )


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

    ``camp_ids``: the visible camps; ``camp_id``: the one to search in, if any. Each row:
    the document, its texts, its camp's slug, its course's slug and titles, the lesson's
    slug. Two queries: the page of ranked ids with the total, then their details.
    """
    matches = _matches(db.session.get_bind().dialect.name, terms)
    matched = matches.cte("matches").prefix_with("MATERIALIZED")
    where = [visible(user, camp_ids)]
    if camp_id is not None:
        where.append(SearchDocument.camp_id == camp_id)
    if kind is not None:
        where.append(SearchDocument.kind == kind)

    def ranked(page: int) -> Sequence[Any]:
        return db.session.execute(
            select(SearchDocument.id, func.count().over())
            .select_from(matched)
            .join(SearchDocument, SearchDocument.id == matched.c.id)
            .where(*where)
            .order_by(matched.c.score, SearchDocument.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()

    rows = ranked(page)
    if rows:
        total = rows[0][1]
    else:  # nothing, or a page past the last: count, and show the last page
        total = (
            db.session.scalar(
                select(func.count())
                .select_from(matched)
                .join(SearchDocument, SearchDocument.id == matched.c.id)
                .where(*where)
            )
            or 0
        )
        last = max(1, -(-total // per_page))
        if page > last:
            page = last
            rows = ranked(page)
    ids = [row[0] for row in rows]
    if not ids:
        return total, page, []
    details = db.session.execute(
        select(
            SearchDocument,
            SearchText,
            Camp.slug,
            Course.slug,
            Course.title_zh,
            Course.title_en,
            Lesson.slug,
        )
        .join(SearchText, SearchText.document_id == SearchDocument.id)
        .outerjoin(Course, Course.id == SearchDocument.course_id)
        .outerjoin(Camp, Camp.id == Course.camp_id)
        .outerjoin(Lesson, Lesson.id == SearchDocument.lesson_id)
        .where(SearchDocument.id.in_(ids))
    ).all()
    order = {document_id: index for index, document_id in enumerate(ids)}
    return total, page, sorted(details, key=lambda row: order[row[0].id])
