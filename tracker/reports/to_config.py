"""Turn a parsed progress report into the organisation's TOML configuration, for an admin to review.

Units are matched by name to the organisation's existing configuration when there is one; its units
(with their contacts), executives, admins, reminder policy and closures are carried over, and only the
measures come from the report. Without one, unit codes are made up from the names.

The actions are *not* written into the TOML: they go to the database (source "import"), which is the
record of work done. Writing them in the file too would make `tracker sync` record them a second time
under the source "config".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from datetime import time
from typing import Any

import tomli_w

from tracker.domain.model import Action, Contact, Organisation, ReminderPolicy, Unit
from tracker.reports.parse import ParsedMeasure, ParsedReport, ReportWarning

# Codes for the units most Thai local governments have; any other name gets "unit<n>".
COMMON_UNIT_CODES: dict[str, str] = {
    "สำนักปลัด": "palad",
    "สำนักปลัดเทศบาล": "palad",
    "สำนักงานปลัด": "palad",
    "กองคลัง": "finance",
    "กองช่าง": "works",
    "กองการศึกษา": "education",
    "กองสาธารณสุขและสิ่งแวดล้อม": "health",
    "กองสวัสดิการสังคม": "welfare",
    "กองยุทธศาสตร์และงบประมาณ": "strategy",
    "กองการเจ้าหน้าที่": "personnel",
    "กองวิชาการและแผนงาน": "planning",
    "กองส่งเสริมการเกษตร": "agriculture",
    "หน่วยตรวจสอบภายใน": "audit",
}


@dataclass
class ImportPlan:
    """What an import would create: the TOML text, the actions keyed for the database, and warnings."""

    toml: str
    organisation_code: str
    unit_codes: dict[str, str]  # unit name → code
    actions: list[tuple[str, Action]] = field(default_factory=list)  # (source_key, action)
    warnings: list[ReportWarning] = field(default_factory=list)


def _norm(name: str) -> str:
    return re.sub(r"\s+", "", name)


def match_units(report: ParsedReport, existing: Organisation | None) -> tuple[dict[str, str], list[ReportWarning]]:
    """Unit name → unit code for every unit the report names (column 2 and actions).

    With an existing configuration, names are matched ignoring spaces; a name it does not know is a
    warning and gets a new code. Without one, codes come from COMMON_UNIT_CODES or are "unit<n>".
    """
    known = {_norm(u.name): u.code for u in existing.units} if existing else {}
    used = set(known.values())
    codes: dict[str, str] = {}
    warnings: list[ReportWarning] = []
    for row, column, name in _unit_mentions(report):
        if not name or name in codes:
            continue
        if _norm(name) in known:
            codes[name] = known[_norm(name)]
            continue
        code = COMMON_UNIT_CODES.get(_norm(name))
        n = 1
        while code is None or code in used:
            code, n = f"unit{n}", n + 1
        used.add(code)
        codes[name] = code
        if existing is not None:
            warnings.append(ReportWarning(row, column, name, f"unknown unit \"{name}\": it is not in {existing.code}'s"
                                          f" configuration; it is added as unit '{code}': check the name",
                                          f"ไม่รู้จักหน่วยงาน \"{name}\" ซึ่งไม่มีในการตั้งค่าของ {existing.code}"
                                          f" จึงเพิ่มเป็นหน่วยงานรหัส '{code}' โปรดตรวจสอบชื่อ"))
    return codes, warnings


def _unit_mentions(report: ParsedReport) -> list[tuple[int, int, str]]:
    out = [(m.row, 2, m.unit_name) for m in report.measures]
    out += [(m.row, 5, a.unit_name) for m in report.measures for a in m.actions]
    return out


def obligation_code(measure: ParsedMeasure, index: int) -> str:
    """"O10-1", "M03-4": the measure's code and the obligation's 1-based position."""
    return f"{measure.code}-{index}"


def build_config(report: ParsedReport, org_code: str, existing: Organisation | None = None) -> dict[str, Any]:
    """The configuration (as TOML-ready data) of `org_code` from `report`, keeping `existing`'s people."""
    codes, _ = match_units(report, existing)
    head: dict[str, Any] = {
        "code": org_code,
        "name": report.org_name or (existing.name if existing else org_code),
        "district": report.district or (existing.district if existing else "-"),
        "province": report.province or (existing.province if existing else "-"),
        "fiscal_year": report.fiscal_year,
        "language": existing.language if existing else "th",
    }
    data: dict[str, Any] = {"organisation": head}
    if existing is not None:
        if existing.admins:
            head["admins"] = [_contact(c) for c in existing.admins]
        data["reminders"] = _policy(existing.policy)
    data["units"] = _units(codes, existing)
    if existing is not None and existing.executives:
        data["executives"] = [_contact(c) for c in existing.executives]
    if existing is not None and existing.closures:
        data["closures"] = [{"date": d, "name": name} for d, name in existing.closures]
    data["measures"] = [_measure(m, codes) for m in report.measures]
    return data


