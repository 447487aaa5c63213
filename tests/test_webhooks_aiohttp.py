"""The aiohttp.web webhook helpers: verify, answer 403/400/200, and wake pending wait() calls."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from async_compositions import CompositionStatus
from async_compositions.aiohttp_webhooks import (
    telnyx_event,
    twilio_event,
    webhook_handler,
)
from async_compositions.emulator import Emulator, twilio_signature
from async_compositions.telnyx.webhooks import CompositionEvent as TelnyxEvent
from async_compositions.twilio.webhooks import CompositionEvent as TwilioEvent

ROOM = "RM" + "a" * 32
SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"


@asynccontextmanager
async def serve(routes: dict[str, Callable[[web.Request], Any]]) -> AsyncIterator[str]:
    """Serve ``routes`` (path -> handler, any method) on 127.0.0.1; yield the base URL."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_route("*", path, handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=11, webhook_timeout=5.0, manual=True) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def fetches(emu: Emulator, path: str) -> int:
    """How many times the composition at ``path`` was fetched (GET), per the request log."""
    return sum(1 for r in emu.requests if r.method == "GET" and r.path == path)


async def first_poll_answered(emu: Emulator, path: str) -> None:
    """Wait (guarded, not measured) until the emulator has answered a GET of ``path``."""
    await emu.wait_until(
        lambda: any(r.finished and r.method == "GET" and r.path == path for r in emu.requests),
        timeout=10,
    )


# -- Twilio -------------------------------------------------------------------------------


async def test_twilio_deliveries_from_the_emulator_are_verified_and_typed(emu: Emulator) -> None:
    events: list[TwilioEvent] = []
    async with emu.twilio_client() as client:
        handler = webhook_handler(client, secret=emu.twilio_auth_token, on_event=events.append)
        async with serve({"/twilio": handler}) as base:
            # A query that must reach the signature check byte for byte.
            callback = f"{base}/twilio?tenant=7&q=a%7Eb%20c&r=x+y"
            created = await client.compositions.create(
                room_sid=ROOM, audio_sources=["*"], status_callback=callback
            )
            await emu.finish()
    deliveries = emu.webhook_deliveries
    assert [d.status for d in deliveries] == [200, 200, 200]
    assert [e.event for e in events] == [
        "composition-started",
        "composition-progress",
        "composition-available",
    ]
    assert all(isinstance(e, TwilioEvent) and e.id == created.sid for e in events)
    available = events[2]
    assert (
        available.size == 65_536 and available.media_uri == f"/v1/Compositions/{created.sid}/Media"
    )
    assert events[1].percentage_done == 100


async def test_twilio_get_callbacks_are_verified_from_the_query(emu: Emulator) -> None:
    events: list[TwilioEvent] = []
    emu.mark_failing(ROOM)
    async with emu.twilio_client() as client:
        handler = webhook_handler(client, secret=emu.twilio_auth_token, on_event=events.append)
        async with serve({"/twilio": handler}) as base:
            await client.compositions.create(
                room_sid=ROOM,
                audio_sources=["*"],
                status_callback=f"{base}/twilio?a=1",
                status_callback_method="GET",
            )
            await emu.finish()
    assert [d.method for d in emu.webhook_deliveries] == ["GET", "GET"]
    assert all(d.status == 200 for d in emu.webhook_deliveries)
    assert [e.event for e in events] == ["composition-started", "composition-failed"]
    assert events[1].error_message and events[1].failed_operation == "media_processing"


FORM = [
    ("AccountSid", "AC" + "0" * 32),
    ("RoomSid", ROOM),
    ("CompositionSid", "CJ" + "0" * 32),
    ("StatusCallbackEvent", "composition-started"),
    ("Timestamp", "2024-05-06T07:08:09Z"),
]
TOKEN = "token-for-tests"


async def post_form(
    http: aiohttp.ClientSession,
    url: str,
    form: list[tuple[str, str]],
    signature: str | None,
) -> tuple[int, str]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    body = urllib.parse.urlencode(form).encode()
    # encoded=True: the URL goes out byte for byte, as Twilio sends it.
    async with http.post(URL(url, encoded=True), data=body, headers=headers) as response:
        return response.status, await response.text()


class Recorder:
    """A stand-in client: records notify() calls the handler makes."""

    def __init__(self) -> None:
        self.notified: list[Any] = []
        self.compositions = self

    def notify(self, event: Any) -> int:
        self.notified.append(event)
        return 0


BAD_SIGNATURES: dict[str, Callable[[str], str | None]] = {
    "missing": lambda url: None,
    "empty": lambda url: "",
    "garbage": lambda url: "not-a-signature",
    "non-ascii": lambda url: "sign\u00e9",
    "other-url": lambda url: twilio_signature("http://elsewhere.example/twilio", FORM, TOKEN),
    "other-token": lambda url: twilio_signature(url, FORM, "another-token"),
    "other-params": lambda url: twilio_signature(url, [*FORM, ("Extra", "1")], TOKEN),
}


