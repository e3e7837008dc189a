"""`tracker simulate`: the timeline of every reminder and digest a period would have produced."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from jobs.simulate import Simulation, org_config, simulate
from tracker.cli.common import EXIT_OK, Context, add_format, check_tracked, date_arg, today_bangkok
from tracker.domain.errors import TrackerError
from tracker.domain.model import Action
from tracker.domain.thaidate import format_date
from tracker.store.db import is_up_to_date, session_scope
from tracker.store.repo import list_actions, org_codes


def register(sub: Any) -> None:
    p = sub.add_parser("simulate", help="replay a period with a simulated clock: what would have been sent")
    p.add_argument("--org", required=True, help="organisation code")
    p.add_argument("--from", dest="start", type=date_arg, required=True, help="first day (2022-10-01)")
    p.add_argument("--to", dest="end", type=date_arg, required=True, help="last day (2023-09-30)")
    add_format(p, "json")
    p.set_defaults(func=cmd_simulate)


def stored_actions(ctx: Context, code: str) -> list[Action] | None:
    """The actions in the service's database (config and `tracker log` ones), or None when the database
    does not know the organisation yet (then the configuration file's actions are used)."""
    engine = ctx.engine()
    try:
        if not is_up_to_date(engine):
            return None
        with session_scope(engine) as session:
            if code not in org_codes(session):
                return None
            return [s.action for s in list_actions(session, code) if s.source != "simulation"]
    except Exception:
        return None


def cmd_simulate(args: argparse.Namespace, ctx: Context) -> int:
    if args.end < args.start:
        raise TrackerError("--to is before --from")
    first = org_config(ctx.settings, args.org).organisation.fiscal_year
    check_tracked(first, today_bangkok(), flag="--from", day=args.start)
    check_tracked(first, today_bangkok(), flag="--to", day=args.end)
    sim = simulate(ctx.settings, args.org, args.start, args.end, actions=stored_actions(ctx, args.org))
    if args.format == "json":
        ctx.print_json({"org": sim.org, "from": sim.start.isoformat(), "to": sim.end.isoformat(),
                        "events": [e.to_json() for e in sim.events]})
    else:
        ctx.print(timeline(sim))
    return EXIT_OK


def timeline(sim: Simulation) -> str:
    lines = []
    for e in sim.events:
        lines.append(f"{e.at:%Y-%m-%d %H:%M} ({format_date(e.at.date(), 'th', style='short')})  {e.kind:<8} "
                     f"{e.obligation or '-':<8} {e.stage:<18} → {e.recipient} <{e.destination}>")
        if len(e.items) > 1:  # a bundle: every reminder it carries, most urgent first
            lines.append("      one message with: " + ", ".join(f"{o} {s}" for o, s, _ in e.items))
    counts = Counter(e.kind for e in sim.events)
    lines.append(f"{len(sim.events)} message(s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                 + f" — {sim.moments} moments replayed in {sim.seconds:.1f}s")
    return "\n".join(lines)
