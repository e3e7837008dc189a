"""Noticing edits to the admins' configuration files while `tracker run` is up.

A valid edit is synced (all or nothing, through `jobs.sync_config`) and takes effect at the next sweep,
because every sweep reads the organisation from the database. An invalid edit changes nothing: the
errors are logged and sent once to the admin contacts, and the service keeps the last good
configuration.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from config.loader import config_files
from jobs import sync_config
from tracker.domain.errors import Problem
from tracker.store.models import OrganisationRow
from tracker.store.outbox import NewMessage, destination_hash, enqueue, natural_key
from tracker.store.repo import load_organisation, org_row

log = logging.getLogger("tracker.config")

Stamp = tuple[tuple[str, int, int], ...]


@dataclass
class ConfigCheck:
    changed: bool
    ok: bool = True
    errors: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    alerts: int = 0


class ConfigWatcher:
    """Remembers what the files looked like at the last check.

    The cheap (name, mtime, size) stamp is read every sweep; the content hash only when the stamp moved,
    so that a `touch` or an editor's save without changes does not resync."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = tuple(paths)
        self._stamp: Stamp | None = None
        self._content: str | None = None

    def _read_stamp(self) -> Stamp:
        out = []
        for file in config_files(self.paths):
            try:
                st = file.stat()
            except OSError:
                out.append((str(file), -1, -1))
                continue
            out.append((str(file), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def _read_content(self) -> str:
        digest = hashlib.sha256()
        for file in config_files(self.paths):
            digest.update(str(file).encode() + b"\0")
            try:
                digest.update(file.read_bytes())
            except OSError:
                digest.update(b"<unreadable>")
        return digest.hexdigest()

    def poll(self) -> bool:
        """True when the content changed since the last `poll` (always true the first time)."""
        stamp = self._read_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        content = self._read_content()
        if content == self._content:
            return False
        self._content = content
        return True


def check(session: Session, watcher: ConfigWatcher, now: datetime, force: bool = False) -> ConfigCheck:
    """Sync the configuration if it changed (or `force`); alert the admins when it is invalid."""
    if not watcher.poll() and not force:
        return ConfigCheck(changed=False)
    result = sync_config.run_once(session, watcher.paths, now)
    if result.ok:
        for warning in result.loaded.warnings:
            log.warning("configuration: %s", warning)
        return ConfigCheck(changed=True, synced=[r.summary() for r in result.reports])
    errors = [str(p) for p in result.loaded.errors]
    for line in errors:
        log.error("configuration refused, keeping the last good one: %s", line)
    alerts = alert_admins(session, result.loaded.errors, now)
    return ConfigCheck(changed=True, ok=False, errors=errors, alerts=alerts)


def _affected_orgs(session: Session, problems: Sequence[Problem]) -> list[str]:
    """The organisations whose file has an error; every organisation when no file matches (a new file)."""
    rows = list(session.query(OrganisationRow.code, OrganisationRow.source))
    files = {p.file for p in problems}
    hit = [code for code, source in rows if source in files]
    return hit or [code for code, _ in rows]


def alert_text(problems: Sequence[Problem]) -> tuple[str, str]:
    lines = "\n".join(f"- {p}" for p in problems)
    subject = "การตั้งค่าระบบติดตาม ITA ไม่ถูกต้อง: ระบบยังใช้การตั้งค่าเดิม / configuration refused"
    text = ("ไฟล์การตั้งค่าที่แก้ไขล่าสุดมีข้อผิดพลาด ระบบจึงไม่นำมาใช้ และยังทำงานด้วยการตั้งค่าล่าสุดที่ถูกต้อง\n"
            "กรุณาแก้ไขแล้วตรวจสอบด้วยคำสั่ง `tracker check`\n\n"
            "The configuration edit has errors: nothing was applied and the service keeps running on the last"
            " good configuration. Fix the file and run `tracker check`.\n\n" + lines)
    return subject, text


def alert_admins(session: Session, problems: Sequence[Problem], now: datetime) -> int:
    """One alert per admin destination, keyed by a hash of the error text: the same broken file is
    reported once, however many sweeps (or processes) notice it."""
    subject, text = alert_text(problems)
    fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
    messages = []
    for code in _affected_orgs(session, problems):
        org = load_organisation(session, code)
        org_id = org_row(session, code).id
        for admin in org.admins:
            for destination in admin.destinations:
                key = natural_key("alert", "config", code, fingerprint, admin.name, destination_hash(destination))
                messages.append(NewMessage(
                    key=key, kind="alert", org_id=org_id, recipient=admin.name, destination=destination,
                    subject=subject, text=text, line_text=text, send_after=now))
    return enqueue(session, messages)
