"""The one exception hierarchy of the service. Messages say what was wrong, where, and what to do."""

from __future__ import annotations


class TrackerError(Exception):
    """Base class of every error the service raises on purpose. `exit_code` is what the command exits
    with: 2 for input a person can correct (the default), 1 for a service that is unavailable."""

    exit_code = 2


class SettingsError(TrackerError):
    """An environment variable (DATABASE_URL, TRACKER_HTTP_TIMEOUT, a `*_FILE`…) is invalid."""


class UnavailableError(TrackerError):
    """Something the command needs (the database server, a lock held by another process) is not available
    now; the same command may succeed later."""

    exit_code = 1


class DateParseError(TrackerError, ValueError):
    """A date, month or year a person typed could not be read."""


class RuleError(TrackerError, ValueError):
    """A due rule is impossible (31 February, an unknown frequency…)."""


class ConfigError(TrackerError):
    """The configuration is invalid; `problems` lists every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class Problem:
    """One problem in a file, located as precisely as we can: file, line, column, field path."""

    __slots__ = ("column", "field", "file", "line", "message", "severity")

    def __init__(
        self,
        file: str,
        message: str,
        *,
        field: str | None = None,
        line: int | None = None,
        column: int | None = None,
        severity: str = "error",
    ) -> None:
        self.file = file
        self.message = message
        self.field = field
        self.line = line
        self.column = column
        self.severity = severity

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" [{self.field}]" if self.field else ""
        return f"{where}:{field} {self.severity}: {self.message}"

    def __repr__(self) -> str:
        return f"Problem({self!s})"


class NotFoundError(TrackerError):
    """An organisation, obligation or record named on the command line does not exist."""
