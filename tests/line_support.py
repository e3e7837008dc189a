"""Helpers for the LINE connection tests: the sample with `line:connect` destinations instead of the
invented IDs, synced into a database, and settings wired to the fake LINE server and SMTP."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from config.loader import LoadResult, load_config
from config.settings import SAMPLE_CONFIG_DIR, Settings
from tests.fakes.line_server import FakeLineServer
from tests.fakes.plugin import notifier_env
from tests.fakes.smtp_server import SmtpServer
from tests.fixtures_reminders import SYNCED_AT
from tracker.store.db import session_scope
from tracker.store.repo import sync_organisation

OFFICER = "เจ้าหน้าที่ผู้รับผิดชอบ สำนักปลัด"
MAYOR = "นายกเทศมนตรีตำบลมะค่า"
OFFICER_ID = "U" + "1a2b3c4d" * 4
GROUP_ID = "C" + "9f8e7d6c" * 4


def connect_sample(folder: Path) -> Path:
    """The sample file with the officer's and the mayor's group's LINE as `line:connect`."""
    text = (SAMPLE_CONFIG_DIR / "makha.toml").read_text(encoding="utf-8")
    text = text.replace("line://U0123456789abcdef0123456789abcdef", "line:connect")
    text = text.replace("line://Cfedcba9876543210fedcba9876543210", "line:connect")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "makha.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_connect_sample(folder: Path) -> LoadResult:
    loaded = load_config([connect_sample(folder)])
    assert loaded.ok, [str(p) for p in loaded.errors]
    return loaded


def sync(engine: Engine, loaded: LoadResult) -> None:
    with session_scope(engine) as session:
        for cfg in loaded.orgs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2566)


def line_settings(line: FakeLineServer, smtp: SmtpServer | None, tmp_path: Path, **extra: str) -> Settings:
    env = notifier_env(line=line, smtp=smtp, outbox_dir=tmp_path / "outbox",
                       LINE_CHANNEL_SECRET=line.channel_secret, **extra)
    return Settings.from_env(env)
