"""`tracker run`: the service. Migrates, loads the configuration, shows the status board, then runs the
sweeps until SIGTERM or Ctrl-C. `--once` runs one sweep of everything and exits (cron, tests)."""

from __future__ import annotations

import argparse
import logging
import time as _time
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine

from config.channel_secrets import channel_secret_warnings
from config.loader import load_config
from jobs.scheduler import Clock, MaskingFilter, Service, ServiceOptions, build_scheduler, run_forever
from notifiers.registry import Notifiers
from tracker.cli.basic import board, org_statuses
from tracker.cli.common import (
    EXIT_OK,
    Context,
    check_tracked,
    datetime_arg,
    now_utc,
    positive_seconds,
    today_bangkok,
    whole_number,
)
from tracker.cli.web import add_address
from tracker.domain.thaidate import BANGKOK, fiscal_year
from tracker.store.db import migrate, safe_url, session_scope
from tracker.store.line_quota import every_own_channel
from tracker.store.repo import first_fiscal_year, org_codes
from tracker.web import create_app
from tracker.web.serve import Background, server, url_of


def hhmm(text: str) -> time:
    try:
        hour, minute = text.split(":")
        return time(int(hour), int(minute))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a time of day: write it as 09:00") from None


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run the service: reminders, monthly digests, configuration reloads")
    p.add_argument("--once", action="store_true", help="one sweep of everything at --as-of, then exit")
    p.add_argument("--as-of", type=datetime_arg,
                   help="pretend the clock reads this at start (a demo or test of a past date); it then runs on")
    p.add_argument("--every", type=positive_seconds, default=60, metavar="SECONDS", help="plan and send every N s (60)")
    p.add_argument("--digest-every", type=positive_seconds, default=900, metavar="SECONDS",
                   help="check for a digest day every N s (900)")
    p.add_argument("--config-every", type=positive_seconds, default=30, metavar="SECONDS",
                   help="check the configuration files for edits every N s (30)")
    p.add_argument("--digest-hour", type=hhmm, default=time(9, 0), metavar="HH:MM",
                   help="Bangkok time from which the monthly digest goes out (09:00)")
    p.add_argument("--grace-days", type=whole_number, default=3,
                   help="after downtime, still send what fell due up to N days ago (3)")
    p.add_argument("--quiet-board", action="store_true", help="do not print the status board at start")
    p.add_argument("--no-web", action="store_true", help="do not serve the web app (another process does)")
    add_address(p)
    p.set_defaults(func=cmd_run)


def _clock(as_of: datetime | None) -> Clock:
    if as_of is None:
        return now_utc
    # A shifted clock: it starts at --as-of and then advances with real time.
    start = _time.monotonic()
    return lambda: as_of + timedelta(seconds=_time.monotonic() - start)


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    run_log = logging.getLogger("tracker")
    run_log.setLevel(logging.INFO)  # the one-line-per-sweep log is the service's output, not debug noise
    masking = MaskingFilter(ctx.settings)
    for handler in logging.getLogger().handlers:
        handler.addFilter(masking)
    options = ServiceOptions(every_seconds=args.every, digest_every_seconds=args.digest_every,
                             config_every_seconds=args.config_every, digest_hour=args.digest_hour,
                             grace_days=args.grace_days)
    engine = ctx.engine()
    before, after = migrate(engine)
    if before != after:
        ctx.print(f"database {safe_url(ctx.settings.database_url)}: migrated {before or 'empty'} → {after}")
    if args.as_of is not None:  # before the configuration is applied: a year off would create its occurrences
        _check_as_of(ctx, engine, args.as_of)
    with Notifiers(ctx.settings) as notifiers:
        service = Service(engine, ctx.settings, notifiers, options, _clock(args.as_of))
        check = service.config(force=True)
        for error in check.errors:
            ctx.print(error)
        with session_scope(engine) as session:
            for warning in channel_secret_warnings(every_own_channel(session).values(), ctx.settings.env):
                ctx.print(warning)
        if not args.quiet_board:
            _print_boards(ctx, service.clock())
        if args.once:
            counts = service.once()
            ctx.print(counts.line())
            return EXIT_OK
        web = None if args.no_web else _start_web(ctx, engine, args.host, args.port)
        _announce(ctx, options)
        try:
            run_forever(service, build_scheduler(service))
        finally:
            if web is not None:
                web.stop()
    return EXIT_OK


def _check_as_of(ctx: Context, engine: Engine, as_of: datetime) -> None:
    """Refuse an --as-of far from the fiscal years tracked: those of the database, or, on an empty one, of
    the configuration files about to be applied."""
    with session_scope(engine) as session:
        first = first_fiscal_year(session)
    if first is None:
        loaded = load_config(ctx.settings.config_paths)
        first = min((cfg.organisation.fiscal_year for cfg in loaded.orgs), default=None)
    if first is not None:
        check_tracked(first, today_bangkok(), flag="--as-of", day=as_of.astimezone(BANGKOK).date())


def _start_web(ctx: Context, engine: Engine, host: str, port: int) -> Background | None:
    """The web app in a thread. A taken port (a second `tracker run`, a `tracker web` already serving)
    is said and the reminders run on: they do not need this process's web server."""
    try:
        web = Background(server(create_app(ctx.settings, engine=engine), host, port)).start()
    except OSError as exc:
        ctx.print(f"web app not started on {host}:{port} ({exc.strerror}); reminders run on. Use --no-web"
                  " when another process serves it")
        return None
    ctx.print(f"web app on {url_of(web.server)} (links in messages use {ctx.settings.base_url})")
    return web


def _print_boards(ctx: Context, now: datetime) -> None:
    today = today_bangkok(now)
    with session_scope(ctx.engine()) as session:
        codes = org_codes(session)
    for code in codes:
        org, items = org_statuses(ctx, code, today, fiscal_year(today))
        ctx.print(board(org, items, today, fiscal_year(today), org.language))


def _announce(ctx: Context, options: ServiceOptions) -> None:
    where = "the local outbox folder " + str(ctx.settings.outbox_dir) if not ctx.settings.has_delivery_credentials \
        else "LINE/e-mail as configured"
    ctx.print(f"running: reminders every {options.every_seconds:g}s, monthly digest from "
              f"{options.digest_hour:%H:%M} on the first working day, configuration checked every "
              f"{options.config_every_seconds:g}s; sending to {where}. Stop with Ctrl-C.")
    ctx.out.flush()
