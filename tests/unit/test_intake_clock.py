"""The webhook worker gives way to a burst of deliveries, and only to a burst."""

from __future__ import annotations

import math
from collections import deque

import pytest

from webapp.helpdesk import intake
from webapp.helpdesk.intake import IntakeClock


@pytest.fixture
def rests(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """What the worker would sleep; and a clock with no deliveries yet."""
    slept: list[float] = []
    monkeypatch.setattr(intake.time, "sleep", slept.append)
    monkeypatch.setattr(IntakeClock, "_recent", deque(maxlen=IntakeClock.BURST))
    return slept


def test_during_a_burst_the_worker_waits_then_takes_a_turn_anyway(rests: list[float]) -> None:
    for _ in range(IntakeClock.BURST):
        IntakeClock.tick()
    IntakeClock.give_way()  # (the fixture's sleep takes no time: the burst never ends)
    assert rests == [IntakeClock.REST] * 20
    assert sum(rests) == IntakeClock.LONGEST


def test_the_worker_goes_on_when_the_burst_ends(
    rests: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(IntakeClock.BURST):
        IntakeClock.tick()
    clock = [intake.time.monotonic()]

    def sleep(seconds: float) -> None:  # time passes, and no delivery comes
        rests.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(intake.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(intake.time, "sleep", sleep)
    IntakeClock.give_way()
    assert len(rests) == math.ceil(IntakeClock.WINDOW / IntakeClock.REST)  # then it is over


def test_a_trickle_of_deliveries_does_not_slow_it(rests: list[float]) -> None:
    for _ in range(IntakeClock.BURST - 1):
        IntakeClock.tick()
    IntakeClock.give_way()
    assert rests == []


def test_after_the_burst_it_runs_at_full_speed(
    rests: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(IntakeClock.BURST):
        IntakeClock.tick()
    later = intake.time.monotonic() + IntakeClock.WINDOW
    monkeypatch.setattr(intake.time, "monotonic", lambda: later)
    IntakeClock.give_way()
    assert rests == []
