"""SQLite writers take turns on the lock file: the second starts when the first commits."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from webapp import sqlite_writes


def connect(path: Path) -> sqlite_writes.Connection:
    connection = sqlite3.connect(path, factory=sqlite_writes.Connection, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    # No busy handler at all: a writer that reached SQLite's lock while another holds
    # it fails at once with "database is locked". Only the lock file can make it wait.
    connection.execute("PRAGMA busy_timeout=0")
    return connection  # type: ignore[return-value]


def test_a_second_writer_waits_for_the_first_commit_and_then_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    first, second = connect(path), connect(path)
    first.execute("CREATE TABLE notes (text TEXT)")
    first.commit()
    first.execute("INSERT INTO notes VALUES ('first')")  # holds the lock until commit
    assert (tmp_path / "app.db-writer.lock").exists()
    order: list[str] = []

    def write_second() -> None:
        second.execute("INSERT INTO notes VALUES ('second')")
        order.append("second wrote")
        second.commit()

    writer = threading.Thread(target=write_second)
    writer.start()
    time.sleep(0.2)
    assert order == []  # waiting on the lock file (SQLite alone would have refused it)
    order.append("first commits")
    first.commit()
    writer.join(timeout=5)
    assert order == ["first commits", "second wrote"]
    rows = first.execute("SELECT text FROM notes ORDER BY rowid").fetchall()
    assert rows == [("first",), ("second",)]


def test_reads_never_wait_and_a_rollback_frees_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    first, second = connect(path), connect(path)
    first.execute("CREATE TABLE notes (text TEXT)")
    first.commit()
    first.execute("INSERT INTO notes VALUES ('draft')")
    assert second.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    first.rollback()
    second.execute("INSERT INTO notes VALUES ('kept')")  # would wait 10 s if still held
    second.commit()
    assert first.execute("SELECT text FROM notes").fetchall() == [("kept",)]


def test_a_writer_stuck_behind_another_gets_sqlites_error_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_writes, "TIMEOUT", 0.2)
    lock = sqlite_writes.WriterLock(str(tmp_path / "app.db-writer.lock"))
    held = threading.Event()
    done = threading.Event()

    def hold() -> None:
        lock.acquire()
        held.set()
        done.wait(5)
        lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        lock.acquire(timeout=0.2)
    done.set()
    holder.join(5)
    lock.acquire()  # free again
    lock.acquire()  # and reentrant in its thread
    lock.release()
    lock.release()


def test_in_memory_databases_have_no_lock() -> None:
    assert sqlite_writes.lock_for(":memory:") is None
    assert sqlite_writes.lock_for("") is None
