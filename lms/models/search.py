"""The search index: one row per searchable thing, with its words cut for both engines.

A document's row (``search_documents``) is narrow: what it is and where it belongs, so a
search can filter thousands of matches by visibility without reading their texts. Its texts
are in ``search_texts``: plain text for snippets, and the words in ``title_terms`` and
``body_terms`` (space-separated, see ``lms.services.search.segment``), which each engine
indexes its own way, with objects that are not models, created by ``ENGINE_DDL`` (by the
migration, and after ``create_all``):

* SQLite: the FTS5 table ``search_fts`` over those two columns (external content, kept in
  step by triggers), ranked with ``bm25``;
* PostgreSQL: the generated ``tsv`` column (``simple`` configuration, title weighted A, body
  B) with a GIN index, ranked with ``ts_rank``.

Who may see a row is not stored here: searches join the live course, module, lesson and camp
rows, so a stale index can never show what a searcher may not see.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, CheckConstraint, DateTime, ForeignKey, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from lms.extensions import Model
from lms.models._base import utcnow

SEARCH_KINDS = ("course", "lesson", "case", "topic")


class SearchDocument(Model):
    __tablename__ = "search_documents"
    __table_args__ = (CheckConstraint(f"kind IN {SEARCH_KINDS!r}", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)  # "lesson:12"
    kind: Mapped[str] = mapped_column(String(10))
    camp_id: Mapped[int | None] = mapped_column(ForeignKey("camps.id", ondelete="CASCADE"))
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), index=True
    )
    lesson_id: Mapped[int | None] = mapped_column(
        ForeignKey("lessons.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("salon_cases.id", ondelete="CASCADE"), index=True
    )
    topic_id: Mapped[int | None] = mapped_column(
        ForeignKey("discussion_topics.id", ondelete="CASCADE"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SearchText(Model):
    """A document's texts: titles and plain text (for results), and its words (indexed)."""

    __tablename__ = "search_texts"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("search_documents.id", ondelete="CASCADE"), primary_key=True
    )
    title_zh: Mapped[str] = mapped_column(String(300), default="")
    title_en: Mapped[str] = mapped_column(String(300), default="")
    # Plain text (Markdown and WebVTT stripped), for snippets.
    text_zh: Mapped[str] = mapped_column(Text, default="")
    text_en: Mapped[str] = mapped_column(Text, default="")
    title_terms: Mapped[str] = mapped_column(Text, default="")
    body_terms: Mapped[str] = mapped_column(Text, default="")


# What each engine adds to ``search_texts`` (the migration holds a copy of these).
ENGINE_DDL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE VIRTUAL TABLE search_fts USING fts5(title_terms, body_terms, "
        "content='search_texts', content_rowid='document_id', "
        "tokenize='unicode61 remove_diacritics 0')",
        "CREATE TRIGGER search_texts_ai AFTER INSERT ON search_texts BEGIN "
        "INSERT INTO search_fts(rowid, title_terms, body_terms) "
        "VALUES (new.document_id, new.title_terms, new.body_terms); END",
        "CREATE TRIGGER search_texts_ad AFTER DELETE ON search_texts BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, title_terms, body_terms) "
        "VALUES ('delete', old.document_id, old.title_terms, old.body_terms); END",
        "CREATE TRIGGER search_texts_au AFTER UPDATE ON search_texts BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, title_terms, body_terms) "
        "VALUES ('delete', old.document_id, old.title_terms, old.body_terms); "
        "INSERT INTO search_fts(rowid, title_terms, body_terms) "
        "VALUES (new.document_id, new.title_terms, new.body_terms); END",
    ],
    "postgresql": [
        "ALTER TABLE search_texts ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('simple', coalesce(title_terms, '')), 'A') || "
        "setweight(to_tsvector('simple', coalesce(body_terms, '')), 'B')) STORED",
        "CREATE INDEX ix_search_texts_tsv ON search_texts USING gin (tsv)",
    ],
}
# Their names, which schema comparisons leave alone (they are not in the models).
ENGINE_OBJECTS = frozenset({"tsv", "ix_search_texts_tsv"})
ENGINE_TABLE_PREFIX = "search_fts"


def engine_specific(name: str | None, type_: str) -> bool:
    """Is this database object one of ``ENGINE_DDL``'s (for Alembic's comparisons)?"""
    if name is None:
        return False
    if type_ == "table":
        return name.startswith(ENGINE_TABLE_PREFIX)
    return name in ENGINE_OBJECTS


for _dialect, _statements in ENGINE_DDL.items():
    for _statement in _statements:
        event.listen(
            SearchText.__table__, "after_create", DDL(_statement).execute_if(dialect=_dialect)
        )