@pytest.mark.parametrize("case", list(BAD_SIGNATURES))
async def test_twilio_bad_signatures_get_403(http: aiohttp.ClientSession, case: str) -> None:
    recorder = Recorder()
    events: list[Any] = []
    handler = webhook_handler(recorder, provider="twilio", secret=TOKEN, on_event=events.append)
    async with serve({"/twilio": handler}) as base:
        url = f"{base}/twilio"
        status, text = await post_form(http, url, FORM, BAD_SIGNATURES[case](url))
        assert status == 403
        assert "signature" in text and TOKEN not in text
        assert recorder.notified == [] and events == []
        # The same request, signed properly, goes through.
        assert (await post_form(http, url, FORM, twilio_signature(url, FORM, TOKEN)))[0] == 200
    assert len(events) == 1 and len(recorder.notified) == 1


async def test_twilio_signed_but_malformed_body_gets_400(http: aiohttp.ClientSession) -> None:
    recorder = Recorder()
    handler = webhook_handler(recorder, provider="twilio", secret=TOKEN)
    async with serve({"/twilio": handler}) as base:
        url = f"{base}/twilio"
        for form in (
            [pair for pair in FORM if pair[0] != "StatusCallbackEvent"],
            [*FORM, ("Size", "large")],
            [],
        ):
            status, text = await post_form(http, url, form, twilio_signature(url, form, TOKEN))
            assert status == 400 and "malformed" in text
    assert recorder.notified == []


async def test_twilio_json_body_variant(http: aiohttp.ClientSession) -> None:
    recorder = Recorder()
    handler = webhook_handler(recorder, provider="twilio", secret=TOKEN)
    body = json.dumps(dict(FORM)).encode()
    async with serve({"/twilio": handler}) as base:
        url = f"{base}/twilio?bodySHA256={hashlib.sha256(body).hexdigest()}"
        headers = {
            "Content-Type": "application/json",
            "X-Twilio-Signature": twilio_signature(url, (), TOKEN),
        }
        async with http.post(url, data=body, headers=headers) as response:
            assert response.status == 200
        async with http.post(url, data=body + b" ", headers=headers) as response:
            assert response.status == 403
    (event,) = recorder.notified
    assert event.event == "composition-started" and event.id == "CJ" + "0" * 32


async def test_twilio_hook_failed_is_answered_without_a_notify(http: aiohttp.ClientSession) -> None:
    recorder = Recorder()
    events: list[TwilioEvent] = []
    handler = webhook_handler(recorder, provider="twilio", secret=TOKEN, on_event=events.append)
    form = [
        ("AccountSid", "AC" + "0" * 32),
        ("StatusCallbackEvent", "composition-hook-failed"),
        ("HookSid", "HK" + "0" * 32),
        ("ErrorMessage", "no recordings"),
    ]
    async with serve({"/twilio": handler}) as base:
        url = f"{base}/twilio"
        assert (await post_form(http, url, form, twilio_signature(url, form, TOKEN)))[0] == 200
    assert recorder.notified == [] and events[0].error_message == "no recordings"


async def test_public_url_is_the_url_twilio_signed(http: aiohttp.ClientSession) -> None:
    public = "https://hooks.example.com/prefix/twilio"
    # Behind a tunnel: Twilio signed the public URL, the app sees its local one.
    behind = webhook_handler(Recorder(), provider="twilio", secret=TOKEN, public_url=public)
    direct = webhook_handler(Recorder(), provider="twilio", secret=TOKEN)
    async with serve({"/behind": behind, "/direct": direct}) as base:
        signature = twilio_signature(f"{public}?x=%7E1", FORM, TOKEN)
        assert (await post_form(http, f"{base}/behind?x=%7E1", FORM, signature))[0] == 200
        assert (await post_form(http, f"{base}/direct?x=%7E1", FORM, signature))[0] == 403
        # The query is the request's: a different one is a different signed URL.
        assert (await post_form(http, f"{base}/behind?x=2", FORM, signature))[0] == 403
        # The default port is optional in the signed URL (Twilio's port quirk).
        with_port = twilio_signature("https://hooks.example.com:443/prefix/twilio", FORM, TOKEN)
        assert (await post_form(http, f"{base}/behind", FORM, with_port))[0] == 200


