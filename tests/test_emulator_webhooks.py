"""Webhook deliveries, received by a local aiohttp server and verified by independent code."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from async_compositions.emulator import Emulator, twilio_signature
from async_compositions.twilio import webhooks

ROOM = "RM" + "a" * 32
SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"


# -- independent verifiers ----------------------------------------------------------------


def expected_twilio_signature(url: str, params: dict[str, list[str]], token: str) -> str:
    """Twilio's scheme, written out again: URL + sorted names, each with its sorted values."""
    data = url
    for name in sorted(params):
        for value in sorted(set(params[name])):
            data += name + value
    mac = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def verify_telnyx(body: bytes, headers: dict[str, str], public_key_b64: str) -> None:
    """Telnyx's scheme: Ed25519 over ``timestamp|body``; raises InvalidSignature."""
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    signature = base64.b64decode(headers["telnyx-signature-ed25519"])
    key.verify(signature, headers["telnyx-timestamp"].encode() + b"|" + body)


# -- a receiving server -------------------------------------------------------------------


@dataclass
class Received:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    received: list[Received] = field(default_factory=list)
    handlers: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = field(
        default_factory=dict
    )
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.url.split("?")[0].endswith(path)]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    box = Receiver()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        # The URL exactly as requested (raw_path keeps the query's percent-encoding).
        raw_url = box.url + request.raw_path
        box.received.append(Received(request.method, raw_url, dict(request.headers), body))
        box.arrived.set()
        custom = box.handlers.get(request.path)
        return await custom(request) if custom else web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    box.url = f"http://{host}:{port}"
    yield box
    await runner.cleanup()


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=4, webhook_timeout=2.0, manual=True) as emulator:
        yield emulator


# -- Twilio -------------------------------------------------------------------------------

VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}


