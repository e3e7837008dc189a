"""The `tracker` command. Each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from config.settings import Settings
from tracker.cli import basic, digest, evidence, import_report, remind, report, run, simulate, trail, web
from tracker.cli.common import EXIT_FAILURE, EXIT_INVALID, Context
from tracker.domain.errors import TrackerError

# An explicit list, in the order `tracker --help` shows them.
COMMAND_MODULES: tuple[ModuleType, ...] = (basic, import_report, report, remind, run, web, digest, simulate, trail,
                                           evidence)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tracker",
        description="ITA Tracker: deadlines and reminders for the ITA measures of Thai local governments.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, ctx: Context | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx = ctx or Context(Settings.from_env())
    try:
        return int(args.func(args, ctx))
    except TrackerError as exc:
        print(f"error: {exc}", file=ctx.err)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_FAILURE
    finally:
        ctx.close()


if __name__ == "__main__":
    sys.exit(main())