def _units(codes: dict[str, str], existing: Organisation | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    existing_units: dict[str, Unit] = {u.code: u for u in existing.units} if existing else {}
    for unit in existing_units.values():
        entry: dict[str, Any] = {"code": unit.code, "name": unit.name}
        if unit.contacts:
            entry["contacts"] = [_contact(c) for c in unit.contacts]
        out.append(entry)
    for name, code in codes.items():
        if code not in existing_units:
            existing_units[code] = Unit(code, name)
            out.append({"code": code, "name": name})
    return out


def _contact(contact: Contact) -> dict[str, Any]:
    out: dict[str, Any] = {"name": contact.name, "role": contact.role}
    if contact.title:
        out["title"] = contact.title
    out["destinations"] = list(contact.destinations)
    return out


def _policy(policy: ReminderPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(policy):
        value = getattr(policy, f.name)
        out[f.name] = value.strftime("%H:%M") if isinstance(value, time) else (
            list(value) if isinstance(value, tuple) else value)
    return out


def _measure(measure: ParsedMeasure, codes: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"code": measure.code, "title": measure.title, "unit": codes[measure.unit_name]}
    if measure.oit:
        out["oit"] = measure.oit
    out["steps"] = list(measure.steps)
    obligations = []
    for i, ob in enumerate(measure.obligations, start=1):
        entry: dict[str, Any] = {"code": obligation_code(measure, i), "title": ob.text}
        if ob.rule is not None:
            entry["due"] = ob.rule.to_dict()
        obligations.append(entry)
    out["obligations"] = obligations
    return out


def config_toml(report: ParsedReport, org_code: str, existing: Organisation | None = None,
                source_name: str = "") -> str:
    """The TOML text: a comment header (source and every warning, so the admin reviews them) and data."""
    _, unit_warnings = match_units(report, existing)
    lines = [
        f"# {report.org_name}: มาตรการส่งเสริมคุณธรรมและความโปร่งใส ประจำปีงบประมาณ พ.ศ. {report.fiscal_year}",
        f"# Imported by `tracker import-report` from {source_name or 'a progress report'}: review it, then run"
        " `tracker check` and `tracker sync`.",
        "# Obligations without 'due' had no recognisable deadline in the report: they are listed, never reminded.",
        "# The actions of the report are recorded in the database, not in this file (see `tracker actions`).",
    ]
    warnings = [*report.warnings, *unit_warnings]
    if warnings:
        lines.append(f"# คำเตือนจากการนำเข้า {len(warnings)} รายการ:")
        lines += [f"#   {_one_line(w.describe('th'))}" for w in warnings]
    return "\n".join(lines) + "\n\n" + tomli_w.dumps(build_config(report, org_code, existing))


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def import_key(org_code: str, obligation: str, action: Action) -> str:
    """The natural key of an imported action: importing the same report twice adds nothing."""
    import hashlib

    digest = hashlib.sha256(_norm(action.note).encode("utf-8")).hexdigest()[:16]
    return f"import:{org_code}:{obligation}:{action.done_on.isoformat()}:{digest}"


def plan_import(report: ParsedReport, org_code: str, existing: Organisation | None = None,
                source_name: str = "") -> ImportPlan:
    """Everything an import writes, computed without writing: the TOML and the keyed actions.

    Actions without a date (already warned about) are left out; each other action is attached to the
    obligation the parser matched it to.
    """
    codes, unit_warnings = match_units(report, existing)
    plan = ImportPlan(config_toml(report, org_code, existing, source_name), org_code, codes,
                      warnings=[*report.warnings, *unit_warnings])
    for measure in report.measures:
        for parsed in measure.actions:
            if parsed.date is None or parsed.obligation is None:
                continue
            ob = obligation_code(measure, parsed.obligation)
            action = Action(ob, parsed.date, note=parsed.text, recorded_by="import",
                            unit=codes.get(parsed.unit_name))
            plan.actions.append((import_key(org_code, ob, action), action))
    return plan
