"""Insert a row unless one with the same unique key exists: one statement, every engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_once(session: Session, model: type[Any], keys: list[str], **values: Any) -> bool:
    """``INSERT ... ON CONFLICT DO NOTHING``; True when this call inserted the row.

    A conflict is not an error, so the caller's transaction stays usable, and a
    concurrent insert of the same key (another process) waits for it, then loses.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(model).values(**values).on_conflict_do_nothing(index_elements=keys)
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]
