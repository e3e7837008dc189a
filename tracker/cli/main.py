"""The `tracker` command. Each subcommand lives in its own module and registers itself here.

Start-up stays quick: `COMMANDS` says which module registers each command, so `tracker --help` lists
them without importing any (they import SQLAlchemy, Alembic, requests…) and a command imports only its
own module. `tests/test_cli_startup.py` checks that the table and the modules agree.

Failures end in one or two lines and an exit code: 2 for input a person can correct (arguments,
environment, files), 1 for what is unavailable (a database server down, a lock held too long) or
unexpected. `--debug` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from config.settings import Settings
from tracker.cli.common import EXIT_BROKEN_PIPE, EXIT_FAILURE, Context, Parser
from tracker.domain.errors import TrackerError, UnavailableError

# command → (module under tracker.cli that registers it, the line `tracker --help` shows), in help order.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("basic", "create or migrate the database"),
    "check": ("check", "validate configuration files (exit 2 with every error)"),
    "sync": ("basic", "load the configuration into the database (all or nothing)"),
    "status": ("basic", "the status of every deadline of a fiscal year"),
    "log": ("basic", "record an action: work done for an obligation"),
    "actions": ("basic", "list logged actions"),
    "import-report": ("import_report", "import a progress report (.txt tab-separated or .docx)"),
    "report": ("report", "write the progress report of a round (tsv, html or docx)"),
    "remind": ("remind", "plan and send the reminders due now (or at --as-of)"),
    "outbox": ("remind", "list outbox messages, or `outbox retry ID` to send one again"),
    "send-test": ("remind", "send a test message to a destination URL (line://…, mailto:…)"),
    "run": ("run", "run the service: reminders, monthly digests, configuration reloads"),
    "web": ("web", "serve the web app (officers' links, sign-in, boards)"),
    "login-link": ("weblinks", "print a one-time sign-in link (e-mail, LINE ID or contact name)"),
    "links": ("weblinks", "revoke every action link a contact holds (`links revoke`)"),
    "digest": ("digest", "preview or queue the monthly digest to the executives"),
    "simulate": ("simulate", "replay a period with a simulated clock: what would have been sent"),
    "api-token": ("trail", "bearer tokens for the JSON API: create, list, revoke"),
    "feed": ("trail", "secret calendar (iCalendar) URLs per organisation or unit"),
    "withdraw": ("trail", "withdraw an action logged by mistake (it stays in the history)"),
    "correct": ("trail", "correct an action: the old one is withdrawn, the new one names it"),
    "handover": ("trail", "hand a person's reminders to a colleague while on leave"),
    "audit": ("trail", "the audit trail of an organisation, newest first"),
    "evidence": ("evidence", "check evidence links (`check`), or list the broken ones (`list`)"),
    "line-connect": ("line", "a one-time code that connects a contact's LINE chat (valid 7 days)"),
    "line-bindings": ("line", "contacts that should get LINE and whether they are connected"),
}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"tracker.cli.{name}")


def _requested(argv: Sequence[str]) -> str | None:
    """The command named on the command line (the first word that is not an option), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser with every command; given `argv`, only the requested command is fully registered (its
    module imported) and the others are listed by name and help line."""
    parser = Parser(
        prog="tracker",
        description="ITA Tracker: deadlines and reminders for the ITA measures of Thai local governments.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (to stderr)")
    parser.add_argument("--debug", action="store_true", help="on a failure, show the traceback too")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    requested = _requested(argv) if argv is not None else None
    wanted = {COMMANDS[requested][0]} if requested in COMMANDS else None if argv is None else set()
    registered: set[str] = set()
    for command, (module, help_line) in COMMANDS.items():
        if wanted is None or module in wanted:
            if module not in registered:
                command_module(module).register(subparsers)
                registered.add(module)
        else:
            subparsers.add_parser(command, help=help_line)
    return parser


def main(argv: Sequence[str] | None = None, ctx: Context | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(words).parse_args(words)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    err = ctx.err if ctx is not None else sys.stderr
    try:
        ctx = ctx or Context(Settings.from_env())
        return int(args.func(args, ctx))
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:  # the reader stopped early (`tracker status | head`): not an error to report
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        if args.debug:
            traceback.print_exc(file=err)
        problem = exc if isinstance(exc, TrackerError) else explain(exc, ctx)
        print(f"error: {problem}", file=err)
        return problem.exit_code
    finally:
        if ctx is not None:
            ctx.close()


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not raise again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (tests give a StringIO)
        pass


def explain(exc: Exception, ctx: Context | None) -> TrackerError:
    """An unexpected exception as one line: a database failure as the storage layer words it, anything
    else by its type and first line, secrets masked, with the way to see more."""
    if ctx is not None and "sqlalchemy" in sys.modules:
        from tracker.store.db import database_error

        known = database_error(exc, ctx.settings.database_url)
        if known is not None:
            return known
    first = (str(exc).strip().splitlines() or [""])[0]
    if ctx is not None:
        from notifiers.masking import mask_secrets

        first = mask_secrets(first, [ctx.settings.line_token, ctx.settings.smtp_password,
                                     ctx.settings.secret(ctx.settings.webhook_secret_env),
                                     _database_password(ctx.settings.database_url)])
    return UnavailableError(f"unexpected {type(exc).__name__}: {first[:300]} — run again with --debug to see"
                            " where it failed, and report it")


def _database_password(url: str) -> str | None:
    """The password in DATABASE_URL, to mask it wherever a message might repeat the URL."""
    _, at, _ = url.partition("@")
    userinfo = url.split("://", 1)[-1].split("@", 1)[0] if at else ""
    return userinfo.partition(":")[2] or None


if __name__ == "__main__":
    sys.exit(main())
