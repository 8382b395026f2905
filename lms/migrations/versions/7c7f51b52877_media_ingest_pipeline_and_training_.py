"""media ingest pipeline and training seconds

Revision ID: 7c7f51b52877
Revises: 7c2f4e1a9d30
Create Date: 2026-12-06 17:21:05.156339

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c7f51b52877'
down_revision = '7c2f4e1a9d30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stream_dir', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('renditions', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('has_thumbnails', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('pipeline_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('progress', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('eta_seconds', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))

    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('played_seconds', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('training_seconds', sa.Float(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ledger_seconds', sa.Integer(), server_default='0', nullable=False))



def downgrade():
    with op.batch_alter_table('playback_sessions', schema=None) as batch_op:
        batch_op.drop_column('ledger_seconds')
        batch_op.drop_column('training_seconds')
        batch_op.drop_column('played_seconds')

    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('eta_seconds')
        batch_op.drop_column('progress')
        batch_op.drop_column('pipeline_version')
        batch_op.drop_column('has_thumbnails')
        batch_op.drop_column('renditions')
        batch_op.drop_column('stream_dir')

