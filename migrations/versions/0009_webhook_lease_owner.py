"""webhook events: which process holds a claim

Revision ID: 0009_webhook_lease_owner
Revises: 0008_webhook_delivery_indexes
Create Date: 2026-12-06 10:00:00

A server killed mid-pass left its claimed events to wait out their two-minute lease.
Each claim now names its process (host:pid), so a restarted server on the same host
takes back at once what a process that is gone had claimed.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_webhook_lease_owner'
down_revision = '0008_webhook_delivery_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('webhook_events', sa.Column('lease_owner', sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table('webhook_events') as batch_op:
        batch_op.drop_column('lease_owner')
