"""The app factory: pages in Thai by default and English on request, error pages, the signing key
kept in the data folder, and `tracker run` serving the app (a real process)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sqlalchemy import Engine

from config.settings import Settings
from config.web_secret import key_file, web_secret_key
from tests.web_support import make_app

REPO = Path(__file__).resolve().parents[1]


def test_home_is_thai_by_default_and_english_on_request(sqlite_engine: Engine, tmp_path: Path) -> None:
    client = make_app(sqlite_engine, tmp_path).test_client()
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="th">' in page.text and "เข้าสู่ระบบ" in page.text
    english = client.get("/?lang=en")
    assert '<html lang="en">' in english.text and "Sign in" in english.text
    assert '<html lang="en">' in client.get("/").text  # remembered in a cookie


def test_unknown_page_is_a_thai_404(sqlite_engine: Engine, tmp_path: Path) -> None:
    page = make_app(sqlite_engine, tmp_path).test_client().get("/no/such/page")
    assert page.status_code == 404 and "ไม่พบหน้านี้" in page.text


def test_secret_key_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings.from_env({"TRACKER_DATA_DIR": str(tmp_path)})
    first = web_secret_key(settings)
    assert web_secret_key(settings) == first
    assert len(first.reveal()) >= 48
    assert os.stat(key_file(settings)).st_mode & 0o077 == 0
    assert "****" in repr(first)


def test_configured_secret_key_wins(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("from-a-file\n", encoding="utf-8")
    settings = Settings.from_env({"TRACKER_DATA_DIR": str(tmp_path), "TRACKER_SECRET_KEY_FILE": str(tmp_path / "key")})
    assert web_secret_key(settings).reveal() == "from-a-file"
    assert not key_file(settings).exists()


def test_base_url_default_and_configured() -> None:
    assert Settings.from_env({}).base_url == "http://127.0.0.1:8000"
    assert Settings.from_env({"TRACKER_BASE_URL": "https://ita.example.go.th/"}).base_url == "https://ita.example.go.th"


def test_procfile_runs_gunicorn_and_a_scheduler_without_web() -> None:
    lines = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines()
                 if line and not line.startswith("#"))
    assert lines["web"].startswith("gunicorn ") and "tracker.web.wsgi:app" in lines["web"]
    assert lines["scheduler"] == "tracker run --no-web"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tracker_run_serves_the_web_app_and_prints_its_url(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TRACKER_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)}
    env.pop("DATABASE_URL", None)
    log = tmp_path / "run.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "tracker.cli.main", "run", "--quiet-board", "--port",
                                    str(port), "--as-of", "2022-10-21T09:00:00+07:00"], cwd=tmp_path, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while url not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        with urllib.request.urlopen(url + "/", timeout=10) as response:
            assert response.status == 200
            assert re.search("ติดตามมาตรการ ITA", response.read().decode())
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
