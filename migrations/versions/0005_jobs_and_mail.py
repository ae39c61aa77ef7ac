"""scheduled job runs and their locks, notices to admins, the mail log

Revision ID: 0005_jobs_and_mail
Revises: 0004_outbox
Create Date: 2026-12-02 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005_jobs_and_mail'
down_revision = '0004_outbox'
branch_labels = None
depends_on = None

MAIL_STATUSES = ('queued', 'sending', 'sent', 'failed', 'logged')


def upgrade():
    op.create_table(
        'job_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('tick', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('summary', sa.Text(), nullable=True),
        sa.Column('manual', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
        sa.UniqueConstraint('name', 'tick', name=op.f('uq_job_runs_name')),
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_latest', ['name', 'started_at'], unique=False)

    op.create_table(
        'job_locks',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_locks')),
    )

    op.create_table(
        'notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('episode', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_notices_channel_id_channels')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notices')),
        sa.UniqueConstraint('channel_id', 'kind', 'episode', name=op.f('uq_notices_channel_id')),
    )

    op.create_table(
        'mail_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('to_address', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('html', sa.Text(), nullable=True),
        sa.Column('status', sa.Enum(*MAIL_STATUSES, name='mailstatus', native_enum=False, length=20), nullable=False),
        sa.Column('error', sa.String(length=1000), nullable=True),
        sa.Column('tries', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_log')),
    )
    with op.batch_alter_table('mail_log', schema=None) as batch_op:
        batch_op.create_index('ix_mail_log_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_log_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('mail_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_log_created_at'))
        batch_op.drop_index('ix_mail_log_due')
    op.drop_table('mail_log')
    op.drop_table('notices')
    op.drop_table('job_locks')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_latest')
    op.drop_table('job_runs')
