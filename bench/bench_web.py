"""Web latency on the national database: 20 concurrent clients for 20 s against gunicorn.

    python -m bench.bench_web                      # 7,850 organisations, SQLite (temporary file)
    python -m bench.bench_web --orgs 500           # smaller, for a quick look
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:55432/postgres python -m bench.bench_web

Builds the database as `bench_reminders` does (bench/national_db.py), starts `gunicorn` on loopback
(`--workers`, `--threads`), signs a viewer in, and runs `--clients` threads for `--seconds`, each cycling
through the four requests an office makes most: the organisation board, an obligation page, the
national overview and an action POST (a different organisation's obligation each time, through the JSON
API, i.e. `store.actions.log_action`, the function every channel uses). Prints p50/p95 per request, the
request rate and the errors. Targets on a 2-core machine: board p95 < 200 ms, action POST p95 < 300 ms,
no errors.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests
from flask import Flask

from bench import national_db
from tracker.store.db import open_engine, session_scope
from tracker.store.secrets_store import create_api_token

Request = Callable[[requests.Session, int], requests.Response]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_database(url: str | None, orgs: int) -> tuple[str, dict[str, int]]:
    engine = national_db.empty_database(url, "bench-web-")
    url = engine.url.render_as_string(hide_password=False)
    counts = national_db.build(engine, orgs)
    engine.dispose()
    return url, counts


def api_token(url: str, org: str) -> str:
    engine = open_engine(url)
    try:
        with session_scope(engine) as session:
            return create_api_token(session, org, "bench", datetime.now(UTC), actor="bench")[1]
    finally:
        engine.dispose()


SECRET = "bench-secret-key"
ADMIN = "mailto:a1@ex.go.th"  # org00001's admin in bench/national_db.py


def session_cookie(secret: str, destination: str = ADMIN) -> str:
    """The session cookie a one-time sign-in link leaves: Flask's signed session naming the person."""
    app = Flask("bench")
    app.secret_key = secret
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return str(serializer.dumps({"_user_id": destination, "_fresh": True}))


def page_urls(base: str, org: str) -> dict[str, str]:
    """The pages to load, by the app's own routes: the boards when the app has them, else the JSON API's
    occurrence list (the same status query) and the obligation's history page."""
    from config.settings import Settings
    from tracker.web import create_app

    app = create_app(Settings.from_env({"TRACKER_SECRET_KEY": SECRET, "DATABASE_URL": "sqlite://"}))
    rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    found: dict[str, str] = {}
    for name, endpoint, values in (("org board", "boards.organisation", {"org": org}),
                                   ("obligation page", "boards.obligation", {"org": org, "code": "X{i}"}),
                                   ("overview", "boards.overview", {})):
        if endpoint in rules:
            found[name] = base + _fill(rules[endpoint], values)
    found.setdefault("org board (API)", f"{base}/api/v1/organisations/{org}/occurrences")
    found.setdefault("obligation page", f"{base}/trail/{org}/obligations/X{{i}}")
    return found


def getter(url: str, headers: dict[str, str]) -> Request:
    """A GET of `url`, with `{i}` standing for a different obligation each time."""
    return lambda session, i: session.get(url.replace("{i}", str(i % 40)), headers=headers, timeout=30)


def _fill(rule: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        rule = rule.replace(f"<{key}>", value).replace(f"<string:{key}>", value)
    return rule


def start_gunicorn(url: str, data_dir: Path, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATABASE_URL=url, TRACKER_DATA_DIR=str(data_dir), TRACKER_SECRET_KEY="bench-secret-key",
               TRACKER_BASE_URL=f"http://127.0.0.1:{port}")
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    cmd = [gunicorn, "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
           "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "256", "tracker.web.wsgi:app"]
    process = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=10).ok:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.5)
    process.terminate()
    process.wait(timeout=30)
    raise RuntimeError("gunicorn did not answer within 120 s")


def run_load(requests_by_name: dict[str, Request], clients: int, seconds: float,
             prepare: Callable[[requests.Session], None]) -> dict[str, list[tuple[float, bool, int]]]:
    results: dict[str, list[tuple[float, bool, int]]] = defaultdict(list)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    counter = itertools.count()

    def client(index: int) -> None:
        session = requests.Session()
        prepare(session)
        names = list(requests_by_name)
        turn = index
        while time.monotonic() < stop_at:
            name = names[turn % len(names)]
            turn += 1
            started = time.perf_counter()
            try:
                response = requests_by_name[name](session, next(counter))
                ok, status = response.status_code < 400, response.status_code
            except requests.RequestException:
                ok, status = False, 0
            elapsed = time.perf_counter() - started
            with lock:
                results[name].append((elapsed, ok, status))
        session.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def percentile(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def report(results: dict[str, list[tuple[float, bool, int]]], seconds: float,
           targets: dict[str, float]) -> bool:
    print(f"{'request':<22} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'errors':>7}  target p95")
    met = True
    for name, rows in results.items():
        times = sorted(r[0] * 1000 for r in rows)
        errors = sum(1 for r in rows if not r[1])
        target = targets.get(name)
        p95 = percentile(times, 95)
        verdict = "" if target is None else (f"< {target:.0f} ms " + ("ok" if p95 < target else "MISSED"))
        met &= (target is None or p95 < target) and errors == 0
        codes = sorted({r[2] for r in rows if not r[1]})
        print(f"{name:<22} {len(rows):>6} {percentile(times, 50):>8.1f} {p95:>8.1f} {times[-1]:>8.1f} {errors:>7}  "
              f"{verdict}{' codes ' + str(codes) if codes else ''}")
    total = sum(len(r) for r in results.values())
    print(f"{total} requests in {seconds:.0f} s: {total / seconds:.0f} requests/s")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=7850)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", nargs="*", help="request names to run (default all), e.g. 'action POST'")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    url, counts = fresh_database(os.environ.get("BENCH_DATABASE_URL"), args.orgs)
    print(f"database: {counts['organisations']} organisations, {counts['occurrences']} occurrences"
          f" ({time.perf_counter() - started:.1f} s)")
    org = "org00001"
    token = api_token(url, org)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-web-data-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_gunicorn(url, data_dir, port, args.workers, args.threads)
    auth = {"Authorization": f"Bearer {token}"}
    cookie = session_cookie(os.environ.get("TRACKER_SECRET_KEY", SECRET))
    try:
        pages = page_urls(base, org)
        requests_by_name: dict[str, Request] = {
            name: getter(url, auth if "/api/" in url else {}) for name, url in pages.items()}
        requests_by_name["action POST"] = lambda s, i: s.post(
            f"{base}/api/v1/organisations/{org}/actions", headers=auth, timeout=30,
            json={"obligation": f"X{i % 40}", "date": "2023-03-01", "evidence": f"https://{org}.example.go.th/{i}"})
        if args.only:
            requests_by_name = {k: v for k, v in requests_by_name.items() if k in args.only}
        for name, url in pages.items():
            print(f"{name}: {url}")

        def prepare(session: requests.Session) -> None:
            session.cookies.set("session", cookie, domain="127.0.0.1")

        print(f"gunicorn: {args.workers} workers × {args.threads} threads; {args.clients} clients for"
              f" {args.seconds:.0f} s")
        results = run_load(requests_by_name, args.clients, args.seconds, prepare)
        met = report(results, args.seconds, {"org board": 200, "org board (API)": 200, "action POST": 300})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if met else 1


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.exit(main())
