"""Local outbox folder: `outbox:` or `outbox:<subdir>`, optionally `?for=<masked destination>`.

Each message becomes `<safe-key>.eml` (the email `build_email` makes) and `<safe-key>.json` (what a
chat channel would have sent). A fresh machine without credentials routes every destination here,
so a demo shows what would have gone out. Files are written atomically; the same key overwrites.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs

from notifiers.base import DeliveryError, Notifier, OutgoingMessage, Receipt
from notifiers.email import build_email, message_id
from tracker.domain.thaidate import BANGKOK

SAFE = re.compile(r"[A-Za-z0-9._-]{1,120}")
SUBDIR = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")


def safe_key(key: str) -> str:
    """A file name for `key`: the key itself when harmless, else a readable stem plus a short hash
    (so that keys differing only in unsafe characters never share a file)."""
    if SAFE.fullmatch(key) and not key.startswith("."):
        return key
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")[:100]
    return f"{stem}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]}"


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class OutboxNotifier(Notifier):
    """Write messages to files under `settings.outbox_dir` instead of sending them."""

    scheme = "outbox"

    @classmethod
    def destination_error(cls, url: str) -> str | None:
        subdir = url.partition(":")[2].partition("?")[0].strip("/")
        if not subdir or SUBDIR.fullmatch(subdir):
            return None
        return "an outbox destination is outbox: or outbox:<sub-folder> (letters, digits, '.', '_', '-', '/')"

    @classmethod
    def mask(cls, url: str) -> str:
        return url  # a folder name, and a `for=` that route_to_outbox wrote masked already

    def folder(self, destination: str) -> tuple[Path, str | None]:
        """The folder a destination writes to, and the (masked) destination it stands in for."""
        rest, _, query = destination.removeprefix("outbox:").partition("?")
        subdir = rest.strip("/")
        if subdir and not SUBDIR.fullmatch(subdir):
            raise DeliveryError(
                f"outbox sub-folder {subdir!r} may hold only letters, digits, '.', '_', '-' and '/'",
                permanent=True,
            )
        stands_for = parse_qs(query).get("for", [None])[0]
        folder = self.settings.outbox_dir / subdir if subdir else self.settings.outbox_dir
        # Imported here: the registry imports this module. `for=` may hold a raw destination when a
        # person wrote one; it is masked by its own channel.
        from notifiers.registry import mask_destination

        return folder, mask_destination(stands_for) if stands_for else None

    def send(self, destination: str, message: OutgoingMessage) -> Receipt:
        folder, stands_for = self.folder(destination)
        to_addr = stands_for.removeprefix("mailto:") if stands_for and stands_for.startswith("mailto:") else None
        mail = build_email(message, from_addr=self.settings.smtp_from, to_addr=to_addr, now=datetime.now(BANGKOK))
        record = {
            "key": message.key,
            "for": stands_for,
            "subject": message.subject,
            "text": message.text,
            "line_text": message.short_text,
            "html": message.html,
            "lang": message.lang,
            "message_id": message_id(message.key),
        }
        name = safe_key(message.key)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_atomically(folder / f"{name}.eml", mail.as_bytes())
            data = json.dumps(record, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
            write_atomically(folder / f"{name}.json", data)
        except OSError as exc:
            raise DeliveryError(
                f"could not write to the outbox folder {folder}: {exc.strerror or type(exc).__name__}",
                permanent=False,
            ) from None
        return Receipt(None, message_id(message.key), detail=str(folder / f"{name}.eml"))
