"""Read and validate the admins' TOML files into domain objects.

Every problem found is collected (with file, line, column and field path) instead of stopping at the
first, so an admin fixes a file in one pass. Nothing here touches the database.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from config.locate import locate
from config.model import LoadResult as LoadResult  # re-exported: what loading gives
from config.model import OrgConfig as OrgConfig  # re-exported
from notifiers.registry import destination_error, destination_warning
from tracker.domain.errors import DateParseError, Problem, RuleError
from tracker.domain.line_webhook import CONNECT_DESTINATION
from tracker.domain.model import (
    ROLES,
    Action,
    Contact,
    LineChannel,
    Measure,
    Obligation,
    Organisation,
    ReminderPolicy,
    Unit,
)
from tracker.domain.rules import DueRule, rule_from_dict
from tracker.domain.thaidate import check_ce_year, fiscal_year_bounds, format_thai_date, parse_date, plausible

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_OIT = re.compile(r"^O\d{1,3}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

ORG_FIELDS = {"code", "name", "district", "province", "fiscal_year", "language", "admins", "line"}
LINE_FIELDS = {"token_env", "secret_env", "basic_id"}
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")  # what a file may name: an upper-case environment variable
_BASIC_ID = re.compile(r"^@[0-9a-z._-]{2,32}$")
GLOBAL_LINE_ENV = {"LINE_CHANNEL_ACCESS_TOKEN", "LINE_CHANNEL_SECRET"}
TOP_FIELDS = {"organisation", "units", "executives", "measures", "actions", "closures", "reminders"}
UNIT_FIELDS = {"code", "name", "contacts"}
CONTACT_FIELDS = {"name", "role", "title", "destinations"}
MEASURE_FIELDS = {"code", "title", "unit", "oit", "steps", "obligations"}
OBLIGATION_FIELDS = {"code", "title", "unit", "due", "done_when", "reminders", "evidence"}
ACTION_FIELDS = {"obligation", "date", "evidence", "note", "recorded_by", "period", "unit"}
CLOSURE_FIELDS = {"date", "name"}
POLICY_INT_LISTS = {"before_days"}
POLICY_INTS = {
    "overdue_after_working_days", "overdue_every_days", "overdue_max", "escalate_head_after_days",
    "escalate_executives_after_days", "due_soon_days",
}
POLICY_BOOLS = {"on_due"}
POLICY_TIMES = {"send_from", "send_until"}
POLICY_FIELDS = POLICY_INT_LISTS | POLICY_INTS | POLICY_BOOLS | POLICY_TIMES
# An organisation has tens of obligations; these bounds keep `check` and `sync` to seconds (README, Limits).
MAX_FILE_BYTES = 1_000_000
MAX_OBLIGATIONS = 2_000


def config_files(paths: Iterable[Path]) -> list[Path]:
    """The TOML files named by `paths` (files, or folders searched for *.toml), in a stable order."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.toml")) if path.is_dir() else [path])
    return files


def load_config(paths: Iterable[Path]) -> LoadResult:
    """Load and validate every organisation file under `paths`. Never raises for bad content."""
    result = LoadResult()
    seen: dict[str, Path] = {}
    files = config_files(paths)
    if not files:
        result.problems.append(Problem(", ".join(str(p) for p in paths), "no configuration files (*.toml) found"))
    for file in files:
        org = _load_file(file, result.problems)
        if org is None:
            continue
        code = org.organisation.code
        if code in seen:
            result.problems.append(Problem(str(file), f"organisation code '{code}' is already used by {seen[code]}:"
                                           " give each organisation its own code", field="organisation.code"))
            continue
        seen[code] = file
        result.orgs.append(org)
    return result


def _load_file(file: Path, problems: list[Problem]) -> OrgConfig | None:
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(Problem(str(file), f"the file is {size / 1e6:.1f} MB, above the {MAX_FILE_BYTES // 10**6}"
                                    " MB an organisation's file may hold: split it, one file per organisation"))
            return None
        raw = file.read_bytes()
    except OSError as exc:
        problems.append(Problem(str(file), f"cannot read the file: {exc.strerror}"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(file), f"not UTF-8 text (byte {exc.start}): save the file as UTF-8"))
        return None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        problems.append(Problem(str(file), "tables or lists are nested too deeply to be a configuration file:"
                                " check the brackets"))
        return None
    except tomllib.TOMLDecodeError as exc:
        line, column = _toml_position(exc)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        problems.append(Problem(str(file), f"TOML syntax error: {message}", line=line, column=column))
        return None
    before = len([p for p in problems if p.is_error])
    reader = _Reader(file, text, problems)
    org = reader.organisation(data)
    if org is None or len([p for p in problems if p.is_error]) > before:
        return None
    return OrgConfig(org[0], org[1], file)


