"""Web latency on the national database: 20 concurrent clients for 20 s against gunicorn.

    python -m bench.bench_web                      # 7,850 organisations, SQLite (temporary file)
    python -m bench.bench_web --orgs 500           # smaller, for a quick look
    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:55432/postgres python -m bench.bench_web
    python -m bench.bench_web --database national.sqlite3 --against /tmp/main-tree --seconds 40

The last compares this tree with other code in one run (a noisy machine treats both alike): `--against`
names a source tree (`git archive main | tar -x -C /tmp/main-tree`), each server gets its own copy of the
SQLite database, and the load alternates between them in `--rounds` (default 4); `--database` copies a
national database built before instead of building one (~35 s).

Builds the database as `bench_reminders` does (bench/national_db.py), starts `gunicorn` on loopback
(`--workers`, `--threads`), signs org00001's admin and a national viewer in (the session cookies a
one-time link leaves), and runs `--clients` threads for `--seconds`, each cycling through four requests:
the organisation board and an obligation page (the admin's, a different obligation each time), the
national overview of all organisations (the viewer's), each of the database's fiscal year, and an
action POST (through the JSON API, i.e. `store.actions.log_action`, the function every channel uses).
Prints p50/p95 per request, the request rate, the errors, the CPU time gunicorn used per request (from
/proc: unlike latency, it hardly depends on what else the machine runs) and the load average. Targets
on a 2-core machine: board p95 < 200 ms, action POST p95 < 300 ms, no errors.
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
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
from flask import Flask
from sqlalchemy import make_url

from bench import national_db
from tracker.store.db import open_engine, session_scope
from tracker.store.secrets_store import create_api_token

Request = Callable[[dict[str, requests.Session], int], requests.Response]


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
VIEWER = "mailto:viewer@nacc.example.go.th"  # a national viewer (TRACKER_VIEWERS), for the overview
VIEWERS_TOML = f'''
[[viewers]]
name = "national viewer"
scope = "national"
destinations = ["{VIEWER}"]
'''


def session_cookie(secret: str, destination: str = ADMIN) -> str:
    """The session cookie a one-time sign-in link leaves: Flask's signed session naming the person."""
    app = Flask("bench")
    app.secret_key = secret
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return str(serializer.dumps({"_user_id": destination, "_fresh": True}))


PAGES = (  # name, the boards blueprint's endpoint, its values ({i}: a different obligation each time), who reads
    ("org board", "boards.org_board", {"org": "org00001"}, "admin"),
    ("obligation page", "boards.obligation_page", {"org": "org00001", "code": "X{i}"}, "admin"),
    ("national overview", "boards.overview_page", {}, "viewer"),
)


def page_urls(base: str) -> dict[str, tuple[str, str]]:
    """name → (URL, who reads it), from the app's own routes: a renamed endpoint stops the bench (it used
    to fall back silently to other pages, and so never measured the overview)."""
    from config.settings import Settings
    from tracker.web import create_app

    app = create_app(Settings.from_env({"TRACKER_SECRET_KEY": SECRET, "DATABASE_URL": "sqlite://"}))
    rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    missing = [endpoint for _, endpoint, _, _ in PAGES if endpoint not in rules]
    if missing:
        raise SystemExit(f"the app has no endpoint {', '.join(missing)}: update PAGES in bench/bench_web.py")
    # The database's fiscal year, not today's: a page of a year without stored deadlines (the overview
    # of an empty year) costs nothing and would measure nothing.
    return {name: (base + _fill(rules[endpoint], values) + f"?fy={national_db.FY}", who)
            for name, endpoint, values, who in PAGES}


def getter(url: str, who: str) -> Request:
    """A GET of `url` by `who`'s session, with `{i}` standing for a different obligation each time."""
    return lambda sessions, i: sessions[who].get(url.replace("{i}", str(i % 40)), timeout=30)


