"""TelnyxClient end to end against the emulator over real sockets.

Every verb, a resumed download, errors in Telnyx's shape and signed webhooks. Paging and
prefetch are in test_telnyx_stream.py, retries in test_retry_safety.py, the bytes on the
wire in test_telnyx_wire.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from async_compositions import (
    AuthenticationError,
    BadRequestError,
    CompositionStatus,
    NotFoundError,
    PermissionDeniedError,
    RetryPolicy,
    UnprocessableEntityError,
    WebhookVerificationError,
)
from async_compositions.emulator import Emulator
from async_compositions.telnyx import RoomComposition
from async_compositions.telnyx.webhooks import verify

SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"
MISSING = "00000000-0000-4000-8000-000000000000"
GUARD = 5.0  # seconds; only stops a broken test from hanging, never asserted on
# Retries without real waiting: backoff is jittered within a couple of milliseconds.
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=22, manual=True) as emulator:
        yield emulator


class Receiver:
    """A webhook endpoint on 127.0.0.1 (the user's app, not an API back-end)."""

    def __init__(self) -> None:
        self.url = ""
        self.posts: list[tuple[str, CIMultiDict[str], bytes]] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            self.posts.append((request.path, CIMultiDict(request.headers), await request.read()))
            return web.Response(status=200)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    box = Receiver()
    await box.start()
    yield box
    await box.stop()


# -- every verb -------------------------------------------------------------------------------


async def test_every_verb_against_the_emulator(emu: Emulator, tmp_path: Path) -> None:
    fetched_once = asyncio.Event()

    async def on_response(
        session: aiohttp.ClientSession, ctx: object, params: aiohttp.TraceRequestEndParams
    ) -> None:
        if params.method == "GET" and params.url.path.startswith("/v2/room_compositions/"):
            fetched_once.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_response)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        async with emu.telnyx_client(session=http, retry=None) as client:
            compositions = client.compositions
            assert client.room_compositions is compositions
            created = await compositions.create(
                session_id=SESSION, resolution="640x360", video_layout={"main": {"x_pos": 0}}
            )
            assert isinstance(created, RoomComposition)
            assert created.status is CompositionStatus.ENQUEUED
            assert created.session_id == SESSION and created.resolution == "640x360"
            assert created.download_url is None and created.id in emu.store.telnyx

            fetched = await compositions.fetch(created.id)
            assert fetched == created

            page = await compositions.page(session_id=SESSION)
            assert [c.id for c in page.items] == [created.id] and not page.has_next
            assert (page.page_number, page.total_pages, page.total_results) == (1, 1, 1)
            assert [c.id async for c in compositions.stream(session_id=SESSION)] == [created.id]
            assert [c.id for c in await compositions.list(session_id=SESSION)] == [created.id]

            with pytest.raises(NotFoundError):
                await compositions.media_url(created.id)  # no media before completion

            # wait(): its first poll sees the composition enqueued; it then completes, and
            # a notify() (what a webhook handler calls) wakes the waiter long before its
            # next poll would be due.
            fetched_once.clear()
            waiter = asyncio.create_task(compositions.wait(created.id, poll_interval=60))
            async with asyncio.timeout(GUARD):
                await fetched_once.wait()
            assert await emu.finish() == 2
            assert compositions.notify(created.id) == 1
            async with asyncio.timeout(GUARD):
                done = await waiter
            assert done.status is CompositionStatus.COMPLETED
            assert done.size_mb == emu.store.media_size / 1_000_000
            polls = [r for r in emu.requests if r.path == f"/v2/room_compositions/{created.id}"]
            # The fetch, the media_url fetch, then the two polls of wait().
            assert len(polls) == 4

            url = await compositions.media_url(created.id)
            assert url == done.download_url
            assert url.path == f"/_media/telnyx/{created.id}.mp4"

            seen: list[tuple[int, int | None]] = []
            result = await compositions.download(
                created.id, tmp_path, progress=lambda n, total: seen.append((n, total))
            )
            assert result.path == tmp_path / f"{created.id}.mp4"
            assert result.path.read_bytes() == emu.media_bytes(created.id)
            assert result.size == emu.store.media_size and result.content_type == "video/mp4"
            assert seen[-1] == (result.size, result.size)
            media_get = emu.requests[-1]
            assert media_get.path.startswith("/_media/")
            assert "Authorization" not in media_get.headers  # the URL is pre-signed

            await compositions.delete(created.id)
            assert created.id not in emu.store.telnyx
            with pytest.raises(NotFoundError) as info:
                await compositions.fetch(created.id)
            assert (info.value.status, info.value.code) == (404, "10005")
            assert await compositions.list(session_id=SESSION) == []
        assert client.closed and not http.closed  # a borrowed session stays open
    assert [r.method for r in emu.requests].count("POST") == 1


