"""An organisation's own LINE account names the environment variables that hold its token and secret
(`[organisation.line]`). The global variables are read when the service starts; these are read at
start-up too, by `tracker check` and `tracker run`, so that an unreadable `*_FILE` is said at once,
with the organisation and its file, and not first found when its first push fails (then as a paused
channel). A warning, not an error: the other organisations, and this one's e-mail, carry on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from config.locate import locate
from config.model import LoadResult
from config.settings import read_secret
from tracker.domain.errors import Problem, SettingsError
from tracker.domain.model import LineChannel

FIELDS = ("token_env", "secret_env")


def unreadable(env: Mapping[str, str], channel: LineChannel) -> list[tuple[str, str]]:
    """(field, message) for each of the channel's variables whose `_FILE` cannot be read."""
    found = []
    for name in FIELDS:
        try:
            read_secret(env, getattr(channel, name))
        except SettingsError as exc:
            found.append((name, f"organisation '{channel.channel}', its own LINE account: {exc}"))
    return found


def channel_secret_problems(loaded: LoadResult, env: Mapping[str, str]) -> list[Problem]:
    """Warnings, located in each file, for the organisations' own LINE secrets that cannot be read."""
    problems = []
    for cfg in loaded.orgs:
        channel = cfg.organisation.line
        if channel is None:
            continue
        for name, message in unreadable(env, channel):
            field = f"organisation.line.{name}"
            problems.append(Problem(str(cfg.source), message, field=field, line=_line(cfg.source, field),
                                    severity="warning"))
    return problems


def channel_secret_warnings(channels: Iterable[LineChannel], env: Mapping[str, str]) -> list[str]:
    """The same, for channels read back from the database (`tracker run`, which has no files at hand)."""
    return [f"warning: {message}" for channel in channels for _, message in unreadable(env, channel)]


def _line(source: Path, field: str) -> int | None:
    try:
        return locate(source.read_text(encoding="utf-8"), field)
    except OSError:
        return None
