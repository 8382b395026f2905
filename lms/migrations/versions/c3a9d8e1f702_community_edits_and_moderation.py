"""community posts and comments: the author's last edit, hiding and deletion with who and why

Revision ID: c3a9d8e1f702
Revises: a17e0c3d5b21
Create Date: 2026-12-06 23:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a9d8e1f702'
down_revision = 'a17e0c3d5b21'
branch_labels = None
depends_on = None

TABLES = ('salon_cases', 'case_comments', 'discussion_topics', 'topic_comments')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('moderated_by_id', sa.Integer(), nullable=True))
            batch_op.add_column(
                sa.Column('moderation_reason', sa.String(length=500), nullable=True)
            )
            batch_op.create_foreign_key(
                batch_op.f(f'fk_{table}_moderated_by_id_users'),
                'users',
                ['moderated_by_id'],
                ['id'],
                ondelete='SET NULL',
            )


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f'fk_{table}_moderated_by_id_users'), type_='foreignkey'
            )
            batch_op.drop_column('moderation_reason')
            batch_op.drop_column('moderated_by_id')
            batch_op.drop_column('deleted_at')
            batch_op.drop_column('hidden_at')
            batch_op.drop_column('edited_at')
