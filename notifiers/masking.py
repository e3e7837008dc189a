"""Masking of secrets in destinations and free text (Apprise's `url(privacy=True)`, done once)."""

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


def _mask_id(value: str) -> str:
    return value if len(value) <= 9 else f"{value[:5]}…{value[-4:]}"


def _mask_address(address: str) -> str:
    local, at, domain = address.strip().partition("@")
    if not at:
        return MASK
    return f"{local[:1]}***@{domain}"


def mask_destination(url: str) -> str:
    """A destination URL safe to print: IDs shortened, tokens, paths and query strings hidden."""
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    if not colon:
        return MASK
    if scheme == "line":
        return f"line://{_mask_id(rest.removeprefix('//').strip('/'))}"
    if scheme == "line-notify":
        return f"line-notify://{MASK}"
    if scheme == "mailto":
        addresses = rest.partition("?")[0]
        return "mailto:" + ",".join(_mask_address(a) for a in addresses.split(",") if a.strip())
    if scheme == "outbox":
        return url
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
