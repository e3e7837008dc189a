"""The domain's value objects: an organisation, its units and contacts, measures, obligations, actions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time
from functools import cached_property
from typing import Any

from tracker.domain.rules import DueRule, Occurrence
from tracker.domain.thaidate import period_fiscal_year, title_for_year
from tracker.domain.workdays import WorkCalendar

ROLES = ("head", "officer", "admin")


@dataclass(frozen=True)
class Contact:
    """A person (or a shared inbox or LINE group) and where to reach them, as destination URLs:
    ``line://U…``, ``mailto:…``, ``https://…`` (webhook), ``outbox:``."""

    name: str
    role: str = "officer"
    destinations: tuple[str, ...] = ()
    title: str = ""


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    contacts: tuple[Contact, ...] = ()

    @property
    def heads(self) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.role == "head")

    @property
    def officers(self) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.role != "head")


@dataclass(frozen=True)
class ReminderPolicy:
    """When reminders go out. Organisation defaults, overridable per obligation (see `merged`)."""

    before_days: tuple[int, ...] = (30, 14, 7, 3, 1)
    on_due: bool = True
    overdue_after_working_days: int = 1
    overdue_every_days: int = 7
    overdue_max: int = 8
    escalate_head_after_days: int = 7
    escalate_executives_after_days: int = 30
    due_soon_days: int = 7
    send_from: time = time(8, 30)
    send_until: time = time(16, 30)

    def merged(self, overrides: Mapping[str, Any]) -> ReminderPolicy:
        """A copy with `overrides` (already validated and typed) applied."""
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in overrides.items() if k in known})


@dataclass(frozen=True)
class Obligation:
    """Something a unit must do by a deadline, e.g. "publish the annual plan within October".

    `rule` is None when the source gave no deadline: such an obligation is listed but never reminded.
    `done_when` tells an officer what counts as done (shown in reminders). `evidence_required`: the web
    form asks for a link or a file unless the configuration says `evidence = "optional"`.
    """

    code: str
    title: str
    measure: str
    unit: str
    rule: DueRule | None
    policy: ReminderPolicy = field(default_factory=ReminderPolicy)
    done_when: str = ""
    evidence_required: bool = True

    def occurrences(self, fy_be: int, calendar: WorkCalendar) -> list[Occurrence]:
        return [] if self.rule is None else self.rule.occurrences(self.code, fy_be, calendar)


@dataclass(frozen=True)
class Measure:
    code: str
    title: str
    unit: str
    oit: str | None = None
    steps: tuple[str, ...] = ()
    obligations: tuple[Obligation, ...] = ()


@dataclass(frozen=True)
class Action:
    """Work an officer logged: what (obligation), when it was done, the evidence, who recorded it.

    `period` names the occurrence it serves ("2566-Q2") when the date alone would mislead.
    `recorded_at` is UTC.
    """

    obligation: str
    done_on: date
    evidence: str = ""
    note: str = ""
    recorded_by: str = ""
    recorded_at: datetime | None = None
    period: str | None = None
    unit: str | None = None


@dataclass(frozen=True)
class LineChannel:
    """An organisation's own LINE official account: the names of the environment variables (or their
    `_FILE` twins) holding its channel access token and channel secret, never the secrets themselves.
    `channel` is how the service names it: the organisation's code, in `/line/webhook/<channel>`, in
    bindings and in the quota table ("" is the global channel of LINE_CHANNEL_ACCESS_TOKEN)."""

    channel: str
    token_env: str
    secret_env: str
    basic_id: str = ""  # @123abcde for the add-friend link; asked of LINE when empty


@dataclass(frozen=True)
class Organisation:
    code: str
    name: str
    district: str
    province: str
    fiscal_year: int
    units: tuple[Unit, ...] = ()
    executives: tuple[Contact, ...] = ()
    admins: tuple[Contact, ...] = ()
    measures: tuple[Measure, ...] = ()
    closures: tuple[tuple[date, str], ...] = ()
    policy: ReminderPolicy = field(default_factory=ReminderPolicy)
    language: str = "th"
    line: LineChannel | None = None  # its own LINE official account; None: the global channel

    @property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar.with_closures(self.closures)

    def obligations(self) -> Iterator[Obligation]:
        for measure in self.measures:
            yield from measure.obligations

    def unit(self, code: str) -> Unit:
        for unit in self.units:
            if unit.code == code:
                return unit
        raise KeyError(code)

    def measure(self, code: str) -> Measure:
        for measure in self.measures:
            if measure.code == code:
                return measure
        raise KeyError(code)

    def obligation(self, code: str) -> Obligation:
        return self._obligations_by_code[code]

    @cached_property
    def _obligations_by_code(self) -> dict[str, Obligation]:
        """Built once: the digest looks obligations up for every deadline of every organisation."""
        found: dict[str, Obligation] = {}
        for obligation in self.obligations():
            found.setdefault(obligation.code, obligation)
        return found

    def title_in(self, code: str, fy: int) -> str:
        """Obligation `code`'s title as it reads in fiscal year `fy`: the years it names move from the
        year this plan was written for (`title_for_year`)."""
        return title_for_year(self.obligation(code).title, self.fiscal_year, fy)

    def occurrence_title(self, occurrence: Occurrence) -> str:
        """The title of the obligation of `occurrence`, as it reads in the occurrence's fiscal year."""
        return self.title_in(occurrence.obligation, period_fiscal_year(occurrence.period))

    def occurrences(self, fy_be: int) -> list[Occurrence]:
        calendar = self.calendar
        return [occ for ob in self.obligations() for occ in ob.occurrences(fy_be, calendar)]
