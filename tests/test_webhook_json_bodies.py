"""Twilio's JSON-body (bodySHA256) callbacks in the aiohttp handler, and the URL it checks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from async_compositions.aiohttp_webhooks import signed_url, webhook_handler
from async_compositions.emulator import twilio_signature

TOKEN = "token-for-tests"
FIELDS = {
    "AccountSid": "AC" + "0" * 32,
    "RoomSid": "RM" + "a" * 32,
    "CompositionSid": "CJ" + "0" * 32,
    "StatusCallbackEvent": "composition-started",
    "Timestamp": "2024-05-06T07:08:09Z",
}


class Recorder:
    """A stand-in client: records the notify() calls the handler makes."""

    def __init__(self) -> None:
        self.notified: list[Any] = []
        self.compositions = self

    def notify(self, event: Any) -> int:
        self.notified.append(event)
        return 0


@asynccontextmanager
async def serve(handler: Any) -> AsyncIterator[str]:
    """Serve ``handler`` at /twilio on 127.0.0.1; yield its URL."""
    app = web.Application()
    app.router.add_post("/twilio", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/twilio"
    finally:
        await runner.cleanup()


async def post_json(url: str, body: bytes) -> tuple[int, str]:
    """POST a JSON body signed the way Twilio signs one: its hash in the signed URL."""
    signed = f"{url}?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Signature": twilio_signature(signed, (), TOKEN),
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(signed, data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed webhook: body is not JSON ("),
        (b"[1, 2]", "malformed webhook: JSON body is not an object"),
        (b"\xff\xfe", "malformed webhook: body is not JSON ("),
    ],
)
async def test_a_signed_json_body_that_is_not_an_object_gets_400(
    body: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder()
    async with serve(webhook_handler(recorder, provider="twilio", secret=TOKEN)) as url:
        status, text = await post_json(url, body)
    assert status == 400 and text.startswith(reason)
    assert recorder.notified == []
    assert "malformed Twilio webhook" in caplog.text


async def test_json_nulls_are_read_as_empty_fields() -> None:
    recorder = Recorder()
    events: list[Any] = []
    handler = webhook_handler(recorder, provider="twilio", secret=TOKEN, on_event=events.append)
    body = json.dumps({**FIELDS, "Duration": None, "Size": 1024}).encode()
    async with serve(handler) as url:
        assert await post_json(url, body) == (200, "")
    (event,) = events
    assert event.event == "composition-started" and event.id == FIELDS["CompositionSid"]
    assert event.duration is None and event.size == 1024  # null: as if absent
    assert recorder.notified == [event]


def test_the_signed_url_is_the_requests_own_or_the_public_one_with_its_query() -> None:
    request = make_mocked_request("POST", "/hook?a=%7E1&b=2", headers={"Host": "local:8080"})
    assert signed_url(request) == "http://local:8080/hook?a=%7E1&b=2"
    assert signed_url(request, "https://example.com/p") == "https://example.com/p?a=%7E1&b=2"
    bare = make_mocked_request("POST", "/hook", headers={"Host": "local"})
    assert signed_url(bare, "https://example.com/p") == "https://example.com/p"
    with pytest.raises(ValueError, match="public_url is scheme, host and path only; the query"):
        signed_url(request, "https://example.com/p?c=3")


def test_a_twilio_secret_must_be_text() -> None:
    with pytest.raises(TypeError, match=r"^a Twilio Auth Token is a str$"):
        webhook_handler(Recorder(), provider="twilio", secret=TOKEN.encode())
