"""On SQLite, writers take turns on a lock file instead of in SQLite's busy handler.

SQLite lets one connection write at a time. The others wait in its busy handler, which
sleeps in growing steps (1, 2, 5 … 100 ms): a reply that comes in while the webhook worker
commits could wait a quarter of a second for a lock freed after five milliseconds. So every
connection here takes an ``flock`` on ``<database>-writer.lock`` before the first write of
a transaction and gives it back when the transaction ends; the next writer starts within a
millisecond of the lock coming free, across threads and processes alike.

Python's sqlite3 begins a transaction only at the first INSERT, UPDATE, DELETE or REPLACE,
so that is where the lock is taken. Code that reads and then writes, and must not be
overtaken in between, holds ``writer_lock(session)`` around both (the webhook worker does).
A statement run alone in autocommit (:func:`retry_while_busy`, the webhook's intake)
takes no lock file: see there. PostgreSQL needs none of this: its writers lock rows, not the
database.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

from sqlalchemy.orm import Session

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
T = TypeVar("T")
TIMEOUT = 10.0  # seconds, as the busy timeout: then "database is locked", as SQLite says


class WriterLock:
    """One database's lock file; reentrant within a thread (each turn opens the file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def acquire(self, timeout: float | None = None) -> None:
        local = self._local
        if getattr(local, "depth", 0):
            local.depth += 1
            return
        file = open(self.path, "a")  # noqa: SIM115 (closed by release)
        try:
            _lock(file, TIMEOUT if timeout is None else timeout)
        except BaseException:
            file.close()
            raise
        local.file, local.depth = file, 1

    def release(self) -> None:
        local = self._local
        if not getattr(local, "depth", 0):  # not this thread's turn (a close from elsewhere)
            return
        local.depth -= 1
        if local.depth == 0:
            local.file.close()  # closing the file gives the lock back
            local.file = None


def _lock(file: IO[str], timeout: float) -> None:
    # Not a blocking flock: a writer stuck behind a deadlock gets SQLite's own error
    # after the timeout rather than hanging. Pauses stay under a millisecond.
    deadline = time.monotonic() + timeout
    pause = 0.00005
    while True:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("database is locked") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.001)


_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def lock_for(database: str | os.PathLike[str] | None) -> WriterLock | None:
    """The lock of a database file; None for an in-memory database."""
    name = os.fspath(database or "")
    if name in ("", ":memory:") or name.startswith("file:"):
        return None
    path = os.path.abspath(name)
    with _locks_guard:
        return _locks.setdefault(path, WriterLock(f"{path}-writer.lock"))


class Connection(sqlite3.Connection):
    """sqlite3's connection, taking the writer lock for each transaction that writes."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._writer = lock_for(database)
        self._holding = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:
        return super().cursor(factory or Cursor)

    # sqlite3's shortcuts make their cursor without calling cursor().
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, seq_of_parameters)

    def before(self, statement: str) -> None:
        if self._writer is None or self._holding or self.isolation_level is None:
            return  # (autocommit: a statement is its own transaction, see retry_while_busy)
        if statement.lstrip()[:7].upper().startswith(WRITES):
            self._writer.acquire()
            self._holding = True

    def _done(self) -> None:
        if self._holding:
            self._holding = False
            self._writer.release()  # type: ignore[union-attr] (holding implies a lock)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._done()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._done()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._done()


class Cursor(sqlite3.Cursor):
    connection: Connection

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        self.connection.before(sql)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Cursor:
        self.connection.before(sql)
        return super().executemany(sql, seq_of_parameters)


@contextmanager
def writer_lock(session: Session) -> Iterator[None]:
    """Hold the writer lock across a read-then-write (a no-op on PostgreSQL)."""
    url = session.get_bind().url
    lock = lock_for(url.database) if url.get_backend_name() == "sqlite" else None
    if lock is None:
        yield
        return
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def retry_while_busy(run: Callable[[], T]) -> T:
    """Run one statement on a connection in autocommit, whose busy timeout is 0.

    Such a statement takes no lock file. A transaction in Python holds the database
    across several calls into SQLite, and between them its thread waits for the GIL,
    behind every other thread of the process: under load, milliseconds, in which the
    other process cannot write. A statement alone holds SQLite's lock only inside that
    one call, in which the GIL is free. A busy database is tried again every 50-500 µs
    rather than after the 1, 2, 5 … ms steps of SQLite's busy handler.
    """
    deadline, pause = time.monotonic() + TIMEOUT, 0.00005
    while True:
        try:
            return run()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.0005)