async def test_download_resumes_after_a_cut_connection(emu: Emulator, tmp_path: Path) -> None:
    (id,) = emu.seed_telnyx(1, media_size=300_000)
    emu.inject("truncate", path="/_media/*")
    async with emu.telnyx_client(retry=FAST) as client:
        result = await client.compositions.download(id, tmp_path / "out.mp4")
    assert result.path is not None and result.path.read_bytes() == emu.media_bytes(id)
    first, second = [r for r in emu.requests if r.path.startswith("/_media/")]
    assert first.fault == "truncate" and "Range" not in first.headers
    assert second.headers["Range"].startswith("bytes=") and second.status == 206
    assert os.listdir(tmp_path) == ["out.mp4"]  # no partial file left behind


# -- errors in Telnyx's shape -----------------------------------------------------------------


async def test_wrong_api_key_raises_authentication_error_with_request_id(emu: Emulator) -> None:
    wrong = "WRONG-KEY"
    async with emu.telnyx_client(api_key=wrong, retry=FAST) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.compositions.list()
    err = info.value
    (request,) = emu.requests  # a 401 is never retried
    assert (err.status, err.code) == (401, "10009")
    assert err.request_id == request.request_id and err.request_id
    assert err.errors[0]["code"] == "10009"
    assert json.loads(err.body)["errors"][0]["code"] == "10009"
    assert wrong not in str(err) and wrong not in repr(err)


async def test_validation_errors_in_telnyxs_shape(emu: Emulator) -> None:
    async with emu.telnyx_client(retry=FAST) as client:
        with pytest.raises(UnprocessableEntityError) as info:
            # Within what the client can check; the server wants positions >= 0.
            await client.compositions.create(
                session_id=SESSION,
                video_layout={"a": {"x_pos": -1}, "b": {"y_pos": -5}},
            )
    err = info.value
    assert (err.status, err.code) == (422, "10015")
    assert [e["source"]["pointer"] for e in err.errors] == [
        "/video_layout/a/x_pos",
        "/video_layout/b/y_pos",
    ]
    assert "x_pos" in err.message and "(and 1 more error)" in err.message
    assert err.request_id == emu.requests[0].request_id
    assert len(emu.requests) == 1 and emu.store.telnyx == {}


async def test_missing_session_id_is_reported_by_the_server(emu: Emulator) -> None:
    async with emu.telnyx_client(retry=FAST) as client:
        with pytest.raises(UnprocessableEntityError) as info:
            await client.compositions.create(resolution="640x360")
    err = info.value
    assert (err.status, err.code) == (422, "10004")
    assert err.errors[0]["source"] == {"pointer": "/session_id"}
    assert err.errors[0]["title"] == "Invalid parameter"
    assert json.loads(emu.requests[0].body) == {"resolution": "640x360"}


async def test_other_statuses_map_to_their_error_classes(emu: Emulator) -> None:
    emu.inject("status", status=400, method="GET")
    emu.inject("status", status=403, method="GET")
    async with emu.telnyx_client(retry=FAST) as client:
        with pytest.raises(BadRequestError) as bad:
            await client.compositions.list()
        with pytest.raises(PermissionDeniedError) as denied:
            await client.compositions.list()
        with pytest.raises(NotFoundError) as missing:
            await client.compositions.delete(MISSING)
    assert (bad.value.status, bad.value.code) == (400, "10015")
    assert (denied.value.status, denied.value.code) == (403, "10010")
    assert (missing.value.status, missing.value.code) == (404, "10005")
    assert missing.value.request_id == emu.requests[-1].request_id
    assert len(emu.requests) == 3  # none of these is retried


# -- webhooks ---------------------------------------------------------------------------------


async def test_completed_event_arrives_signed_with_ed25519(
    emu: Emulator, receiver: Receiver
) -> None:
    async with emu.telnyx_client() as client:
        created = await client.compositions.create(
            session_id=SESSION, webhook_event_url=f"{receiver.url}/hooks/telnyx"
        )
        await emu.finish()
        assert await emu.wait_webhooks(timeout=GUARD)
        done = await client.compositions.fetch(created.id)
    ((path, headers, body),) = receiver.posts
    assert path == "/hooks/telnyx" and headers["Content-Type"] == "application/json"
    event = verify(body, headers, emu.telnyx_public_key)
    assert event.event_type == "video.room.composition.completed"
    assert event.id == created.id and event.session_id == SESSION
    assert event.download_url == done.download_url
    assert event.size_mb == done.size_mb and event.duration_secs == done.duration_secs
    assert event.room_id == done.room_id
    # Any change to the body, or another key, fails verification.
    with pytest.raises(WebhookVerificationError):
        verify(body.replace(b"completed", b"started!!"), headers, emu.telnyx_public_key)
    async with Emulator() as other:
        with pytest.raises(WebhookVerificationError):
            verify(body, headers, other.telnyx_public_key)
    # A delivery replayed long after it was signed is refused as stale.
    stamp = int(headers["telnyx-timestamp"])
    with pytest.raises(WebhookVerificationError):
        verify(body, headers, emu.telnyx_public_key, now=stamp + 301)
    assert verify(body, headers, emu.telnyx_public_key, now=stamp + 300).id == created.id
    assert [d.ok for d in emu.webhook_deliveries] == [True]