async def test_helpers_in_a_hand_written_handler(http: aiohttp.ClientSession) -> None:
    seen: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(await twilio_event(request, TOKEN))
        return web.Response(text="thanks")

    async with serve({"/mine": handle}) as base:
        url = f"{base}/mine"
        assert (await post_form(http, url, FORM, twilio_signature(url, FORM, TOKEN))) == (
            200,
            "thanks",
        )
        assert (await post_form(http, url, FORM, "bad"))[0] == 403
    (event,) = seen
    assert isinstance(event, TwilioEvent) and event.event == "composition-started"


# -- Telnyx -------------------------------------------------------------------------------


async def test_telnyx_delivery_from_the_emulator_is_verified(emu: Emulator) -> None:
    events: list[TelnyxEvent] = []
    async with emu.telnyx_client() as client:
        handler = webhook_handler(client, secret=emu.telnyx_public_key, on_event=events.append)
        async with serve({"/telnyx": handler}) as base:
            created = await client.compositions.create(
                session_id=SESSION, webhook_event_url=f"{base}/telnyx"
            )
            await emu.finish()
    (delivery,) = emu.webhook_deliveries
    assert delivery.status == 200
    (event,) = events
    assert isinstance(event, TelnyxEvent)
    assert event.id == created.id and event.event_type == "video.room.composition.completed"
    assert str(event.download_url) == emu.composition(created.id)["download_url"]


