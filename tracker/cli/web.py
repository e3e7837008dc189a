"""`tracker web`: serve only the web app (migrating the database first). `tracker run` serves it too."""

from __future__ import annotations

import argparse
from typing import Any

from tracker.cli.common import EXIT_OK, Context
from tracker.store.db import migrate
from tracker.web import create_app
from tracker.web.serve import DEFAULT_HOST, DEFAULT_PORT, server, url_of


def register(sub: Any) -> None:
    p = sub.add_parser("web", help="serve the web app (officers' links, sign-in, boards)")
    add_address(p)
    p.set_defaults(func=cmd_web)


def add_address(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on ({DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")


def cmd_web(args: argparse.Namespace, ctx: Context) -> int:
    engine = ctx.engine()
    migrate(engine)
    srv = server(create_app(ctx.settings, engine=engine), args.host, args.port)
    ctx.print(f"web app on {url_of(srv)} (links in messages use {ctx.settings.base_url}). Stop with Ctrl-C.")
    ctx.out.flush()
    try:
        srv.serve_forever()
    finally:
        srv.server_close()
    return EXIT_OK
