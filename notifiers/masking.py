"""Masking of secrets in free text, and the helpers channels use to mask their destinations
(Apprise's `url(privacy=True)`). Which helper applies to which destination is each channel's own
knowledge (`Notifier.mask`); `notifiers.registry.mask_destination` picks the channel."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from config.settings import Secret

MASK = "****"


def mask_secrets(text: str, secrets: Iterable[str | Secret | None]) -> str:
    """`text` with every occurrence of every known secret replaced by ****."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            text = text.replace(value, MASK)
    return text


def mask_id(value: str) -> str:
    """A long ID shortened to its head and tail."""
    return value if len(value) <= 9 else f"{value[:5]}…{value[-4:]}"


def mask_address(address: str) -> str:
    """name@example.org → n***@example.org."""
    local, at, domain = address.strip().partition("@")
    if not at:
        return MASK
    return f"{local[:1]}***@{domain}"


def mask_url(url: str) -> str:
    """Any URL safe to print: host and port kept; credentials, path, query and fragment hidden."""
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    if not colon:
        return MASK
    if rest.startswith("//"):
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port else "")
        if parts.username or parts.password:
            netloc = f"{MASK}@{netloc}"
        hidden = parts.path.strip("/") or parts.query or parts.fragment
        return f"{scheme}://{netloc}/{MASK}" if hidden else f"{scheme}://{netloc}"
    return f"{scheme}:{MASK}"
