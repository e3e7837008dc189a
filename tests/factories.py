"""Factories and domain assertions shared by the tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from tracker.domain.model import Action, Obligation
from tracker.domain.rules import MonthRule, Occurrence
from tracker.domain.status import OccurrenceStatus, Status


def make_obligation(**overrides: Any) -> Obligation:
    values: dict[str, Any] = dict(code="O10-1", title="จัดทำแผนดำเนินงานประจำปี", measure="O10", unit="palad",
                                  rule=MonthRule(10))
    values.update(overrides)
    return Obligation(**values)


def make_action(obligation: str = "O10-1", done_on: date = date(2023, 4, 5), **overrides: Any) -> Action:
    return Action(obligation, done_on, **overrides)


def occurrence(obligation: str = "O10-1", period: str = "2566", window_start: date = date(2022, 10, 1),
               due: date = date(2022, 10, 31)) -> Occurrence:
    return Occurrence(obligation, period, window_start, due)


def assert_statuses(items: list[OccurrenceStatus], expected: dict[tuple[str, str], Status]) -> None:
    """Every (obligation, period) named in `expected` has that status."""
    got = {(i.occurrence.obligation, i.occurrence.period): i.status for i in items}
    wrong = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    assert not wrong, f"(got, expected) differ: {wrong}"
