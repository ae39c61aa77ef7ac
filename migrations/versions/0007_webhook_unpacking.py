"""webhook deliveries are stored as received and unpacked into events by the worker

Revision ID: 0007_webhook_unpacking
Revises: 0006_inbox_reading
Create Date: 2026-12-04 10:00:00

Answering Facebook now costs one INSERT: the request stores the body, and the worker
reads its events out of it. Deliveries stored before this were unpacked at intake.
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_webhook_unpacking'
down_revision = '0006_inbox_reading'
branch_labels = None
depends_on = None

UNPACKED = sa.text('unpacked_at IS NULL')


def upgrade():
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unpacked_at', sa.DateTime(timezone=True), nullable=True))
    op.execute('UPDATE webhook_deliveries SET unpacked_at = received_at')
    op.create_index(
        'ix_webhook_deliveries_unpack', 'webhook_deliveries', ['id'],
        sqlite_where=UNPACKED, postgresql_where=UNPACKED,
    )
    # A delivery's events are stored once: unpacking it twice would fail here.
    op.drop_index('ix_webhook_events_delivery_id', table_name='webhook_events')
    op.create_index(
        'ix_webhook_events_delivery', 'webhook_events', ['delivery_id', 'position'], unique=True
    )


def downgrade():
    op.drop_index('ix_webhook_events_delivery', table_name='webhook_events')
    op.create_index('ix_webhook_events_delivery_id', 'webhook_events', ['delivery_id'])
    op.drop_index('ix_webhook_deliveries_unpack', table_name='webhook_deliveries')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('unpacked_at')
