"""attendance states (replaced), arrival and departure times, segment crediting, cancel reason

Revision ID: a17e0c3d5b21
Revises: 9b1e5c7d2a40
Create Date: 2026-12-06 21:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a17e0c3d5b21'
down_revision = '9b1e5c7d2a40'
branch_labels = None
depends_on = None

OLD = "status IN ('present', 'late', 'excused', 'absent')"
NEW = "status IN ('present', 'late', 'excused', 'absent', 'replaced')"


def upgrade():
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('left_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_attendance_status'), type_='check')
        batch_op.create_check_constraint('status', NEW)
    with op.batch_alter_table('attendance_corrections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('left_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('live_segments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credited_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancel_reason', sa.String(length=500), nullable=True))
    # Hours were credited at check-in until now: segments that already ended are settled.
    op.execute(sa.text(
        "UPDATE live_segments SET credited_at = ends_at WHERE ends_at <= CURRENT_TIMESTAMP"
    ))


def downgrade():
    op.execute(sa.text("UPDATE attendance SET status = 'absent' WHERE status = 'replaced'"))
    with op.batch_alter_table('live_sessions', schema=None) as batch_op:
        batch_op.drop_column('cancel_reason')
    with op.batch_alter_table('live_segments', schema=None) as batch_op:
        batch_op.drop_column('credited_at')
    with op.batch_alter_table('attendance_corrections', schema=None) as batch_op:
        batch_op.drop_column('left_at')
        batch_op.drop_column('arrived_at')
    with op.batch_alter_table('attendance', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_attendance_status'), type_='check')
        batch_op.create_check_constraint('status', OLD)
        batch_op.drop_column('left_at')
        batch_op.drop_column('arrived_at')
