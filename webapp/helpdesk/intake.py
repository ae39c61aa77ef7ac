"""Webhook intake: a signed delivery stored exactly as received, committed, then answered.

A request costs a share of one INSERT. Each process has one writer at a time (group
commit): it stores every delivery queued by then in one statement, which is one
transaction and one fsync for many deliveries, and each request answers after its own
commit. The worker unpacks the events later (:mod:`webapp.helpdesk.inbound`).

The writer runs on a connection of its own, in autocommit, through the database driver
directly: under load SQLAlchemy's execution path cost more than SQLite's insert, and on
SQLite a statement alone takes no lock file (see :mod:`webapp.sqlite_writes`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event

from webapp.facebook.webhooks import MalformedWebhookError, envelope
from webapp.models import WebhookDelivery, utcnow
from webapp.sqlite_writes import retry_while_busy

MAX_BODY_BYTES = 1_000_000  # Facebook batches up to 1000 updates; a megabyte is plenty
MAX_BATCH = 32  # deliveries per INSERT (a process rarely has more threads)
APPLICATION_NAME = "pagedesk webhook intake"


class NotStoredError(Exception):
    """The database did not take the delivery: answer non-200 and Facebook retries it."""


@dataclass
class _Ticket:
    raw: bytes
    error: Exception | None = None  # malformed, or not stored
    done: bool = False


_WRITE = threading.Lock()
_QUEUE_LOCK = threading.Lock()
_queue: list[_Ticket] = []


def store_delivery(engine: Engine, raw: bytes, *, now: datetime | None = None) -> None:
    """Keep a signed body, committed before this returns; its events are unpacked later.

    A malformed body is recorded and :class:`MalformedWebhookError` raised. When the
    database fails, :class:`NotStoredError` is raised for every delivery of the batch,
    and none is kept.
    """
    ticket = _Ticket(raw)
    try:
        envelope(raw)  # before the queue: the writer's turn is for writing
    except MalformedWebhookError as error:
        ticket.error = error
    IntakeClock.tick()
    with _QUEUE_LOCK:
        _queue.append(ticket)
    with _WRITE:
        while not ticket.done:
            with _QUEUE_LOCK:
                batch = _queue[:MAX_BATCH]
                del _queue[:MAX_BATCH]
            _write(engine, batch, now or utcnow())
    if ticket.error is not None:
        raise ticket.error


def _write(engine: Engine, batch: list[_Ticket], now: datetime) -> None:
    """Store a batch; never raises (each ticket keeps its error, for its own request)."""
    try:
        _writer(engine).write(batch, now)
    except Exception as error:  # noqa: BLE001 (any failure: Facebook is asked to retry)
        for ticket in batch:
            ticket.error = NotStoredError(f"The delivery could not be stored: {error}")
    finally:
        for ticket in batch:
            ticket.done = True


_COLUMNS = ("body", "received_at", "error", "event_count", "unpacked_at")


class _Writer:
    """One process's connection for storing deliveries into one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pid = os.getpid()
        dialect = engine.dialect
        table = WebhookDelivery.__table__
        self.convert: list[Callable[[Any], Any] | None] = [  # as SQLAlchemy would bind them
            table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
            for column in _COLUMNS
        ]
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.sqlite = dialect.name == "sqlite"
        self.connection: Any = None  # the driver's connection, opened at the first write

    def write(self, batch: list[_Ticket], now: datetime) -> None:
        """Store the batch in one statement, on a fresh connection if the old one fails."""
        values: list[Any] = []
        for ticket in batch:
            error = str(ticket.error)[:500] if ticket.error else None
            row = (ticket.raw, now, error, 0, now if error else None)  # refused: nothing to unpack
            pairs = zip(self.convert, row, strict=True)
            values += [convert(v) if convert and v is not None else v for convert, v in pairs]
        sql = _insert(len(batch), self.mark)
        while True:
            fresh = self.connection is None
            try:
                self._execute(self.connection or self._connect(), sql, values)
                return
            except Exception:
                self.close()  # a database restarted, say: the next try starts afresh
                if fresh:
                    raise

    def _execute(self, connection: Any, sql: str, values: list[Any]) -> None:
        if self.sqlite:
            retry_while_busy(lambda: connection.execute(sql, values))
        else:
            connection.execute(sql, values)

    def _connect(self) -> Any:
        pooled = self.engine.raw_connection()  # set up as the pool's are (WAL, timeouts)
        driver = pooled.driver_connection
        pooled.detach()  # this process's own, from now on
        self.connection = driver
        self.engine.dialect.set_isolation_level(driver, "AUTOCOMMIT")
        if self.sqlite:
            driver.execute("PRAGMA busy_timeout=0")  # busy waits are ours: retry_while_busy
        else:
            driver.execute(f"SET application_name = '{APPLICATION_NAME}'")  # for pg_stat_activity
        return driver

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(Exception):  # a broken connection is dropped either way
                connection.close()


_writers: weakref.WeakKeyDictionary[Engine, _Writer] = weakref.WeakKeyDictionary()


def _writer(engine: Engine) -> _Writer:
    writer = _writers.get(engine)
    if writer is None or writer.pid != os.getpid():  # (a forked child opens its own)
        writer = _writers[engine] = _Writer(engine)
        if not event.contains(engine, "engine_disposed", _on_disposed):
            event.listen(engine, "engine_disposed", _on_disposed)
    return writer


def _on_disposed(engine: Engine) -> None:
    with _WRITE:
        if (writer := _writers.pop(engine, None)) is not None:
            writer.close()


@functools.cache
def _insert(count: int, mark: str) -> str:
    """The INSERT of ``count`` deliveries, in the driver's placeholders."""
    row = "(" + ", ".join([mark] * len(_COLUMNS)) + ")"
    table = WebhookDelivery.__tablename__
    return f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES {', '.join([row] * count)}"  # noqa: S608 (no input)


class IntakeClock:
    """How fast this process is storing deliveries: the worker lets a burst go first.

    Answering Facebook fast is what keeps it delivering (it retries, then unsubscribes
    the app after an hour of failures); processing may lag while a burst lasts. During
    one (100 deliveries a second or more), the worker waits for it to end: on SQLite a
    write of the worker's, with its thread competing for the GIL, holds up the
    deliveries of every process while it runs. If the burst goes on, the worker still
    takes a turn every ``LONGEST`` seconds. A trickle, or the end of the burst: full speed.

    The rate is taken over half a second, so that the worker's own stall of intake does not
    look like the end of a burst; and the worker lets ``SETTLE`` pass after it is woken,
    so that a burst shows itself before the first turn.
    """

    BURST = 50  # deliveries within WINDOW seconds
    WINDOW = 0.5
    SETTLE = 0.3  # seconds from the wake to the first turn
    REST = 0.5  # seconds between looks while a burst lasts
    LONGEST = 10.0  # seconds of waiting, then one turn anyway

    _recent: deque[float] = deque(maxlen=BURST)  # when the latest deliveries came

    @classmethod
    def tick(cls) -> None:
        cls._recent.append(time.monotonic())

    @classmethod
    def busy(cls) -> bool:
        recent = cls._recent
        return len(recent) == cls.BURST and time.monotonic() - recent[0] < cls.WINDOW

    @classmethod
    def give_way(cls) -> None:
        """After a turn: wait while a burst lasts (``LONGEST`` at most)."""
        for _ in range(round(cls.LONGEST / cls.REST)):
            if not cls.busy():
                return
            time.sleep(cls.REST)
