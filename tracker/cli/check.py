"""`tracker check`: validate the configuration files and print every problem. Kept apart from the
database commands so that it imports neither SQLAlchemy nor Alembic (an admin runs it after each edit)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from config.channel_secrets import channel_secret_problems
from config.loader import LoadResult, load_config
from tracker.cli.common import EXIT_INVALID, EXIT_OK, Context


def register(sub: Any) -> None:
    p = sub.add_parser("check", help="validate configuration files (exit 2 with every error)")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the configured ones)")
    p.add_argument("--lang", choices=("th", "en"), default="th")
    p.set_defaults(func=cmd_check)


def print_problems(ctx: Context, loaded: LoadResult) -> None:
    for problem in loaded.problems:
        ctx.print(str(problem))


def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    loaded = load_config(args.paths or list(ctx.settings.config_paths))
    loaded.problems.extend(channel_secret_problems(loaded, ctx.settings.env))
    print_problems(ctx, loaded)
    if not loaded.ok:
        ctx.print(f"{len(loaded.errors)} error(s), {len(loaded.warnings)} warning(s): nothing was loaded;"
                  " fix the errors and run `tracker check` again")
        return EXIT_INVALID
    counts = ", ".join(f"{o.organisation.code}: {len(o.organisation.measures)} measures,"
                       f" {sum(1 for _ in o.organisation.obligations())} obligations, {len(o.actions)} actions"
                       for o in loaded.orgs)
    ctx.print(f"ok ({len(loaded.warnings)} warning(s)) — {counts}")
    return EXIT_OK
