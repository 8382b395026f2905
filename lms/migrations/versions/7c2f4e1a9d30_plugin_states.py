"""plugin states: organizers enable or disable plugins that are not camps; run-time errors

Revision ID: 7c2f4e1a9d30
Revises: b05fcc61b902
Create Date: 2026-11-29 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c2f4e1a9d30'
down_revision = 'b05fcc61b902'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('plugin_states',
    sa.Column('plugin', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('plugin', name=op.f('pk_plugin_states'))
    )


def downgrade():
    op.drop_table('plugin_states')
