"""The webhook worker gives way to deliveries while they keep coming."""

from __future__ import annotations

import time

import pytest

from webapp.helpdesk import inbound
from webapp.helpdesk.inbound import IntakeClock


def test_during_a_burst_the_worker_rests_four_times_what_an_event_took(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rests: list[float] = []
    monkeypatch.setattr(inbound.time, "sleep", rests.append)
    monkeypatch.setattr(IntakeClock, "last", 0.0)
    IntakeClock.tick()  # a delivery was just stored
    IntakeClock.give_way(0.01)
    assert rests == [pytest.approx(0.04)]


def test_once_deliveries_pause_it_runs_at_full_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    rests: list[float] = []
    monkeypatch.setattr(inbound.time, "sleep", rests.append)
    monkeypatch.setattr(IntakeClock, "last", time.monotonic() - IntakeClock.QUIET - 0.01)
    IntakeClock.give_way(0.01)
    assert rests == []
