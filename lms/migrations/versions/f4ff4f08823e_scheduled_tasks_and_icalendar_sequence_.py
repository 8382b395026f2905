"""scheduled tasks and iCalendar sequence of live sessions

Revision ID: f4ff4f08823e
Revises: 7c7f51b52877
Create Date: 2026-12-06 17:24:04.741452

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f4ff4f08823e'
down_revision = '7c7f51b52877'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scheduled_tasks',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_scheduled_tasks'))
    )
    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sequence', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    # Feeds sent SEQUENCE 1 for a moved session: never go below what calendars have seen.
    op.execute(sa.text("UPDATE live_sessions SET sequence = 1 WHERE moved"))



def downgrade():
    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.drop_column('updated_at')
        batch_op.drop_column('sequence')

    op.drop_table('scheduled_tasks')
