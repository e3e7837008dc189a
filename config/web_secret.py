"""The key that signs the web app's sessions and the action links in messages.

`TRACKER_SECRET_KEY` (or `TRACKER_SECRET_KEY_FILE`) in production. Without one (the embedded default,
a laptop trying the service), a random key is generated once and kept in the data folder, readable by
its owner only, so that the scheduler and the web process, and every restart, sign and check alike.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from config.settings import Secret, Settings

SECRET_ENV = "TRACKER_SECRET_KEY"
KEY_FILE_NAME = "secret_key"


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE_NAME


def web_secret_key(settings: Settings) -> Secret:
    """The configured key, or the one kept in the data folder (created on first use, atomically:
    two processes starting together end up with the same key)."""
    configured = settings.secret(SECRET_ENV)
    if configured:
        return configured
    path = key_file(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole to a private temporary file, then linked into place: link() fails when another
        # process won the race, and nobody ever reads a half-written key.
        temp = path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
        finally:
            temp.unlink()
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it (a new key is generated) or set {SECRET_ENV}")
    return Secret(key)
