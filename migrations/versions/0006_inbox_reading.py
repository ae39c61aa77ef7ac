"""the ticket list read from covering indexes; search by trigram index

Revision ID: 0006_inbox_reading
Revises: 0005_jobs_and_mail
Create Date: 2026-12-03 10:00:00

Search finds any part of a word, as ``ILIKE '%…%'`` did, without reading every message:
PostgreSQL with pg_trgm's GIN indexes (a trusted extension: the database's owner may
create it), SQLite with FTS5 trigram tables kept in step by triggers. The FTS tables and
the trigram indexes are not in the models; migrations/env.py leaves them out of
``flask db check``. A later migration that rebuilds ``messages`` or ``contacts`` with
``batch_alter_table`` on SQLite drops these triggers and must create them again.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_inbox_reading'
down_revision = '0005_jobs_and_mail'
branch_labels = None
depends_on = None

FILTERED = ['channel_id', 'source', 'assignee_id', 'chat_channel_id']
SEARCHED = [('messages', 'text'), ('contacts', 'name')]  # table, column


def sqlite_search(table, column):
    """An external-content FTS5 table over one column, and the triggers that keep it."""
    fts = f'{table}_search'
    return [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, content='{table}', "
        f"content_rowid='id', tokenize='trigram')",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {column} ON {table} BEGIN "
        f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); "
        f"INSERT INTO {fts}(rowid, {column}) VALUES (new.id, new.{column}); END",
    ]


def upgrade():
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_activity')
        batch_op.drop_index('ix_conversations_window')
        batch_op.drop_index('ix_conversations_chats')
        batch_op.create_index('ix_conversations_queue', ['mode', 'status', 'last_activity_at', *FILTERED], unique=False)
        batch_op.create_index('ix_conversations_activity', ['mode', 'last_activity_at', 'status', *FILTERED], unique=False)
        batch_op.create_index('ix_conversations_window', ['mode', 'status', 'last_customer_message_at'], unique=False)
        batch_op.create_index('ix_conversations_assignee', ['mode', 'assignee_id', 'status', 'last_activity_at'], unique=False)
        batch_op.create_index('ix_conversations_chats', ['mode', 'chat_channel_id', 'status', 'unread_count'], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        for table, column in SEARCHED:
            op.execute(f'CREATE INDEX ix_{table}_{column}_trgm ON {table} USING gin ({column} gin_trgm_ops)')
    elif dialect == 'sqlite':
        for table, column in SEARCHED:
            for statement in sqlite_search(table, column):
                op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        for table, column in SEARCHED:
            op.execute(f'DROP INDEX IF EXISTS ix_{table}_{column}_trgm')
    elif dialect == 'sqlite':
        for table, _column in SEARCHED:
            for trigger in ('insert', 'delete', 'update'):
                op.execute(f'DROP TRIGGER IF EXISTS {table}_search_{trigger}')
            op.execute(f'DROP TABLE IF EXISTS {table}_search')

    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_conversations_chats')
        batch_op.drop_index('ix_conversations_assignee')
        batch_op.drop_index('ix_conversations_window')
        batch_op.drop_index('ix_conversations_activity')
        batch_op.drop_index('ix_conversations_queue')
        batch_op.create_index('ix_conversations_chats', ['chat_channel_id'], unique=False,
                              sqlite_where=sa.text("mode = 'chat'"), postgresql_where=sa.text("mode = 'chat'"))
        batch_op.create_index('ix_conversations_window', ['last_customer_message_at'], unique=False)
        batch_op.create_index('ix_conversations_activity', ['last_activity_at'], unique=False)