def test_twilio_signature_matches_the_published_vectors() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature(url, VECTOR_PARAMS, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    port_url = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert twilio_signature(port_url, VECTOR_PARAMS, "12345") == "kvajT1Ptam85bY51eRf/AJRuM3w="
    multi = [
        ("Sid", "CA123"),
        ("SidAccount", "AC123"),
        *[("Digits", d) for d in ["5678", "1234", "1234"]],
    ]
    assert twilio_signature(url, multi, "12345") == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    bodyless = f"{url}&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    assert twilio_signature(bodyless, {}, "12345") == "a9nBmqA0ju/hNViExpshrM61xv4="
    # The independent verifier used below agrees with the vectors too.
    listed = {k: [v] for k, v in VECTOR_PARAMS.items()}
    assert expected_twilio_signature(url, listed, "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


async def test_twilio_status_callbacks_are_signed_form_posts(
    emu: Emulator, receiver: Receiver
) -> None:
    callback = f"{receiver.url}/twilio/cb?tenant=7"
    async with emu.twilio_client() as client:
        created = await client.compositions.create(
            room_sid=ROOM, audio_sources=["*"], status_callback=callback
        )
    await emu.finish()
    posts = receiver.at("/twilio/cb")
    events = []
    for post in posts:
        assert post.method == "POST" and post.url == callback
        assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
        params = urllib.parse.parse_qs(post.body.decode(), keep_blank_values=True)
        signature = expected_twilio_signature(callback, params, emu.twilio_auth_token)
        assert post.headers["X-Twilio-Signature"] == signature
        form = {k: v[0] for k, v in params.items()}
        assert form["AccountSid"] == emu.twilio_account_sid
        assert form["RoomSid"] == ROOM and form["CompositionSid"] == created.sid
        assert form["CompositionUri"] == f"/v1/Compositions/{created.sid}"
        events.append(form)
    assert [e["StatusCallbackEvent"] for e in events] == [
        "composition-started",
        "composition-progress",
        "composition-available",
    ]
    available = events[2]
    assert available["MediaUri"] == f"/v1/Compositions/{created.sid}/Media"
    assert available["Size"] == "65536" and int(available["Duration"]) > 0
    assert events[1]["PercentageDone"] == "100" and events[1]["SecondsRemaining"] == "0"
    assert all(d.ok for d in emu.webhook_deliveries)
    # The library's own validator and parser accept what the emulator sends.
    for post in posts:
        form = dict(urllib.parse.parse_qsl(post.body.decode()))
        signature = post.headers["X-Twilio-Signature"]
        assert webhooks.validate_signature(callback, form, signature, emu.twilio_auth_token)
        assert not webhooks.validate_signature(callback, form, signature, "other-token")
    assert webhooks.parse_status_callback(events[2]).size == 65_536


async def test_twilio_get_callbacks_sign_the_full_url(emu: Emulator, receiver: Receiver) -> None:
    emu.mark_failing(ROOM)
    callback = f"{receiver.url}/cb?a=1"
    async with emu.twilio_client() as client:
        await client.compositions.create(
            room_sid=ROOM,
            audio_sources=["*"],
            status_callback=callback,
            status_callback_method="GET",
        )
    await emu.finish()
    started, failed = receiver.at("/cb")
    for request in (started, failed):
        assert request.method == "GET" and request.body == b""
        assert request.url.startswith(callback + "&")
        expected = expected_twilio_signature(request.url, {}, emu.twilio_auth_token)
        assert request.headers["X-Twilio-Signature"] == expected
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(failed.url).query)
    assert query["a"] == ["1"]
    assert query["StatusCallbackEvent"] == ["composition-failed"]
    assert query["FailedOperation"] and query["ErrorMessage"]


async def test_twilio_events_of_one_composition_arrive_in_order(
    emu: Emulator, receiver: Receiver
) -> None:
    trace: list[str] = []

    async def slow(request: web.Request) -> web.Response:
        event = (await request.post())["StatusCallbackEvent"]
        trace.append(f"start {event}")
        await asyncio.sleep(0.05)  # room for an unordered sender to overtake
        trace.append(f"end {event}")
        return web.Response()

    receiver.handlers["/slow"] = slow
    async with emu.twilio_client() as client:
        await client.compositions.create(
            room_sid=ROOM, audio_sources=["*"], status_callback=f"{receiver.url}/slow"
        )
    await emu.advance(wait=False)
    await emu.advance(wait=False)
    assert await emu.wait_webhooks(timeout=10)
    names = ["composition-started", "composition-progress", "composition-available"]
    assert trace == [f"{edge} {name}" for name in names for edge in ("start", "end")]


# -- Telnyx -------------------------------------------------------------------------------


async def test_telnyx_completed_event_is_signed_with_ed25519(
    emu: Emulator, receiver: Receiver
) -> None:
    async with emu.telnyx_client() as client:
        created = await client.compositions.create(
            session_id=SESSION, webhook_event_url=f"{receiver.url}/telnyx"
        )
    await emu.finish()
    (delivery,) = receiver.at("/telnyx")
    headers = {k.lower(): v for k, v in delivery.headers.items()}
    assert delivery.method == "POST" and headers["content-type"] == "application/json"
    verify_telnyx(delivery.body, headers, emu.telnyx_public_key)
    assert abs(int(headers["telnyx-timestamp"]) - time.time()) < 300  # the SDK's tolerance
    with pytest.raises(InvalidSignature):
        verify_telnyx(delivery.body + b" ", headers, emu.telnyx_public_key)
    event = json.loads(delivery.body)["data"]
    assert event["record_type"] == "event"
    assert event["event_type"] == "video.room.composition.completed"
    composition = emu.composition(created.id)
    assert event["payload"] == {
        "composition_id": created.id,
        "download_url": composition["download_url"],
        "duration_secs": composition["duration_secs"],
        "format": "mp4",
        "resolution": "1280x720",
        "room_id": composition["room_id"],
        "session_id": SESSION,
        "size_mb": composition["size_mb"],
    }


async def test_telnyx_signing_key_from_a_seed() -> None:
    seed = bytes(range(32))
    raw = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    expected = base64.b64encode(raw.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    async with Emulator(telnyx_signing_seed=seed) as emu:
        assert emu.telnyx_public_key == expected
    with pytest.raises(ValueError, match="32 bytes"):
        _ = Emulator(telnyx_signing_seed=b"short").telnyx_public_key


@pytest.mark.parametrize("primary", ["error", "refused", "timeout"])
async def test_telnyx_falls_back_to_the_failover_url(receiver: Receiver, primary: str) -> None:
    release = asyncio.Event()

    async def broken(request: web.Request) -> web.Response:
        if primary == "timeout":
            await release.wait()
        return web.Response(status=500)

    receiver.handlers["/primary"] = broken
    primary_url = f"{receiver.url}/primary"
    if primary == "refused":
        # A port that was just free: nothing listens there.
        async with Emulator() as gone:
            primary_url = f"{gone.url}/primary"
    async with Emulator(webhook_timeout=0.3) as emu:
        (id,) = emu.seed_telnyx(1, status="processing", webhook_event_url=primary_url)
        emu.store.telnyx[id].webhook_event_failover_url = f"{receiver.url}/failover"
        await emu.advance()
        first, second = emu.webhook_deliveries
    release.set()
    (delivered,) = receiver.at("/failover")
    assert json.loads(delivered.body)["data"]["payload"]["composition_id"] == id
    assert first.url == primary_url and not first.ok
    assert {"error": first.status == 500, "refused": first.error, "timeout": first.error}[primary]
    assert second.url == f"{receiver.url}/failover" and second.ok
    assert first.body == second.body  # the same event, each attempt signed afresh


async def test_no_failover_after_a_successful_delivery(emu: Emulator, receiver: Receiver) -> None:
    async with emu.telnyx_client() as client:
        await client.compositions.create(
            session_id=SESSION,
            webhook_event_url=f"{receiver.url}/primary",
            webhook_event_failover_url=f"{receiver.url}/failover",
        )
    await emu.finish()
    assert len(receiver.at("/primary")) == 1 and receiver.at("/failover") == []


async def test_telnyx_sends_nothing_for_failures_or_without_a_url(
    emu: Emulator, receiver: Receiver
) -> None:
    emu.mark_failing(SESSION)
    async with emu.telnyx_client() as client:
        await client.compositions.create(
            session_id=SESSION, webhook_event_url=f"{receiver.url}/hook"
        )
        await client.compositions.create(session_id="0ccc7b54-4df3-4bca-a65a-3da1ecc777b0")
    assert await emu.finish() == 4
    assert receiver.received == [] and emu.webhook_deliveries == []


async def test_shutdown_cancels_pending_deliveries(receiver: Receiver) -> None:
    async def hang(request: web.Request) -> web.Response:
        await asyncio.Event().wait()
        return web.Response()

    receiver.handlers["/hang"] = hang
    emu = Emulator(webhook_timeout=30)
    await emu.start()
    emu.seed_twilio(1, status="processing", status_callback=f"{receiver.url}/hang")
    await emu.advance(wait=False)
    await asyncio.wait_for(receiver.arrived.wait(), timeout=5)
    assert not await emu.wait_webhooks(timeout=0.05)
    await asyncio.wait_for(emu.stop(), timeout=5)  # a guard against hanging, not a measure
    assert emu.webhook_deliveries == []  # cancelled, not recorded as delivered
    with pytest.raises(RuntimeError):
        await emu.start()
