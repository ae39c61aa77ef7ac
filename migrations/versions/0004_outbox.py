"""the outbox, out-of-window settings, unread counts and the inbox's change marker

Revision ID: 0004_outbox
Revises: 0003_inbound
Create Date: 2026-12-01 18:05:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0004_outbox'
down_revision = '0003_inbound'
branch_labels = None
depends_on = None

STATUSES = ('queued', 'sending', 'unconfirmed', 'sent', 'delivered', 'read', 'failed', 'held')


def upgrade():
    op.create_table('uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('mimetype', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_uploads_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads'))
    )
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('human_agent_enabled', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('subscription_enabled', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('subscription_use', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('promotional_terms', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('last_checked_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unread_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()))
        batch_op.create_index('ix_conversations_updated', ['updated_at'], unique=False)
        batch_op.create_index('ix_conversations_window', ['last_customer_message_at'], unique=False)
        batch_op.create_index('ix_conversations_chats', ['chat_channel_id'], unique=False,
                              sqlite_where=sa.text("mode = 'chat'"), postgresql_where=sa.text("mode = 'chat'"))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.alter_column('status', existing_type=sa.String(length=20),
                              type_=sa.Enum(*STATUSES, name='outboundstatus', native_enum=False, length=20),
                              existing_nullable=True)
        batch_op.add_column(sa.Column('kind', sa.Enum('standard', 'human_agent', 'subscription', 'note', name='messagekind', native_enum=False, length=20), nullable=False, server_default='standard'))
        batch_op.add_column(sa.Column('route', sa.Enum('messenger', 'comment_reply', 'private_reply', name='route', native_enum=False, length=20), nullable=True))
        batch_op.add_column(sa.Column('target_comment_id', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failure', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('failure_code', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('awaiting_webhooks', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_messages_client_key', ['client_key'])
        batch_op.add_column(sa.Column('privately_replied_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_messages_outbox', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_messages_thread', ['conversation_id', 'sent_at', 'id'], unique=False)


def downgrade():
    op.drop_table('uploads')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_thread')
        batch_op.drop_index('ix_messages_outbox')
        batch_op.drop_constraint('uq_messages_client_key', type_='unique')
        batch_op.drop_column('client_key')
        batch_op.drop_column('awaiting_webhooks')
        for name in ('privately_replied_at', 'failure_code', 'failure', 'lease_until',
                     'next_attempt_at', 'attempts', 'target_comment_id', 'route', 'kind'):
            batch_op.drop_column(name)
        batch_op.alter_column('status', existing_type=sa.Enum(*STATUSES, name='outboundstatus', native_enum=False, length=20),
                              type_=sa.String(length=20), existing_nullable=True)

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_chats')
        batch_op.drop_index('ix_conversations_window')
        batch_op.drop_index('ix_conversations_updated')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('unread_count')

    with op.batch_alter_table('channels', schema=None) as batch_op:
        for name in ('last_checked_at', 'promotional_terms', 'subscription_use', 'subscription_enabled', 'human_agent_enabled'):
            batch_op.drop_column(name)
