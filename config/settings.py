"""Process settings, read once from the environment by the entry point and passed down.

Secrets are never stored here in plain sight: `Secret` masks itself in repr/str, and every secret may
come from `NAME` or from a file named by `NAME_FILE` (for container secrets).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tracker.domain.errors import SettingsError

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLE_CONFIG_DIR = PACKAGE_DIR / "orgs"
DEFAULT_DATA_DIR = Path("data")
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Secret:
    """A secret value that never prints. Use `.reveal()` at the one place it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def read_secret(env: Mapping[str, str], name: str) -> Secret | None:
    """`name` from the environment, or the content of the file named by `name_FILE`, or None."""
    if env.get(name):
        return Secret(env[name])
    path = env.get(f"{name}_FILE")
    if path:
        try:
            return Secret(Path(path).read_text(encoding="utf-8").strip())
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
            raise SettingsError(f"{name}_FILE names {path}, which cannot be read ({why}): point it at the file"
                                f" that holds the secret, or unset {name}_FILE") from None
    return None


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds from `name`, or `default` when unset."""
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{name}={text!r} is not a number of seconds: set it to a number above 0, e.g."
                            f" {name}={default:g}, or unset it")
    return value


def positive_count(env: Mapping[str, str], name: str) -> int | None:
    """A whole number of at least 1 from `name`, or None when unset."""
    text = env.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:  # isdigit: no sign, no point, no exponent
        raise SettingsError(f"{name}={text!r} is not a whole number of at least 1: set it to e.g. {name}=2, or"
                            " unset it")
    return int(text)


@dataclass(frozen=True)
class Settings:
    """Everything the process needs from its environment. Build with `Settings.from_env()`."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = ""
    config_paths: tuple[Path, ...] = (SAMPLE_CONFIG_DIR,)
    outbox_dir: Path = DEFAULT_DATA_DIR / "outbox"
    line_token_env: str = "LINE_CHANNEL_ACCESS_TOKEN"
    line_api_base: str = "https://api.line.me"
    line_notify_api_base: str = "https://notify-api.line.me"
    smtp_url: str | None = None
    smtp_from: str = "ita-tracker@localhost"
    webhook_secret_env: str = "WEBHOOK_SIGNING_SECRET"
    http_timeout_seconds: float = 10.0
    base_url: str = DEFAULT_BASE_URL  # where links in messages point (the web app)
    db_lock_timeout_seconds: float = 30.0
    digest_workers: int | None = None  # processes composing the national digest; None: one per core (at most 4)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("TRACKER_DATA_DIR", str(DEFAULT_DATA_DIR)))
        config = env.get("TRACKER_CONFIG")
        return cls(
            data_dir=data_dir,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'tracker.sqlite3'}",
            config_paths=tuple(Path(p) for p in config.split(os.pathsep)) if config else (SAMPLE_CONFIG_DIR,),
            outbox_dir=Path(env.get("TRACKER_OUTBOX_DIR", str(data_dir / "outbox"))),
            line_token_env=env.get("LINE_TOKEN_ENV", "LINE_CHANNEL_ACCESS_TOKEN"),
            line_api_base=env.get("LINE_API_BASE", "https://api.line.me").rstrip("/"),
            line_notify_api_base=env.get("LINE_NOTIFY_API_BASE", "https://notify-api.line.me").rstrip("/"),
            smtp_url=env.get("SMTP_URL") or None,
            smtp_from=env.get("SMTP_FROM", "ita-tracker@localhost"),
            http_timeout_seconds=seconds(env, "TRACKER_HTTP_TIMEOUT", 10.0),
            base_url=(env.get("TRACKER_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            db_lock_timeout_seconds=seconds(env, "TRACKER_DB_LOCK_TIMEOUT", 30.0),
            digest_workers=positive_count(env, "TRACKER_DIGEST_WORKERS"),
            env=env,
        )._checked()

    def _checked(self) -> Settings:
        """Fail at start, with the variable's name, on a `*_FILE` of a known secret that cannot be read,
        rather than at the first send."""
        for name in (self.line_token_env, "SMTP_PASSWORD", self.webhook_secret_env):
            read_secret(self.env, name)
        return self

    def secret(self, name: str) -> Secret | None:
        """A secret named by an environment variable (or its `_FILE` twin)."""
        return read_secret(self.env, name)

    @property
    def line_token(self) -> Secret | None:
        return self.secret(self.line_token_env)

    @property
    def smtp_password(self) -> Secret | None:
        return self.secret("SMTP_PASSWORD")

    @property
    def has_delivery_credentials(self) -> bool:
        """False on a fresh machine: then every message goes to the local outbox folder instead."""
        return bool(self.line_token or self.smtp_url)
