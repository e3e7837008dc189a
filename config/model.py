"""What loading the admins' files gives: each organisation validated, and every problem found.

Kept apart from the loader, which validates destinations against the channels' registry (so it sits
above `notifiers`), so that storage can take a loaded configuration without depending on the channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tracker.domain.errors import Problem
from tracker.domain.model import Action, Organisation


@dataclass
class OrgConfig:
    """One organisation's file, validated: the organisation and the actions its file records."""

    organisation: Organisation
    actions: list[Action]
    source: Path


@dataclass
class LoadResult:
    orgs: list[OrgConfig] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def org(self, code: str) -> OrgConfig:
        for org in self.orgs:
            if org.organisation.code == code:
                return org
        raise KeyError(code)
