"""Insert a row unless one with the same unique key exists: one statement, every engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_once(session: Session, model: type[Any], keys: list[str], **values: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING`` the new row's primary key, or None.

    A conflict is not an error, so the caller's transaction stays usable, and a
    concurrent insert of the same key (another process) waits for it, then loses.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    [key] = inspect(model).primary_key
    statement = (
        dialect.insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(key)
    )
    return session.execute(statement).scalar()
