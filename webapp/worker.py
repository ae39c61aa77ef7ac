"""The in-process webhook worker: processes events right after they are stored,
and sweeps every few seconds for anything left pending (retries, a crash)."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from webapp.extensions import db
from webapp.helpdesk import inbound
from webapp.integrations import facebook_kit

log = logging.getLogger(__name__)


class WebhookWorker:
    """One daemon thread per process, started on first use (never at import or fork)."""

    def __init__(self, app: Flask, *, sweep_seconds: float = 5.0) -> None:
        self.app = app
        self.sweep_seconds = sweep_seconds
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def ensure_started(self) -> None:
        """Start the sweep if this process has no worker thread yet (cheap otherwise)."""
        if self._thread is None or not self._thread.is_alive():
            self.wake()

    def wake(self) -> None:
        """Process now (starting the thread if this process has none yet)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="pagedesk-webhooks", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def stop(self) -> None:
        """Finish the current pass and end the thread (tests; shutdown)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        with self.app.app_context():
            try:  # a server killed mid-pass left claims: take them back rather than wait
                if reclaimed := inbound.reclaim_orphans(db.session):
                    log.info("Took back %d webhook events a stopped process had claimed", reclaimed)
            except Exception:  # their leases still run out; nothing is lost
                log.exception("Could not take back a stopped process's webhook events")
            finally:
                db.session.remove()
        self._wake.set()  # and process them now, not at the first sweep
        while not self._stopping:
            self._wake.wait(self.sweep_seconds)
            self._wake.clear()
            if self._stopping:
                return
            with self.app.app_context():
                try:
                    result = inbound.drain(
                        db.session, kit_factory=lambda: facebook_kit(self.app), after_intake=True
                    )
                    if result.processed >= inbound.DRAIN_LIMIT:
                        self._wake.set()  # a backlog: go on now, not at the next sweep
                except Exception:  # the next sweep tries again; events stay stored
                    log.exception("Webhook processing stopped early")
                finally:
                    db.session.remove()
