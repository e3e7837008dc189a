"""The registry of channels and the modules of `notifiers/` agree; routing and lifecycle."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests

import notifiers
from config.settings import Settings
from notifiers.base import Notifier, OutgoingMessage
from notifiers.registry import (
    NOTIFIERS,
    Notifiers,
    UnknownDestinationError,
    destination_error,
    mask_destination,
    notifier_for,
    route_to_outbox,
    scheme_of,
)
from notifiers.webhook import WebhookNotifier
from tests.fakes.plugin import notifier_env
from tracker.domain.errors import TrackerError

USER = "U" + "89abcdef" * 4


def notifier_classes_in_modules() -> set[type[Notifier]]:
    found: set[type[Notifier]] = set()
    for info in pkgutil.iter_modules(notifiers.__path__):
        module = importlib.import_module(f"notifiers.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Notifier) and obj.__module__ == module.__name__ and not inspect.isabstract(obj):
                found.add(obj)
    return found


def test_registry_and_modules_agree() -> None:
    assert notifier_classes_in_modules() == set(NOTIFIERS.values())


def test_each_class_is_registered_under_its_own_scheme() -> None:
    for cls in set(NOTIFIERS.values()):
        assert NOTIFIERS[cls.scheme] is cls
    assert NOTIFIERS["http"] is WebhookNotifier  # plain http only for loopback, see the webhook tests


def test_each_channel_module_is_short() -> None:
    for path in Path(notifiers.__file__).parent.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) < 200, path.name


@pytest.mark.parametrize(
    ("url", "scheme"),
    [(f"line://{USER}", "line"), ("LINE://x", "line"), ("mailto:a@b.org", "mailto"), ("outbox:", "outbox"),
     ("https://hooks.example/x", "https"), ("line-notify://TOKEN_ENV", "line-notify")],
)  # fmt: skip
def test_scheme_of(url: str, scheme: str) -> None:
    assert scheme_of(url) == scheme


@pytest.mark.parametrize("url", ["sms:+66812345678", "no scheme", "", "ftp://files.example/x"])
def test_unknown_destinations_list_the_schemes(url: str) -> None:
    with pytest.raises(UnknownDestinationError) as caught:
        notifier_for(url, Settings())
    assert isinstance(caught.value, TrackerError)
    for scheme in NOTIFIERS:
        assert f"{scheme}:" in str(caught.value)


def test_notifier_for_builds_the_registered_class() -> None:
    for scheme, cls in NOTIFIERS.items():
        notifier = notifier_for(f"{scheme}:x", Settings())
        assert type(notifier) is cls
        notifier.close()


class CountingSession(requests.Session):
    closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


def test_notifiers_keeps_one_instance_per_scheme_and_leaves_a_given_session_open() -> None:
    session = CountingSession()
    with Notifiers(Settings(), session) as registry:
        line = registry.for_url(f"line://{USER}")
        assert registry.for_url(f"line://C{'0' * 32}") is line
        assert registry.for_url("mailto:a@b.org") is not line
    assert session.closed == 0  # the caller created it, the caller closes it


def test_notifiers_closes_the_session_it_created() -> None:
    registry = Notifiers(Settings())
    registry.for_url("https://hooks.example/x")
    closed: list[bool] = []
    registry.session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    registry.close()
    assert closed == [True]


def test_without_credentials_line_and_email_go_to_the_outbox() -> None:
    bare = Settings.from_env({})
    routed = route_to_outbox(f"line://{USER}", bare)
    assert routed.startswith("outbox:?for=")
    assert parse_qs(routed.partition("?")[2])["for"] == ["line://U89ab…cdef"]
    assert route_to_outbox("mailto:somchai@makha.example", bare) == "outbox:?for=mailto:s***@makha.example"
    assert route_to_outbox("https://hooks.example/x", bare) == "https://hooks.example/x"


def test_with_credentials_destinations_are_unchanged() -> None:
    ready = Settings.from_env(notifier_env(SMTP_URL="smtp://127.0.0.1:2525"))
    for url in (f"line://{USER}", "mailto:somchai@makha.example"):
        assert route_to_outbox(url, ready) == url


def test_a_routed_demo_message_lands_in_the_outbox(tmp_path: Path) -> None:
    settings = Settings.from_env({"TRACKER_OUTBOX_DIR": str(tmp_path)})
    message = OutgoingMessage(key="demo-1", subject="ทดสอบ", text="ข้อความทดสอบ")
    with Notifiers(settings) as registry:
        registry.send(route_to_outbox(f"line://{USER}", settings), message)
    record = json.loads((tmp_path / "demo-1.json").read_text(encoding="utf-8"))
    assert record["for"] == "line://U89ab…cdef" and record["text"] == "ข้อความทดสอบ"


# Every registered scheme: a valid destination, an invalid one, and the valid one masked. A new channel
# must add its row here (the first assertion), so that its validation and masking are proven.
CHANNEL_CASES = {
    "line": (f"line://{USER}", "line://U123", "line://U89ab…cdef"),
    "line-notify": ("line-notify://MAKHA_NOTIFY_TOKEN", "line-notify://Bearer abc123", "line-notify://****"),
    "mailto": ("mailto:somchai@makha.example", "mailto:somchai", "mailto:s***@makha.example"),
    "https": ("https://hooks.example/ita/inbox", "https://bot:pw@hooks.example/x", "https://hooks.example/****"),
    "http": ("http://127.0.0.1:8080/hook", "http:///no-host", "http://127.0.0.1:8080/****"),
    "outbox": ("outbox:reports/makha", "outbox:../elsewhere", "outbox:reports/makha"),
}


def test_every_registered_scheme_is_validated_and_masked_by_its_channel() -> None:
    assert set(CHANNEL_CASES) == set(NOTIFIERS)
    for scheme, (valid, invalid, masked) in CHANNEL_CASES.items():
        channel = NOTIFIERS[scheme]
        own = channel.destination_error.__func__ is not Notifier.destination_error.__func__  # type: ignore[attr-defined]
        assert own, f"{scheme}: no validation of its own"
        assert destination_error(valid) is None, scheme
        error = destination_error(invalid)
        assert error and invalid not in error, (scheme, error)  # precise, and never repeats the URL
        assert mask_destination(valid) == masked == channel.mask(valid), scheme


def test_an_unknown_scheme_is_refused_naming_the_registered_ones() -> None:
    error = destination_error("telegram://chat/42") or ""
    assert "unknown scheme" in error and all(f"{s}:" in error for s in NOTIFIERS)


def test_routing_to_the_outbox_asks_the_channel_for_its_credentials() -> None:
    bare = Settings.from_env({})
    for scheme, (valid, _, _) in CHANNEL_CASES.items():
        routed = route_to_outbox(valid, bare) != valid
        assert routed == (not NOTIFIERS[scheme].has_credentials(bare)), scheme
    assert route_to_outbox(f"line://{USER}", bare).startswith("outbox:?for=")
