"""webhook deliveries: an index for the refused ones, none on received_at

Revision ID: 0008_webhook_delivery_indexes
Revises: 0007_webhook_unpacking
Create Date: 2026-12-05 10:00:00

Nothing looks deliveries up by when they came, yet every delivery wrote that index.
The Webhook log's "could not read" list read every delivery, newest first, to find a
handful of refused ones; a partial index holds only those, and costs a good delivery
nothing.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_webhook_delivery_indexes'
down_revision = '0007_webhook_unpacking'
branch_labels = None
depends_on = None

REFUSED = sa.text('error IS NOT NULL')


def upgrade():
    op.drop_index('ix_webhook_deliveries_received_at', table_name='webhook_deliveries')
    op.create_index(
        'ix_webhook_deliveries_refused', 'webhook_deliveries', ['id'],
        sqlite_where=REFUSED, postgresql_where=REFUSED,
    )


def downgrade():
    op.drop_index('ix_webhook_deliveries_refused', table_name='webhook_deliveries')
    op.create_index(
        'ix_webhook_deliveries_received_at', 'webhook_deliveries', ['received_at']
    )