def _toml_position(exc: tomllib.TOMLDecodeError) -> tuple[int | None, int | None]:
    lineno = getattr(exc, "lineno", None)
    colno = getattr(exc, "colno", None)
    if lineno is None and (m := re.search(r"at line (\d+), column (\d+)", str(exc))):
        return int(m[1]), int(m[2])
    return lineno, colno


class _Reader:
    """Walks one parsed file, turning dicts into domain objects and recording problems with locations."""

    def __init__(self, file: Path, text: str, problems: list[Problem]) -> None:
        self.file, self.text, self.problems = file, text, problems
        self.connected: dict[str, str] = {}  # contact name → where its `line:connect` was written

    # -- reporting
    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(str(self.file), message, field=path, line=locate(self.text, path)))

    def warn(self, path: str, message: str) -> None:
        self.problems.append(
            Problem(str(self.file), message, field=path, line=locate(self.text, path), severity="warning")
        )

    def unknown_keys(self, path: str, data: dict[str, Any], allowed: set[str]) -> None:
        for key in sorted(set(data) - allowed):
            where = f"{path}.{key}" if path else key
            self.error(where, f"unknown field '{key}': allowed are {', '.join(sorted(allowed))}")

    # -- typed getters
    def text_field(self, data: dict[str, Any], path: str, key: str, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.error(f"{path}.{key}" if path else key, f"'{key}' is required")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.error(f"{path}.{key}", f"'{key}' must be a non-empty text in quotes")
            return ""
        return value.strip()

    def table_list(self, data: dict[str, Any], key: str, path: str = "") -> list[dict[str, Any]]:
        value = data.get(key, [])
        where = f"{path}.{key}" if path else key
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.error(where, f"'{key}' must be a list of tables, written [[{where}]]")
            return []
        return value

    def code(self, data: dict[str, Any], path: str, seen: dict[str, str], what: str) -> str:
        code = self.text_field(data, path, "code")
        if code and not _CODE.match(code):
            self.error(f"{path}.code", f"{what} code '{code}' may hold only letters, digits, '.', '_' and '-'")
        elif code in seen:
            self.error(f"{path}.code", f"duplicate {what} code '{code}' (first used at {seen[code]})")
        elif code:
            seen[code] = path
        return code

    # -- sections
    def organisation(self, data: dict[str, Any]) -> tuple[Organisation, list[Action]] | None:
        self.unknown_keys("", data, TOP_FIELDS)
        head = data.get("organisation")
        if not isinstance(head, dict):
            self.error("organisation", "an [organisation] table is required (code, name, district, province,"
                       " fiscal_year)")
            return None
        self.unknown_keys("organisation", head, ORG_FIELDS)
        code = self.code(head, "organisation", {}, "organisation")
        fiscal_year = head.get("fiscal_year")
        if not isinstance(fiscal_year, int) or isinstance(fiscal_year, bool):
            self.error("organisation.fiscal_year", "'fiscal_year' must be the B.E. fiscal year as a number in"
                       " Arabic digits, without quotes, e.g. 2566" if fiscal_year is not None else
                       "'fiscal_year' is required: the B.E. fiscal year, e.g. 2566")
            fiscal_year = 0
        elif 1900 <= fiscal_year <= 2200:
            self.error("organisation.fiscal_year",
                       f"fiscal_year {fiscal_year} looks like a C.E. year: write the B.E. year {fiscal_year + 543}")
        elif not 2400 <= fiscal_year <= 2700:
            self.error("organisation.fiscal_year", f"fiscal_year {fiscal_year} is not a B.E. year such as 2566")
        language = head.get("language", "th")
        if language not in ("th", "en"):
            self.error("organisation.language", f"language '{language}' must be \"th\" or \"en\"")
            language = "th"
        admins = tuple(self.contacts(head, "organisation", "admins", default_role="admin"))
        policy = self.policy(data.get("reminders", {}), "reminders", ReminderPolicy())
        units = self.units(data)
        unit_codes = {u.code for u in units}
        executives = tuple(self.contacts(data, "", "executives", default_role="head"))
        measures = self.measures(data, unit_codes, policy)
        obligation_codes = {o.code for m in measures for o in m.obligations}
        if len(obligation_codes) > MAX_OBLIGATIONS:
            self.error("measures", f"{len(obligation_codes):,} obligations, above the {MAX_OBLIGATIONS:,} one"
                       " organisation's file may hold: split it, one file per organisation")
        org = Organisation(
            code=code,
            name=self.text_field(head, "organisation", "name"),
            district=self.text_field(head, "organisation", "district"),
            province=self.text_field(head, "organisation", "province"),
            fiscal_year=fiscal_year,
            units=tuple(units),
            executives=executives,
            admins=admins,
            measures=tuple(measures),
            closures=tuple(self.closures(data)),
            policy=policy,
            language=language,
            line=self.line_channel(head, code),
        )
        actions = self.actions(data, obligation_codes, unit_codes, fiscal_year)
        return org, actions

    def line_channel(self, head: dict[str, Any], code: str) -> LineChannel | None:
        """`[organisation.line]`: the organisation's own LINE official account, by the names of the
        environment variables holding its token and secret. A value is never repeated in an error: a
        token pasted where a name belongs must not reach a log."""
        raw = head.get("line")
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.error("organisation.line", "'line' must be a table [organisation.line] with token_env and"
                       " secret_env (the names of the environment variables holding the channel's token and secret)")
            return None
        self.unknown_keys("organisation.line", raw, LINE_FIELDS)
        names = {}
        for key, what in (("token_env", "channel access token"), ("secret_env", "channel secret")):
            where = f"organisation.line.{key}"
            value = raw.get(key)
            if value is None:
                self.error(where, f"'{key}' is required: the name of the environment variable holding the"
                           f" organisation's LINE {what}, e.g. {key} = \"{code.upper()}_LINE_{key[:-4].upper()}\"")
            elif not isinstance(value, str) or not _ENV_NAME.match(value):
                self.error(where, f"'{key}' must name an environment variable (upper-case letters, digits and _,"
                           f" e.g. \"{code.upper()}_LINE_{key[:-4].upper()}\"), never hold the {what} itself:"
                           " put the value in that variable (or a file named by NAME_FILE)")
            elif value in GLOBAL_LINE_ENV:
                self.error(where, f"'{key}' names the global channel's {value}: leave [organisation.line] out to"
                           " use the global channel, or name this organisation's own variable")
            else:
                names[key] = value
        basic_id = raw.get("basic_id", "")
        if not isinstance(basic_id, str) or (basic_id and not _BASIC_ID.match(basic_id)):
            self.error("organisation.line.basic_id", "'basic_id' must be the official account's basic ID as"
                       " LINE shows it, e.g. \"@123abcde\" (or left out: it is asked of LINE)")
            basic_id = ""
        if len(names) < 2:
            return None
        if names["token_env"] == names["secret_env"]:
            self.error("organisation.line.secret_env", "'secret_env' names the same variable as 'token_env':"
                       " the channel secret and the access token are two different values")
            return None
        return LineChannel(code, names["token_env"], names["secret_env"], basic_id)

    def units(self, data: dict[str, Any]) -> list[Unit]:
        units, seen, names = [], {}, {}  # type: ignore[var-annotated]
        for i, raw in enumerate(self.table_list(data, "units")):
            path = f"units[{i}]"
            self.unknown_keys(path, raw, UNIT_FIELDS)
            code = self.code(raw, path, seen, "unit")
            name = self.text_field(raw, path, "name")
            if name in names:
                self.error(f"{path}.name", f"unit name '{name}' is also used by {names[name]}")
            names[name] = path
            units.append(Unit(code, name, tuple(self.contacts(raw, path, "contacts"))))
        if not units:
            self.error("units", "at least one [[units]] table is required")
        return units

    def contacts(self, data: dict[str, Any], path: str, key: str, default_role: str = "officer") -> list[Contact]:
        out = []
        for i, raw in enumerate(self.table_list(data, key, path)):
            where = f"{path}.{key}[{i}]" if path else f"{key}[{i}]"
            self.unknown_keys(where, raw, CONTACT_FIELDS)
            role = raw.get("role", default_role)
            if role not in ROLES:
                self.error(f"{where}.role", f"role '{role}' must be one of {', '.join(ROLES)}")
            destinations = raw.get("destinations", [])
            if not isinstance(destinations, list) or not all(isinstance(d, str) for d in destinations):
                self.error(f"{where}.destinations", "'destinations' must be a list of texts such as"
                           " [\"line://U…\", \"mailto:name@example.go.th\"]")
                destinations = []
            for d in destinations:
                self.destination(d, f"{where}.destinations")
            if CONNECT_DESTINATION in destinations:
                self.connect_name(raw.get("name"), destinations, f"{where}.destinations")
            out.append(Contact(self.text_field(raw, where, "name"), str(role), tuple(destinations),
                               self.text_field(raw, where, "title", required=False)))
        return out

    def connect_name(self, name: object, destinations: list[str], path: str) -> None:
        """A `line:connect` contact is bound by name (`tracker line-connect NAME`): names must be unique."""
        if destinations.count(CONNECT_DESTINATION) > 1:
            self.error(path, f"\"{CONNECT_DESTINATION}\" is listed twice: once per contact is enough")
        if not isinstance(name, str) or not name.strip():
            return
        if name.strip() in self.connected:
            self.error(path, f"contact name '{name.strip()}' also has \"{CONNECT_DESTINATION}\" at"
                       f" {self.connected[name.strip()]}: LINE connect codes are issued by contact name,"
                       " so give each such contact its own name")
        else:
            self.connected[name.strip()] = path

    def destination(self, url: str, path: str) -> None:
        if error := destination_error(url):
            self.error(path, error)
        elif warning := destination_warning(url):
            self.warn(path, warning)

    def policy(self, raw: Any, path: str, base: ReminderPolicy) -> ReminderPolicy:
        if not isinstance(raw, dict):
            self.error(path, "'reminders' must be a table")
            return base
        self.unknown_keys(path, raw, POLICY_FIELDS)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            where = f"{path}.{key}"
            if key in POLICY_INT_LISTS:
                if not isinstance(value, list) or not all(
                        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
                    self.error(where, f"'{key}' must be a list of whole numbers of days above 0, e.g. [30, 7, 1]")
                else:
                    values[key] = tuple(sorted(set(value), reverse=True))
            elif key in POLICY_INTS:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    self.error(where, f"'{key}' must be a whole number, 0 or more")
                else:
                    values[key] = value
            elif key in POLICY_BOOLS:
                if not isinstance(value, bool):
                    self.error(where, f"'{key}' must be true or false")
                else:
                    values[key] = value
            elif key in POLICY_TIMES:
                parsed = _parse_time(value)
                if parsed is None:
                    self.error(where, f"'{key}' must be a time such as \"08:30\"")
                else:
                    values[key] = parsed
        merged = base.merged(values)
        if merged.send_from >= merged.send_until:
            self.error(path, f"send_from {merged.send_from:%H:%M} must be before send_until {merged.send_until:%H:%M}")
        return merged

    def measures(self, data: dict[str, Any], units: set[str], policy: ReminderPolicy) -> list[Measure]:
        out, seen, ob_seen = [], {}, {}  # type: ignore[var-annotated]
        for i, raw in enumerate(self.table_list(data, "measures")):
            path = f"measures[{i}]"
            self.unknown_keys(path, raw, MEASURE_FIELDS)
            code = self.code(raw, path, seen, "measure")
            unit = self.unit_ref(raw, path, units, required=True)
            oit = raw.get("oit")
            if oit is not None and (not isinstance(oit, str) or not _OIT.match(oit)):
                self.error(f"{path}.oit", f"OIT code {oit!r} must look like \"O10\" (letter O, then digits)")
                oit = None
            steps = raw.get("steps", [])
            if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
                self.error(f"{path}.steps", "'steps' must be a list of texts")
                steps = []
            obligations = []
            for j, ob in enumerate(self.table_list(raw, "obligations", path)):
                obligations.append(self.obligation(ob, f"{path}.obligations[{j}]", code, unit, units, policy, ob_seen))
            if not obligations:
                self.warn(path, f"measure '{code}' has no obligations: nothing will be tracked or reminded")
            out.append(Measure(code, self.text_field(raw, path, "title"), unit, oit, tuple(steps), tuple(obligations)))
        return out

    def obligation(self, raw: dict[str, Any], path: str, measure: str, measure_unit: str, units: set[str],
                   policy: ReminderPolicy, seen: dict[str, str]) -> Obligation:
        self.unknown_keys(path, raw, OBLIGATION_FIELDS)
        code = self.code(raw, path, seen, "obligation")
        unit = self.unit_ref(raw, path, units, required=False) or measure_unit
        rule: DueRule | None = None
        due = raw.get("due")
        if due is None:
            self.warn(path, f"obligation '{code}' has no deadline ('due'): it is listed but never reminded")
        elif not isinstance(due, dict):
            self.error(f"{path}.due", "'due' must be a table such as { kind = \"month\", month = 10 }")
        else:
            try:
                rule = rule_from_dict(due)
            except (RuleError, DateParseError) as exc:
                self.error(f"{path}.due", str(exc))
        ob_policy = self.policy(raw["reminders"], f"{path}.reminders", policy) if "reminders" in raw else policy
        evidence = raw.get("evidence", "required")
        if evidence not in ("required", "optional"):
            self.error(f"{path}.evidence",
                       f"'evidence' is \"required\" (the default) or \"optional\", not {evidence!r}")
        return Obligation(code, self.text_field(raw, path, "title"), measure, unit, rule, ob_policy,
                          self.text_field(raw, path, "done_when", required=False), evidence != "optional")

    def unit_ref(self, raw: dict[str, Any], path: str, units: set[str], *, required: bool) -> str:
        unit = self.text_field(raw, path, "unit", required=required)
        if unit and unit not in units:
            self.error(f"{path}.unit", f"unknown unit '{unit}': define it under [[units]] or use one of "
                       + ", ".join(sorted(units)))
        return unit

    def closures(self, data: dict[str, Any]) -> list[tuple[date, str]]:
        out = []
        for i, raw in enumerate(self.table_list(data, "closures")):
            path = f"closures[{i}]"
            self.unknown_keys(path, raw, CLOSURE_FIELDS)
            day = self.date_field(raw, path, "date")
            if day is not None:
                out.append((day, self.text_field(raw, path, "name", required=False) or "วันหยุดราชการเพิ่มเติม"))
        return out

    def actions(self, data: dict[str, Any], obligations: set[str], units: set[str], fy: int) -> list[Action]:
        out = []
        bounds = fiscal_year_bounds(fy) if fy else None
        for i, raw in enumerate(self.table_list(data, "actions")):
            path = f"actions[{i}]"
            self.unknown_keys(path, raw, ACTION_FIELDS)
            ob = self.text_field(raw, path, "obligation")
            if ob and ob not in obligations:
                self.error(f"{path}.obligation", f"unknown obligation '{ob}': use the code of an obligation"
                           " under [[measures.obligations]]")
            day = self.date_field(raw, path, "date")
            unit = self.unit_ref(raw, path, units, required=False) or None
            evidence = self.text_field(raw, path, "evidence", required=False)
            if evidence and not evidence.startswith(("http://", "https://")):
                self.error(f"{path}.evidence", "'evidence' must be a web link starting with https://")
            if day is None:
                continue
            if bounds is not None and day not in bounds:
                self.warn(f"{path}.date", f"action dated {format_thai_date(day)} ({day.isoformat()}) is outside"
                          f" fiscal year {fy} ({format_thai_date(bounds.start)} – {format_thai_date(bounds.end)}):"
                          " check the year; it is kept as written")
            out.append(Action(ob, day, evidence, self.text_field(raw, path, "note", required=False),
                              self.text_field(raw, path, "recorded_by", required=False) or "config",
                              None, raw.get("period"), unit))
        return out

    def date_field(self, raw: dict[str, Any], path: str, key: str) -> date | None:
        value = raw.get(key)
        where = f"{path}.{key}"
        if isinstance(value, date):  # a TOML date (or date-time) literal: C.E. by the format
            day = value.date() if isinstance(value, datetime) else value
            return _try(lambda: plausible(date(check_ce_year(day.year, day.month, day.day), day.month, day.day),
                                          day.isoformat()), lambda msg: self.error(where, msg))
        if isinstance(value, str):
            return _try(lambda: parse_date(value), lambda msg: self.error(where, msg))
        self.error(where, f"'{key}' is required: a date such as 2023-04-05 or \"5/4/2566\"")
        return None


def _try(make: Callable[[], date], report: Callable[[str], None]) -> date | None:
    try:
        return make()
    except DateParseError as exc:
        report(str(exc))
        return None


def _parse_time(value: Any) -> time | None:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and (m := _TIME.match(value)):
        return time(int(m[1]), int(m[2]))
    return None
