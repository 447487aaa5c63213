"""Telnyx webhooks: Ed25519 verification, the replay window, and typed composition events."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from multidict import CIMultiDict
from yarl import URL

from async_compositions import CompositionsError, WebhookVerificationError
from async_compositions.emulator import Emulator
from async_compositions.telnyx import webhooks
from async_compositions.telnyx.webhooks import CompositionEvent, parse_event, verify

FIXTURES = Path(__file__).parent / "fixtures"
BODY = (FIXTURES / "telnyx_webhook_composition_completed.json").read_bytes()
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC_RAW = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
PUBLIC = base64.b64encode(PUBLIC_RAW).decode()
OTHER = base64.b64encode(
    Ed25519PrivateKey.from_private_bytes(bytes(32))
    .public_key()
    .public_bytes(Encoding.Raw, PublicFormat.Raw)
).decode()
NOW = 1_700_000_000


def signed(
    body: bytes = BODY, stamp: int | str = NOW, key: Ed25519PrivateKey = KEY
) -> dict[str, str]:
    """The headers Telnyx sends with ``body``: Ed25519 over ``timestamp|body``."""
    signature = key.sign(f"{stamp}|".encode() + body)
    return {
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "telnyx-timestamp": str(stamp),
    }


def test_a_signed_event_verifies_and_parses() -> None:
    event = verify(BODY, signed(), PUBLIC, now=NOW)
    assert event == CompositionEvent(
        event_type="video.room.composition.completed",
        event_id="d51754fc-6888-4b0e-8f29-fc3ae41250cd",
        occurred_at=datetime(2022, 3, 2, 4, 47, 29, 980874, tzinfo=UTC),
        record_type="event",
        composition_id="5970ce77-4aeb-4e18-ac8c-3effca0c145a",
        download_url=URL("https://www.example.com"),
        duration_secs=53,
        format="mp4",
        resolution="1280x720",
        room_id="2fbf2c0d-b6aa-463f-aeed-83ce298be978",
        session_id="7c4da191-2600-4df6-a35e-0ecae6caa5d3",
        size_mb=2.6,
        payload=json.loads(BODY)["data"]["payload"],
        raw=json.loads(BODY),
    )
    # .id is the composition id, the key wait() and notify() use for both providers.
    assert event.id == event.composition_id
    assert event.occurred_at is not None and event.occurred_at.tzinfo is UTC


def test_the_spec_example_parses_without_verification() -> None:
    event = parse_event(BODY)
    assert event.composition_id == "5970ce77-4aeb-4e18-ac8c-3effca0c145a"
    assert event.occurred_at == datetime(2022, 3, 2, 4, 47, 29, 980874, tzinfo=UTC)
    assert parse_event(BODY.decode()) == event


@pytest.mark.parametrize(
    "key",
    [PUBLIC, PUBLIC.encode(), PUBLIC_RAW],
    ids=["base64-str", "base64-bytes", "raw-bytes"],
)
def test_public_key_forms(key: str | bytes) -> None:
    assert verify(BODY, signed(), key, now=NOW).event_type.endswith(".completed")


@pytest.mark.parametrize(
    "name",
    ["telnyx-signature-ed25519", "Telnyx-Signature-Ed25519", "TELNYX-SIGNATURE-ED25519"],
)
def test_header_names_are_case_insensitive(name: str) -> None:
    headers = signed()
    plain = {name: headers["telnyx-signature-ed25519"], "Telnyx-Timestamp": str(NOW)}
    assert verify(BODY, plain, PUBLIC, now=NOW).composition_id
    assert verify(BODY, CIMultiDict(plain), PUBLIC, now=NOW).composition_id


def _fails(body: bytes, headers: dict[str, str], key: str = PUBLIC, now: float = NOW) -> str:
    with pytest.raises(WebhookVerificationError) as info:
        verify(body, headers, key, now=now)
    message = str(info.value)
    assert PUBLIC not in message and OTHER not in message
    return message


def test_a_changed_body_fails() -> None:
    headers = signed()
    assert "does not match" in _fails(BODY.replace(b"53", b"54"), headers)
    assert "does not match" in _fails(BODY + b"\n", headers)
    # The exact bytes are signed: the same JSON re-serialised is not the same message.
    assert "does not match" in _fails(json.dumps(json.loads(BODY)).encode(), headers)


def test_a_wrong_key_fails() -> None:
    assert "does not match" in _fails(BODY, signed(), key=OTHER)


def test_a_signature_over_another_timestamp_fails() -> None:
    headers = signed(stamp=NOW)
    headers["telnyx-timestamp"] = str(NOW + 1)
    assert "does not match" in _fails(BODY, headers, now=NOW)


@pytest.mark.parametrize("offset", [301, -301, 10_000], ids=["stale", "future", "old"])
def test_timestamps_outside_the_window_fail(offset: int) -> None:
    # Correctly signed, but replayed (or from a clock far ahead): rejected both ways.
    assert "tolerance 300s" in _fails(BODY, signed(stamp=NOW), now=NOW + offset)


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_timestamps_at_the_edge_of_the_window_pass(offset: int) -> None:
    assert verify(BODY, signed(stamp=NOW), PUBLIC, now=NOW + offset).composition_id


def test_tolerance_is_configurable() -> None:
    headers = signed(stamp=NOW)
    assert verify(BODY, headers, PUBLIC, tolerance=3600, now=NOW + 3000).composition_id
    with pytest.raises(WebhookVerificationError, match="tolerance 10s"):
        verify(BODY, headers, PUBLIC, tolerance=10, now=NOW + 11)


def test_now_defaults_to_the_clock() -> None:
    stamp = int(time.time())
    assert verify(BODY, signed(stamp=stamp), PUBLIC).composition_id
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify(BODY, signed(stamp=stamp - 3600), PUBLIC)


@pytest.mark.parametrize("missing", ["telnyx-signature-ed25519", "telnyx-timestamp"])
def test_a_missing_header_fails(missing: str) -> None:
    headers = signed()
    del headers[missing]
    assert f"missing {missing}" in _fails(BODY, headers)


@pytest.mark.parametrize("stamp", ["1700000000.5", "abc", "", "-1700000000", " 1700000000", "1e9"])
def test_a_non_integer_timestamp_fails(stamp: str) -> None:
    headers = signed()
    headers["telnyx-timestamp"] = stamp
    assert "not a Unix time" in _fails(BODY, headers)


@pytest.mark.parametrize(
    "signature",
    ["!!!not base64!!!", "abc", base64.b64encode(b"x" * 63).decode(), ""],
    ids=["garbage", "truncated", "short", "empty"],
)
def test_a_malformed_signature_fails(signature: str) -> None:
    headers = signed()
    headers["telnyx-signature-ed25519"] = signature
    message = _fails(BODY, headers)
    assert "telnyx-signature-ed25519" in message


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "no 'data'"),
        (b'{"data": 1}', "no 'data'"),
        (b'{"data": {"event_type": "video.room.session.started", "payload": {}}}', "not a comp"),
        (b'{"data": {"event_type": "video.room.composition.completed"}}', "no 'payload'"),
        (b'{"data": {"event_type": "video.room.composition.completed", "payload": {}}}', "no pay"),
        (
            b'{"data": {"event_type": "video.room.composition.completed", '
            b'"payload": {"composition_id": "c1", "duration_secs": "long"}}}',
            "duration_secs is not a number",
        ),
        (
            b'{"data": {"event_type": "video.room.composition.completed", '
            b'"occurred_at": "yesterday", "payload": {"composition_id": "c1"}}}',
            "occurred_at",
        ),
    ],
)
def test_a_signed_but_malformed_body_fails(body: bytes, reason: str) -> None:
    # A valid signature does not make a body an event: the payload is checked too.
    assert reason in _fails(body, signed(body))
    with pytest.raises(WebhookVerificationError, match=reason):
        parse_event(body)


def test_other_composition_events_and_missing_fields_parse() -> None:
    body = json.dumps(
        {
            "data": {
                "event_type": "video.room.composition.failed",
                "id": "e1",
                "payload": {"composition_id": "c1", "download_url": None, "size_mb": 3},
            },
            "meta": {"attempt": 1, "delivered_to": "https://example.com/hook"},
        }
    ).encode()
    event = verify(body, signed(body), PUBLIC, now=NOW)
    assert (event.event_type, event.id, event.event_id) == (
        "video.room.composition.failed",
        "c1",
        "e1",
    )
    assert event.download_url is None and event.size_mb == 3.0 and event.occurred_at is None
    assert event.raw["meta"]["attempt"] == 1


def test_a_presigned_download_url_stays_out_of_repr() -> None:
    document = json.loads(BODY)
    document["data"]["payload"]["download_url"] = (
        "https://s3.example.com/m.mp4?X-Amz-Signature=abc123"
    )
    event = parse_event(json.dumps(document))
    assert (
        event.download_url is not None and event.download_url.query["X-Amz-Signature"] == "abc123"
    )
    assert "abc123" not in repr(event)


@pytest.mark.parametrize("key", ["not base64!", base64.b64encode(b"short").decode(), b"\x00" * 31])
def test_a_malformed_public_key_is_a_configuration_error(key: str | bytes) -> None:
    # Not a WebhookVerificationError: a bad key is the receiver's mistake, not the sender's.
    with pytest.raises(ValueError, match="public_key") as info:
        verify(BODY, signed(), key, now=NOW)
    assert not isinstance(info.value, CompositionsError)


@pytest.mark.parametrize(
    ("tolerance", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_invalid_tolerance(tolerance: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify(BODY, signed(), PUBLIC, tolerance=tolerance, now=NOW)  # type: ignore[arg-type]


def test_body_must_be_the_raw_bytes() -> None:
    with pytest.raises(TypeError, match="raw request bytes"):
        verify(json.loads(BODY), signed(), PUBLIC, now=NOW)  # type: ignore[arg-type]


def test_missing_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("cryptography.exceptions", "cryptography.hazmat.primitives.asymmetric.ed25519"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"async-compositions\[webhooks\]"):
        verify(BODY, signed(), PUBLIC, now=NOW)


def test_cryptography_is_imported_only_to_verify() -> None:
    code = (
        "import sys, async_compositions, async_compositions.telnyx.webhooks as w\n"
        "assert 'cryptography' not in sys.modules, 'imported eagerly'\n"
        "w.parse_event(open(sys.argv[1], 'rb').read())\n"
        "assert 'cryptography' not in sys.modules, 'imported to parse'\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(FIXTURES / "telnyx_webhook_composition_completed.json")],
        check=True,
        timeout=60,
    )


# -- what the emulator delivers --------------------------------------------------------


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A local endpoint recording each request's headers and exact body bytes."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response()

    app = web.Application()
    app.router.add_post("/telnyx", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/telnyx", received
    await runner.cleanup()


async def test_the_emulators_completed_event_verifies(
    inbox: tuple[str, list[tuple[dict[str, str], bytes]]],
) -> None:
    url, received = inbox
    async with Emulator(seed=3, manual=True) as emu:
        async with emu.telnyx_client() as client:
            created = await client.compositions.create(
                session_id="7c4da191-2600-4df6-a35e-0ecae6caa5d3", webhook_event_url=url
            )
        await emu.finish()
        composition = emu.composition(created.id)
        public_key = emu.telnyx_public_key
    ((headers, body),) = received
    event = webhooks.verify(body, headers, public_key)
    assert event.event_type == "video.room.composition.completed"
    assert event.id == created.id
    assert event.download_url == URL(composition["download_url"], encoded=True)
    assert event.duration_secs == composition["duration_secs"]
    assert event.size_mb == composition["size_mb"]
    assert event.session_id == "7c4da191-2600-4df6-a35e-0ecae6caa5d3"
    assert event.occurred_at is not None and event.occurred_at.tzinfo is UTC
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(body, headers, OTHER)
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(body, headers, public_key, now=time.time() + 3600)
