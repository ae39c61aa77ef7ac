"""The sandbox's webhook courier: posts signed bodies to the app from a background
queue, after the request that caused them has answered, as Facebook does.

It can hold deliveries back and release them in order or reversed (out of
order), and redeliver the last body unchanged.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from webapp.facebook.webhooks import sign

log = logging.getLogger(__name__)


@dataclass
class Sent:
    """One delivery attempt, for the simulator page."""

    at: datetime
    size: int
    status: int | None
    note: str


def serialize(body: dict[str, Any]) -> bytes:
    """Facebook's bytes: JSON with non-ASCII escaped (the signature covers exactly these)."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()


class Courier:
    def __init__(self, *, url: Callable[[], str], app_secret: str) -> None:
        self._url, self._secret = url, app_secret
        self._queue: queue.Queue[bytes] = queue.Queue()
        self._held: list[bytes] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.holding = False
        self.last: bytes | None = None
        self.history: deque[Sent] = deque(maxlen=20)

    def send(self, body: dict[str, Any]) -> None:
        """Queue a body (or keep it back while holding)."""
        raw = serialize(body)
        with self._lock:
            if self.holding:
                self._held.append(raw)
                return
        self._put(raw)

    def hold(self) -> None:
        with self._lock:
            self.holding = True

    def release(self, *, reverse: bool = False) -> int:
        """Deliver what was held, in order or reversed; stop holding."""
        with self._lock:
            held, self._held, self.holding = self._held, [], False
        for raw in reversed(held) if reverse else held:
            self._put(raw)
        return len(held)

    def redeliver(self) -> bool:
        """Send the last body again, byte for byte (Facebook delivers at least once)."""
        if self.last is None:
            return False
        self._put(self.last)
        return True

    @property
    def held(self) -> int:
        return len(self._held)

    def _put(self, raw: bytes) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="sandbox-webhooks", daemon=True
                )
                self._thread.start()
        self._queue.put(raw)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while True:
                raw = self._queue.get()
                self.last = raw
                headers = {
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": sign(raw, self._secret),
                }
                try:
                    response = client.post(self._url(), content=raw, headers=headers)
                    self.history.appendleft(
                        Sent(datetime.now(UTC), len(raw), response.status_code, "")
                    )
                except httpx.HTTPError as error:
                    self.history.appendleft(Sent(datetime.now(UTC), len(raw), None, str(error)))
                    log.warning("The sandbox could not deliver a webhook: %s", error)
