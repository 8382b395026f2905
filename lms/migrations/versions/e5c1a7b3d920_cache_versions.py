"""cache_versions: the counters behind the per-process caches (issue 20)

Revision ID: e5c1a7b3d920
Revises: d71e4a9c2b60
Create Date: 2026-12-06 23:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5c1a7b3d920'
down_revision = 'd71e4a9c2b60'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'cache_versions',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('switches', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('content', sa.BigInteger(), server_default='0', nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_cache_versions_one_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cache_versions')),
    )
    op.bulk_insert(table, [{'id': 1, 'switches': 0, 'content': 0}])


def downgrade():
    op.drop_table('cache_versions')
