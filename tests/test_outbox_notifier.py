"""The outbox folder: what would have been sent, written atomically and idempotently."""

from __future__ import annotations

import email
import email.policy
import json
import os
from pathlib import Path

import pytest

from config.settings import Settings
from notifiers.base import DeliveryError, OutgoingMessage
from notifiers.email import message_id
from notifiers.outbox import OutboxNotifier, safe_key

MESSAGE = OutgoingMessage(
    key="makha/2566/O11/plan:reminder 1",
    subject="แจ้งเตือน: แผนดำเนินงานประจำปี 2566",
    text="แผนดำเนินงานประจำปี ครบกำหนดภายในเดือนตุลาคม 2565",
    html="<p>แผนดำเนินงานประจำปี</p>",
    line_text="⏰ แผนดำเนินงาน ครบกำหนด",
)


@pytest.fixture
def outbox(tmp_path: Path) -> OutboxNotifier:
    return OutboxNotifier(Settings.from_env({"TRACKER_OUTBOX_DIR": str(tmp_path / "outbox")}))


def test_writes_an_eml_and_a_json_per_message(outbox: OutboxNotifier, tmp_path: Path) -> None:
    receipt = outbox.send("outbox:?for=mailto:s***@makha.example", MESSAGE)

    name = safe_key(MESSAGE.key)
    eml, record_path = tmp_path / "outbox" / f"{name}.eml", tmp_path / "outbox" / f"{name}.json"
    assert receipt.detail == str(eml) and receipt.provider_message_id == message_id(MESSAGE.key)
    mail = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert mail["Subject"] == MESSAGE.subject and mail["Message-ID"] == message_id(MESSAGE.key)
    assert mail.get_content_type() == "multipart/alternative"
    assert mail["To"] == "s***@makha.example"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    assert record["for"] == "mailto:s***@makha.example"
    assert (record["subject"], record["text"], record["line_text"]) == (
        MESSAGE.subject,
        MESSAGE.text,
        MESSAGE.line_text,
    )


def test_the_same_key_twice_keeps_one_pair_of_files(outbox: OutboxNotifier, tmp_path: Path) -> None:
    outbox.send("outbox:", MESSAGE)
    outbox.send("outbox:", MESSAGE)
    assert sorted(p.suffix for p in (tmp_path / "outbox").iterdir()) == [".eml", ".json"]


def test_an_interrupted_write_leaves_the_old_file_and_no_temp(
    outbox: OutboxNotifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbox.send("outbox:", MESSAGE)
    folder = tmp_path / "outbox"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(DeliveryError) as caught:
        outbox.send("outbox:", OutgoingMessage(key=MESSAGE.key, subject="ใหม่", text="ใหม่"))
    assert caught.value.permanent is False and "No space left" in caught.value.reason
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_keys_differing_only_in_unsafe_characters_get_different_files() -> None:
    assert safe_key("a/b") != safe_key("a:b")
    assert safe_key("plain-key_1.2") == "plain-key_1.2"
    for key in ("../../etc/passwd", ".hidden", "ก" * 300):
        name = safe_key(key)
        assert "/" not in name and not name.startswith(".") and len(name) < 130


def test_a_subfolder_is_allowed_but_not_an_escape(outbox: OutboxNotifier, tmp_path: Path) -> None:
    outbox.send("outbox:demo/line", MESSAGE)
    assert len(list((tmp_path / "outbox" / "demo" / "line").glob("*.eml"))) == 1
    outbox.send("outbox:/etc", MESSAGE)  # a leading slash is still relative to the outbox folder
    assert len(list((tmp_path / "outbox" / "etc").glob("*.eml"))) == 1
    for bad in ("outbox:../elsewhere", "outbox:a/../../b", "outbox:a\\b", "outbox:..."):
        with pytest.raises(DeliveryError) as caught:
            outbox.send(bad, MESSAGE)
        assert caught.value.permanent


def test_a_raw_destination_in_for_is_masked(outbox: OutboxNotifier, tmp_path: Path) -> None:
    outbox.send("outbox:?for=line-notify://SECRET_ENV", MESSAGE)
    record = json.loads(next((tmp_path / "outbox").glob("*.json")).read_text(encoding="utf-8"))
    assert record["for"] == "line-notify://****"
