"""search index: search_documents and search_texts, with FTS5 (SQLite) or a tsvector column (PostgreSQL)

Revision ID: 9b1e5c7d2a40
Revises: 9f83be8838c1
Create Date: 2026-12-06 21:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9b1e5c7d2a40'
down_revision = '9f83be8838c1'
branch_labels = None
depends_on = None

# A copy of lms.models.search.ENGINE_DDL as it was for this revision.
ENGINE_DDL = {
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


def upgrade():
    op.create_table('search_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('camp_id', sa.Integer(), nullable=True),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('lesson_id', sa.Integer(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('topic_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('course', 'lesson', 'case', 'topic')", name=op.f('ck_search_documents_kind')),
    sa.ForeignKeyConstraint(['camp_id'], ['camps.id'], name=op.f('fk_search_documents_camp_id_camps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['salon_cases.id'], name=op.f('fk_search_documents_case_id_salon_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_search_documents_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_search_documents_lesson_id_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['discussion_topics.id'], name=op.f('fk_search_documents_topic_id_discussion_topics'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_documents')),
    sa.UniqueConstraint('key', name=op.f('uq_search_documents_key'))
    )
    with op.batch_alter_table('search_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_documents_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_documents_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_documents_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_search_documents_topic_id'), ['topic_id'], unique=False)

    op.create_table('search_texts',
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('title_zh', sa.String(length=300), nullable=False),
    sa.Column('title_en', sa.String(length=300), nullable=False),
    sa.Column('text_zh', sa.Text(), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('title_terms', sa.Text(), nullable=False),
    sa.Column('body_terms', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['search_documents.id'], name=op.f('fk_search_texts_document_id_search_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', name=op.f('pk_search_texts'))
    )
    for statement in ENGINE_DDL.get(op.get_bind().dialect.name, []):
        op.execute(sa.text(statement))
    # The index is filled by `lms init` (which runs `lms search reindex`'s rebuild).


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("search_texts_ai", "search_texts_ad", "search_texts_au"):
            op.execute(sa.text(f"DROP TRIGGER IF EXISTS {trigger}"))
        op.execute(sa.text("DROP TABLE IF EXISTS search_fts"))
    op.drop_table('search_texts')
    op.drop_table('search_documents')
