"""Two organisations in one database: the Makha sample and a neighbour under another code, whose data a
person or token of Makha must never reach."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from config.loader import load_config
from tests.conftest import SAMPLE
from tracker.domain.thaidate import BANGKOK
from tracker.store.db import session_scope
from tracker.store.repo import sync_organisation

NOW = datetime(2023, 4, 30, 10, 0, tzinfo=BANGKOK)
SYNCED_AT = datetime(2022, 10, 1, 1, 0, tzinfo=BANGKOK)


def second_org(tmp_path: Path) -> Path:
    """Tambon Makha's file under the code `nongbua`."""
    text = SAMPLE.read_text(encoding="utf-8").replace('code = "makha"', 'code = "nongbua"', 1)
    path = tmp_path / "nongbua.toml"
    path.write_text(text, encoding="utf-8")
    return path


def sync_two(engine: Engine, tmp_path: Path) -> None:
    loaded = load_config([SAMPLE, second_org(tmp_path)])
    assert loaded.ok, loaded.errors
    with session_scope(engine) as session:
        for cfg in loaded.orgs:
            sync_organisation(session, cfg, SYNCED_AT, through_fy=2566)