async def post_telnyx(
    http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    async with http.post(url, data=body, headers=headers) as response:
        return response.status, await response.text()


def telnyx_body(
    composition_id: str = "c1", event_type: str = "video.room.composition.completed"
) -> bytes:
    data = {"event_type": event_type, "id": "e1", "payload": {"composition_id": composition_id}}
    return json.dumps({"data": data}).encode()


async def test_telnyx_bad_signatures_get_403(emu: Emulator, http: aiohttp.ClientSession) -> None:
    recorder = Recorder()
    handler = webhook_handler(recorder, provider="telnyx", secret=emu.telnyx_public_key)
    signer = emu.telnyx_signer
    body = telnyx_body()
    now = str(int(time.time()))
    stale = str(int(time.time()) - 301)
    cases = {
        "good": {"telnyx-timestamp": now, "telnyx-signature-ed25519": signer.sign(now, body)},
        "stale": {"telnyx-timestamp": stale, "telnyx-signature-ed25519": signer.sign(stale, body)},
        "other-body": {
            "telnyx-timestamp": now,
            "telnyx-signature-ed25519": signer.sign(now, body + b" "),
        },
        "missing": {"telnyx-timestamp": now},
        "bad-base64": {"telnyx-timestamp": now, "telnyx-signature-ed25519": "%%%"},
    }
    async with serve({"/telnyx": handler}) as base:
        statuses = {
            name: (await post_telnyx(http, f"{base}/telnyx", body, headers))[0]
            for name, headers in cases.items()
        }
    assert statuses == {
        "good": 200,
        "stale": 403,
        "other-body": 403,
        "missing": 403,
        "bad-base64": 403,
    }
    assert [e.id for e in recorder.notified] == ["c1"]


async def test_telnyx_signed_but_malformed_body_gets_400(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    recorder = Recorder()
    handler = webhook_handler(recorder, provider="telnyx", secret=emu.telnyx_public_key)
    async with serve({"/telnyx": handler}) as base:
        for body in (b"{not json", telnyx_body(event_type="video.room.session.ended"), b"{}"):
            now = str(int(time.time()))
            headers = {
                "telnyx-timestamp": now,
                "telnyx-signature-ed25519": emu.telnyx_signer.sign(now, body),
            }
            status, text = await post_telnyx(http, f"{base}/telnyx", body, headers)
            assert status == 400 and "malformed" in text
    assert recorder.notified == []


async def test_telnyx_event_helper(emu: Emulator, http: aiohttp.ClientSession) -> None:
    seen: list[TelnyxEvent] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(await telnyx_event(request, emu.telnyx_public_key, tolerance=10))
        return web.Response(status=204)

    body = telnyx_body("c9")
    async with serve({"/mine": handle}) as base:
        now = str(int(time.time()))
        ok = {
            "telnyx-timestamp": now,
            "telnyx-signature-ed25519": emu.telnyx_signer.sign(now, body),
        }
        assert (await post_telnyx(http, f"{base}/mine", body, ok))[0] == 204
        old = str(int(time.time()) - 60)  # inside the default window, outside tolerance=10
        late = {
            "telnyx-timestamp": old,
            "telnyx-signature-ed25519": emu.telnyx_signer.sign(old, body),
        }
        assert (await post_telnyx(http, f"{base}/mine", body, late))[0] == 403
    assert [e.id for e in seen] == ["c9"]


# -- waking wait() ------------------------------------------------------------------------


async def test_twilio_webhook_wakes_a_pending_wait(emu: Emulator) -> None:
    async with (
        emu.twilio_client() as client,
        serve({"/twilio": webhook_handler(client, secret=emu.twilio_auth_token)}) as base,
    ):
        (sid,) = emu.seed_twilio(1, status="processing", status_callback=f"{base}/twilio")
        path = f"/v1/Compositions/{sid}"
        # A 30 s poll: without the webhook, the second fetch would be 30 s away.
        waiting = asyncio.ensure_future(
            client.compositions.wait(sid, poll_interval=30, timeout=120)
        )
        await first_poll_answered(emu, path)
        await emu.advance()  # processing -> completed; the callbacks are delivered
        async with asyncio.timeout(10):  # a guard against hanging, not a measure
            done = await waiting
    assert done.sid == sid and done.status is CompositionStatus.COMPLETED
    assert fetches(emu, path) == 2  # one poll, then one fetch on the webhook
    assert all(d.status == 200 for d in emu.webhook_deliveries)


async def test_telnyx_webhook_wakes_a_pending_wait(emu: Emulator) -> None:
    async with emu.telnyx_client() as client:
        handler = webhook_handler(client, secret=emu.telnyx_public_key)
        async with serve({"/telnyx": handler}) as base:
            (id,) = emu.seed_telnyx(1, status="processing", webhook_event_url=f"{base}/telnyx")
            path = f"/v2/room_compositions/{id}"
            waiting = asyncio.ensure_future(
                client.compositions.wait(id, poll_interval=30, timeout=120)
            )
            await first_poll_answered(emu, path)
            await emu.advance()
            async with asyncio.timeout(10):
                done = await waiting
    assert done.id == id and done.status is CompositionStatus.COMPLETED
    assert fetches(emu, path) == 2
    assert [d.status for d in emu.webhook_deliveries] == [200]


# -- callbacks and configuration ------------------------------------------------------------


async def test_async_on_event_is_awaited_and_its_failure_is_a_500(
    http: aiohttp.ClientSession,
) -> None:
    seen: list[str] = []

    async def remember(event: TwilioEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event.event)

    def explode(event: TwilioEvent) -> None:
        raise RuntimeError("downstream is down")

    good = webhook_handler(Recorder(), provider="twilio", secret=TOKEN, on_event=remember)
    bad = webhook_handler(Recorder(), provider="twilio", secret=TOKEN, on_event=explode)
    async with serve({"/good": good, "/bad": bad}) as base:
        for path, expected in (("/good", 200), ("/bad", 500)):
            url = base + path
            assert (await post_form(http, url, FORM, twilio_signature(url, FORM, TOKEN)))[
                0
            ] == expected
    assert seen == ["composition-started"]  # a 500 makes the provider deliver it again


async def test_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, http: aiohttp.ClientSession
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    handler = webhook_handler(Recorder(), provider="twilio")
    async with serve({"/t": handler}) as base:
        url = f"{base}/t"
        assert (await post_form(http, url, FORM, twilio_signature(url, FORM, TOKEN)))[0] == 200
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    monkeypatch.delenv("TELNYX_PUBLIC_KEY", raising=False)
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        webhook_handler(Recorder(), provider="twilio")
    with pytest.raises(ValueError, match="TELNYX_PUBLIC_KEY"):
        webhook_handler(Recorder(), provider="telnyx")


async def test_configuration_errors_are_raised_at_once(emu: Emulator) -> None:
    with pytest.raises(TypeError, match="provider="):
        webhook_handler(Recorder(), secret=TOKEN)
    with pytest.raises(ValueError, match="provider"):
        webhook_handler(Recorder(), provider="vonage", secret=TOKEN)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="public_key"):
        webhook_handler(Recorder(), provider="telnyx", secret="not-a-key")
    with pytest.raises(ValueError, match="tolerance"):
        webhook_handler(Recorder(), provider="telnyx", secret=emu.telnyx_public_key, tolerance=-1)
    with pytest.raises(TypeError, match="Twilio only"):
        webhook_handler(
            Recorder(), provider="telnyx", secret=emu.telnyx_public_key, public_url="https://x/y"
        )
    with pytest.raises(ValueError, match="public_url"):
        webhook_handler(Recorder(), provider="twilio", secret=TOKEN, public_url="https://x/y?a=1")
    async with emu.telnyx_client() as client:
        # The provider follows from the client.
        with pytest.raises(ValueError, match="public_key"):
            webhook_handler(client, secret=emu.twilio_auth_token)


def test_the_package_does_not_import_aiohttp_web() -> None:
    code = (
        "import sys, async_compositions\n"
        "import async_compositions.twilio.webhooks, async_compositions.telnyx.webhooks\n"
        "assert 'aiohttp.web' not in sys.modules, 'aiohttp.web imported'\n"
        "import async_compositions.aiohttp_webhooks\n"
        "assert 'aiohttp.web' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
