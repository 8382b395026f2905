"""lessons.preview (open to anonymous visitors) and courses.level limited to a fixed set

Revision ID: d4b7e2a91c38
Revises: c3a9d8e1f702
Create Date: 2026-12-06 23:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4b7e2a91c38'
down_revision = 'c3a9d8e1f702'
branch_labels = None
depends_on = None

LEVELS = ('', 'foundation', 'intermediate', 'advanced')


def upgrade():
    with op.batch_alter_table('lessons', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('preview', sa.Boolean(), server_default='0', nullable=False)
        )
    # Levels were free text: a known one kept in any case and blanks trimmed, others emptied.
    op.execute("UPDATE courses SET level = lower(trim(level))")
    op.execute(
        "UPDATE courses SET level = '' WHERE level NOT IN ('foundation', 'intermediate', 'advanced')"
    )
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.create_check_constraint('level', f'level IN {LEVELS!r}')


def downgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_courses_level'), type_='check')
    with op.batch_alter_table('lessons', schema=None) as batch_op:
        batch_op.drop_column('preview')
