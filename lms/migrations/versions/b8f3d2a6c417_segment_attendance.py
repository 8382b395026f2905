"""segments attended separately: segment_attendance, and the segment a correction concerns

Revision ID: b8f3d2a6c417
Revises: e5c1a7b3d920
Create Date: 2026-12-06 23:45:00

Existing presence (one interval per attendance row, from the start or the arrival to the end
or the departure) becomes one row per segment it overlaps, so nothing credited changes.
"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8f3d2a6c417'
down_revision = 'e5c1a7b3d920'
branch_labels = None
depends_on = None


def _aware(moment):
    if moment is None:
        return None
    if isinstance(moment, str):  # SQLite without type information
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def upgrade():
    op.create_table('segment_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('attendance_id', sa.Integer(), nullable=False),
    sa.Column('segment_id', sa.Integer(), nullable=False),
    sa.Column('arrived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('left_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.CheckConstraint('arrived_at IS NULL OR left_at IS NULL OR left_at > arrived_at', name=op.f('ck_segment_attendance_times')),
    sa.ForeignKeyConstraint(['attendance_id'], ['attendance.id'], name=op.f('fk_segment_attendance_attendance_id_attendance'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['segment_id'], ['live_segments.id'], name=op.f('fk_segment_attendance_segment_id_live_segments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment_attendance')),
    sa.UniqueConstraint('attendance_id', 'segment_id', name=op.f('uq_segment_attendance_attendance_id_segment_id'))
    )
    with op.batch_alter_table('segment_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_segment_attendance_attendance_id'), ['attendance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_segment_attendance_segment_id'), ['segment_id'], unique=False)
    with op.batch_alter_table('attendance_corrections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('segment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_attendance_corrections_segment_id_live_segments'), 'live_segments', ['segment_id'], ['id'], ondelete='SET NULL')

    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT a.id, a.status, a.arrived_at, a.checked_in_at, a.left_at, a.method, "
        "s.starts_at, s.ends_at FROM attendance a JOIN live_sessions s ON s.id = a.session_id "
        "WHERE a.status IN ('present', 'late')"
    )).all()
    segments = sa.text(
        "SELECT g.id, g.starts_at, g.ends_at FROM live_segments g "
        "JOIN attendance a ON a.session_id = g.session_id WHERE a.id = :id"
    )
    insert = sa.text(
        "INSERT INTO segment_attendance (attendance_id, segment_id, arrived_at, left_at, method) "
        "VALUES (:attendance, :segment, :arrived, :left, :method)"
    )
    def stored(moment):  # SQLite keeps UTC without an offset, as the models write it
        return moment.replace(tzinfo=None) if bind.dialect.name == 'sqlite' else moment

    for id_, status, arrived, checked_in, left, method, starts, ends in rows:
        since, until = _aware(starts), _aware(ends)
        if status == 'late' and (arrived or checked_in) is not None:
            since = max(since, _aware(arrived or checked_in))
        if left is not None:
            until = min(until, _aware(left))
        for segment_id, segment_start, segment_end in bind.execute(segments, {'id': id_}).all():
            segment_start, segment_end = _aware(segment_start), _aware(segment_end)
            if min(segment_end, until) <= max(segment_start, since):
                continue
            bind.execute(insert, {
                'attendance': id_, 'segment': segment_id,
                'arrived': stored(since) if since > segment_start else None,
                'left': stored(until) if until < segment_end else None,
                'method': method or 'code',
            })


def downgrade():
    with op.batch_alter_table('attendance_corrections', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_attendance_corrections_segment_id_live_segments'), type_='foreignkey')
        batch_op.drop_column('segment_id')
    with op.batch_alter_table('segment_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_segment_attendance_segment_id'))
        batch_op.drop_index(batch_op.f('ix_segment_attendance_attendance_id'))
    op.drop_table('segment_attendance')