def _fill(rule: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        rule = rule.replace(f"<{key}>", value).replace(f"<string:{key}>", value)
    return rule


def start_gunicorn(url: str, data_dir: Path, port: int, workers: int, threads: int,
                   code: Path | None = None, config: Path | None = None) -> subprocess.Popen[bytes]:
    """gunicorn serving the app on `url`; with `code`, the app as found in that source tree (a checkout
    of another commit, for a before/after comparison in one run) instead of the installed one; with
    `config`, gunicorn's settings file (server hooks: e.g. a profiler started in `pre_request`)."""
    viewers = data_dir / "viewers.toml"
    viewers.write_text(VIEWERS_TOML, encoding="utf-8")
    env = dict(os.environ, DATABASE_URL=url, TRACKER_DATA_DIR=str(data_dir), TRACKER_SECRET_KEY=SECRET,
               TRACKER_BASE_URL=f"http://127.0.0.1:{port}", TRACKER_VIEWERS=str(viewers))
    if code is not None:  # found before the installed (editable) package, whose finder comes last
        env["PYTHONPATH"] = str(code.resolve())
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    cmd = [gunicorn, "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
           "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "256",
           # pooled connections stay open between requests (gunicorn closes idle ones after 2 s by default,
           # and a client reusing one at that moment gets a reset, not an answer)
           "--keep-alive", "30", *(["--config", str(config)] if config else []), "tracker.web.wsgi:app"]
    process = subprocess.Popen(cmd, env=env, cwd=code)
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


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by gunicorn's master `pid` and its live workers, from /proc:
    a figure that does not depend on what else the machine is running, unlike latency."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def run_load(requests_by_name: dict[str, Request], clients: int, seconds: float,
             prepare: Callable[[], dict[str, requests.Session]]) -> dict[str, list[tuple[float, bool, int]]]:
    results: dict[str, list[tuple[float, bool, int]]] = defaultdict(list)
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    counter = itertools.count()

    def client(index: int) -> None:
        sessions = prepare()
        names = list(requests_by_name)
        turn = index
        while time.monotonic() < stop_at:
            name = names[turn % len(names)]
            turn += 1
            started = time.perf_counter()
            try:
                response = requests_by_name[name](sessions, next(counter))
                ok, status = response.status_code < 400, response.status_code
            except requests.RequestException as exc:
                ok, status = False, 0
                with lock:
                    failures[type(exc).__name__] += 1
            elapsed = time.perf_counter() - started
            with lock:
                results[name].append((elapsed, ok, status))
        for session in sessions.values():
            session.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        print("requests that got no answer (status 0): " + ", ".join(f"{n} {k}" for k, n in failures.items()))
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


@dataclass
class Side:
    """One server measured: the code it runs (None: this tree), its database, what it answered."""

    name: str
    code: Path | None
    url: str
    folder: Path  # its data folder (and, for a copied SQLite database, the copy)
    port: int = 0
    server: subprocess.Popen[bytes] | None = None
    results: dict[str, list[tuple[float, bool, int]]] = field(default_factory=lambda: defaultdict(list))
    cpu: float = 0.0
    client_cpu: float = 0.0  # this process's, sending the requests: it shares the machine's two cores


def sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def prepare_sides(url: str, against: Path | None) -> list[Side]:
    """This tree's server, and before it the one running `against`'s code: each on its own copy of the
    SQLite database, so that both start from the same rows (the posts of one do not reach the other)."""
    codes: list[tuple[str, Path | None]] = [("this tree", None)]
    if against is not None:
        codes.insert(0, (f"against {against}", against))
    source = sqlite_file(url)
    if against is not None and source is None:
        raise SystemExit("--against needs the SQLite database (each server gets its own copy):"
                         " unset BENCH_DATABASE_URL")
    sides = []
    for name, code in codes:
        folder = Path(tempfile.mkdtemp(prefix="bench-web-data-"))
        side_url = url
        if against is not None and source is not None:
            shutil.copyfile(source, folder / "national.sqlite3")
            side_url = f"sqlite:///{folder / 'national.sqlite3'}"
        sides.append(Side(name, code, side_url, folder))
    return sides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orgs", type=int, default=7850)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    # As the Procfile deploys it: two processes on two cores (each keeps its own caches of organisations,
    # statuses and board rows, so fewer processes hit them more), four threads each to overlap I/O.
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", nargs="*", help="request names to run (default all), e.g. 'action POST'")
    parser.add_argument("--database", type=Path,
                        help="a national SQLite database built before (copied, never changed) instead of building one")
    parser.add_argument("--against", type=Path, help="a source tree of other code (e.g. `git archive main`"
                        " unpacked) to serve too, alternating with this tree's in --rounds, on copies of one database")
    parser.add_argument("--rounds", type=int, default=None, help="alternations with --against (default 4)")
    parser.add_argument("--gunicorn-config", type=Path,
                        help="a gunicorn settings file for every server (e.g. hooks that profile each request)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (4 if args.against else 1)

    started = time.perf_counter()
    built: Path | None = None
    if args.database is not None:
        built = Path(tempfile.mkdtemp(prefix="bench-web-"))
        shutil.copyfile(args.database, built / "national.sqlite3")
        url = f"sqlite:///{built / 'national.sqlite3'}"
        print(f"database: a copy of {args.database} ({time.perf_counter() - started:.1f} s)")
    else:
        url, counts = fresh_database(os.environ.get("BENCH_DATABASE_URL"), args.orgs)
        found = sqlite_file(url)
        built = found.parent if found is not None else None
        print(f"database: {counts['organisations']} organisations, {counts['occurrences']} occurrences"
              f" ({time.perf_counter() - started:.1f} s)")
    org = "org00001"
    token = api_token(url, org)
    sides = prepare_sides(url, args.against)
    auth = {"Authorization": f"Bearer {token}"}
    cookies = {"admin": session_cookie(SECRET, ADMIN), "viewer": session_cookie(SECRET, VIEWER)}

    def prepare() -> dict[str, requests.Session]:
        sessions = {who: requests.Session() for who in ("admin", "viewer", "api")}
        for who, cookie in cookies.items():
            sessions[who].cookies.set("session", cookie, domain="127.0.0.1")
        return sessions

    met = True
    try:
        for side in sides:
            side.port = free_port()
            side.server = start_gunicorn(side.url, side.folder, side.port, args.workers, args.threads, side.code,
                                         args.gunicorn_config)
        print(f"gunicorn: {args.workers} workers × {args.threads} threads; {args.clients} clients for"
              f" {args.seconds:.0f} s per server" + (f", in {rounds} rounds alternating" if len(sides) > 1 else ""))
        load_of: dict[str, dict[str, Request]] = {}
        for side in sides:
            base = f"http://127.0.0.1:{side.port}"
            pages = page_urls(base)
            requests_by_name: dict[str, Request] = {name: getter(u, who) for name, (u, who) in pages.items()}
            requests_by_name["action POST"] = lambda s, i, base=base: s["api"].post(  # type: ignore[misc]
                f"{base}/api/v1/organisations/{org}/actions", headers=auth, timeout=30,
                json={"obligation": f"X{i % 40}", "date": "2023-03-01", "evidence": f"https://{org}.example.go.th/{i}"})
            if args.only:
                requests_by_name = {k: v for k, v in requests_by_name.items() if k in args.only}
            load_of[side.name] = requests_by_name
            # Warm-up, not measured: every worker reads each page once (templates compiled, the organisation
            # and the national overview cached), as a server that has been up a minute has.
            run_load({k: v for k, v in requests_by_name.items() if k != "action POST"}, args.workers * args.threads,
                     3.0, prepare)
        loads = [" ".join(f"{v:.2f}" for v in os.getloadavg())]
        for _ in range(rounds):
            for side in sides:
                assert side.server is not None
                requests_by_name = load_of[side.name]
                cpu_before, client_before = server_cpu_seconds(side.server.pid), time.process_time()
                for name, rows in run_load(requests_by_name, args.clients, args.seconds / rounds, prepare).items():
                    side.results[name].extend(rows)
                side.cpu += server_cpu_seconds(side.server.pid) - cpu_before
                side.client_cpu += time.process_time() - client_before
            loads.append(" ".join(f"{v:.2f}" for v in os.getloadavg()))
        print(f"load average (1, 5, 15 min) before and after each round: {' | '.join(loads)}")
        per_request = []
        for side in sides:
            served = sum(len(r) for r in side.results.values())
            per_request.append(1000 * side.cpu / max(served, 1))
            client = 1000 * side.client_cpu / max(served, 1)
            print(f"\n{side.name}: server CPU {side.cpu:.1f} s for {served} requests"
                  f" = {per_request[-1]:.1f} ms a request (the clients' {client:.1f} ms)")
            met = report(side.results, args.seconds, {"org board": 200, "action POST": 300}) and met
        if len(sides) > 1:
            print(f"\nserver CPU per request, this tree / against: {per_request[-1] / per_request[0]:.2f}")
            for name in sides[-1].results:
                p95s = [percentile(sorted(r[0] * 1000 for r in side.results[name]), 95) for side in sides]
                print(f"  {name:<20} p95 {p95s[0]:.0f} ms → {p95s[-1]:.0f} ms")
    finally:
        for side in sides:
            if side.server is not None:
                side.server.send_signal(signal.SIGTERM)
                side.server.wait(timeout=30)
            shutil.rmtree(side.folder, ignore_errors=True)
        if built is not None:
            shutil.rmtree(built, ignore_errors=True)
    return 0 if met or args.against else 1


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.exit(main())
