"""TwilioClient end to end against the emulator over real sockets.

Every verb, errors in Twilio's shape, status callbacks, and the client's hygiene: its
session and event loop, timeouts, and the connection pool. Paging is in
test_twilio_paging.py, retries in test_twilio_retries.py and test_retry_safety.py, the
bytes on the wire in test_twilio_wire.py.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import urllib.parse
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from helpers import basic_auth, stray_tasks, unused_port

from async_compositions import (
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CompositionStatus,
    NotFoundError,
    RetryPolicy,
    TwilioClient,
)
from async_compositions.emulator import Emulator
from async_compositions.twilio import Composition, VideoRegion
from async_compositions.twilio.webhooks import parse_status_callback, validate_signature

ROOM = "RM" + "a1" * 16
GUARD = 5.0  # seconds; only stops a broken test from hanging, never asserted on
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)
NO_LIMIT = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=None, sock_read=None)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=21, manual=True) as emulator:
        yield emulator


@pytest.fixture
def sids(emu: Emulator) -> list[str]:
    """Five completed compositions, newest first (as listed)."""
    return emu.seed_twilio(5)[::-1]


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[TwilioClient]:
    async with emu.twilio_client(retry=None) as c:
        yield c


class Receiver:
    """A status-callback endpoint on 127.0.0.1 (the user's app, not an API back-end)."""

    def __init__(self) -> None:
        self.url = ""
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            self.posts.append((request.raw_path, dict(request.headers), await request.read()))
            return web.Response(status=204)

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


def run_in_thread(coro: Coroutine[Any, Any, Any], *, new_loop: bool) -> BaseException | None:
    """Run ``coro`` on a fresh event loop in another thread; return what it raised."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            if new_loop:
                loop = asyncio.new_event_loop()
                try:
                    loop.run_until_complete(coro)
                finally:
                    loop.close()
            else:
                asyncio.run(coro)
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(GUARD)
    return outcome[0]


# -- every verb -------------------------------------------------------------------------------


async def test_every_verb_against_the_emulator(emu: Emulator, tmp_path: Path) -> None:
    fetched_once = asyncio.Event()

    async def on_response(
        session: aiohttp.ClientSession, ctx: object, params: aiohttp.TraceRequestEndParams
    ) -> None:
        if params.method == "GET" and params.url.path.startswith("/v1/Compositions/CJ"):
            fetched_once.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_response)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        async with emu.twilio_client(session=http, retry=None) as client:
            compositions = client.compositions
            created = await compositions.create(
                ROOM,
                audio_sources=["*"],
                video_layout={"grid": {"video_sources": ["*"]}},
                format="mp4",
            )
            assert isinstance(created, Composition)
            assert created.status is CompositionStatus.ENQUEUED
            assert created.room_sid == ROOM and created.account_sid == emu.twilio_account_sid
            assert created.sid in emu.store.twilio

            fetched = await compositions.fetch(created.sid)
            assert fetched == created

            page = await compositions.page(room_sid=ROOM)
            assert [c.sid for c in page.items] == [created.sid] and not page.has_next
            assert [c.sid async for c in compositions.stream(room_sid=ROOM)] == [created.sid]
            assert [c.sid for c in await compositions.list(room_sid=ROOM)] == [created.sid]

            # wait(): its first poll sees the composition enqueued; it then completes, and a
            # notify() (what a status-callback handler calls) wakes the waiter long before
            # its next poll would be due.
            fetched_once.clear()
            waiter = asyncio.create_task(compositions.wait(created.sid, poll_interval=60))
            async with asyncio.timeout(GUARD):
                await fetched_once.wait()
            assert await emu.finish() == 2
            assert compositions.notify(created.sid) == 1
            async with asyncio.timeout(GUARD):
                done = await waiter
            assert done.status is CompositionStatus.COMPLETED and done.size == emu.store.media_size
            polls = [r for r in emu.requests if r.path == f"/v1/Compositions/{created.sid}"]
            assert len(polls) == 3  # the fetch above, then the two polls of wait()

            url = await compositions.media_url(created.sid, ttl=60)
            assert url.path == f"/_media/twilio/{emu.twilio_account_sid}/{created.sid}.mp4"
            assert url.query["X-Amz-Expires"] == "60"
            assert emu.requests[-1].query_string == "Ttl=60"

            seen: list[tuple[int, int | None]] = []
            result = await compositions.download(
                created.sid, tmp_path, progress=lambda done, total: seen.append((done, total))
            )
            assert result.path == tmp_path / f"{created.sid}.mp4"
            assert result.path.read_bytes() == emu.media_bytes(created.sid)
            assert result.size == emu.store.media_size and result.content_type == "video/mp4"
            assert seen[-1] == (result.size, result.size)
            media_get = emu.requests[-1]
            assert (
                media_get.path.startswith("/_media/") and "Authorization" not in media_get.headers
            )

            await compositions.delete(created.sid)
            deleted = await compositions.fetch(created.sid)
            assert deleted.status is CompositionStatus.DELETED and deleted.date_deleted is not None
            assert await compositions.list(room_sid=ROOM) == []
            with pytest.raises(NotFoundError) as info:
                await compositions.delete(created.sid)
            assert (info.value.status, info.value.code) == (404, 20404)
        assert client.closed and not http.closed  # a borrowed session stays open
    assert [r.method for r in emu.requests].count("POST") == 1


async def test_lifecycle_with_an_api_key(emu: Emulator, sids: list[str]) -> None:
    async with emu.twilio_client(
        api_key=emu.twilio_api_key_sid, api_secret=emu.twilio_api_key_secret
    ) as client:
        created = await client.compositions.create(
            ROOM,
            video_layout={"grid": VideoRegion(video_sources=["cam*"], max_columns=2)},
            audio_sources=["mic*"],
            format="mp4",
            trim=False,
        )
        grid = created.video_layout["grid"] if created.video_layout else None
        assert grid is not None and (grid.video_sources, grid.max_columns) == (["cam*"], 2)
        assert (created.format, created.trim, created.audio_sources) == ("mp4", False, ["mic*"])
        enqueued = await client.compositions.list(status="enqueued")
        assert [c.sid for c in enqueued] == [created.sid]
        await client.compositions.delete(created.sid)
        assert [c.sid for c in await client.compositions.list()] == sids  # deleted: left out
        assert [c.sid for c in await client.compositions.list(status="deleted")] == [created.sid]
    assert client.closed
    auth = basic_auth(emu.twilio_api_key_sid, emu.twilio_api_key_secret)
    assert {r.headers["Authorization"] for r in emu.requests} == {auth}


# -- errors in Twilio's shape -----------------------------------------------------------------


async def test_wrong_credentials_raise_authentication_error_with_request_id(
    emu: Emulator,
) -> None:
    async with emu.twilio_client(auth_token="0" * 32, retry=FAST) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.compositions.list()
    err = info.value
    (request,) = emu.requests  # a 401 is never retried
    assert (err.status, err.code, err.message) == (401, 20003, "Authenticate")
    assert err.request_id == request.request_id and err.request_id.startswith("RQ")
    assert json.loads(err.body)["code"] == 20003
    assert emu.twilio_auth_token not in str(err) and "0" * 32 not in repr(err)


async def test_validation_error_in_twilios_shape(emu: Emulator) -> None:
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(BadRequestError) as info:
            # Within Twilio's documented ranges; the server knows the region is off-canvas
            # for the default 640x480 composition.
            await client.compositions.create(
                ROOM, video_layout={"grid": {"video_sources": ["*"], "x_pos": 1000}}
            )
    err = info.value
    assert (err.status, err.code) == (400, 20001)
    assert "x_pos" in err.message
    assert err.more_info == "https://www.twilio.com/docs/errors/20001"
    assert err.request_id == emu.requests[0].request_id
    assert len(emu.requests) == 1 and emu.store.twilio == {}


async def test_deleting_a_failed_composition_is_a_bad_request_and_a_missing_one_not_found(
    emu: Emulator,
) -> None:
    (sid,) = emu.seed_twilio(1, status="failed")
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(BadRequestError) as info:
            await client.compositions.delete(sid)
        with pytest.raises(NotFoundError) as missing:
            await client.compositions.fetch("CJ" + "0" * 32)
    assert info.value.code == 20001 and "Failed compositions" in info.value.message
    err = missing.value
    assert (err.status, err.code) == (404, 20404)
    assert err.more_info == "https://www.twilio.com/docs/errors/20404"
    assert err.request_id == emu.requests[-1].request_id
    assert json.loads(err.body) == {
        "code": 20404,
        "message": f"The requested resource /Compositions/CJ{'0' * 32} was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }
    assert len(emu.requests) == 2  # neither is retried


# -- status callbacks -------------------------------------------------------------------------


async def test_status_callbacks_arrive_signed_for_the_receivers_url(
    emu: Emulator, receiver: Receiver
) -> None:
    callback = f"{receiver.url}/hooks/twilio?tenant=7"
    async with emu.twilio_client() as client:
        created = await client.compositions.create(
            ROOM, audio_sources=["*"], status_callback=callback
        )
    await emu.finish()
    assert await emu.wait_webhooks(timeout=GUARD)
    events = []
    for raw_path, headers, body in receiver.posts:
        assert receiver.url + raw_path == callback
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        signature = headers["X-Twilio-Signature"]
        assert validate_signature(callback, form, signature, emu.twilio_auth_token)
        assert not validate_signature(callback, form, signature, "wrong" + "0" * 27)
        assert not validate_signature(
            receiver.url + "/other", form, signature, emu.twilio_auth_token
        )
        tampered = {**form, "CompositionSid": "CJ" + "f" * 32}
        assert not validate_signature(callback, tampered, signature, emu.twilio_auth_token)
        events.append(parse_status_callback(form))
    assert [e.event for e in events] == [
        "composition-started",
        "composition-progress",
        "composition-available",
    ]
    assert all(e.id == created.sid and e.room_sid == ROOM for e in events)
    available = events[-1]
    assert available.size == emu.store.media_size
    assert available.media_uri == f"/v1/Compositions/{created.sid}/Media"
    assert events[1].percentage_done == 100
    assert all(d.ok for d in emu.webhook_deliveries)


# -- session hygiene --------------------------------------------------------------------------


def test_constructed_outside_a_loop_then_used_inside_one() -> None:
    port = unused_port()
    # No loop is running here: construction must not need one, nor open anything.
    emu = Emulator(manual=True, port=port)
    client = TwilioClient(
        emu.twilio_account_sid, emu.twilio_auth_token, base_url=f"http://127.0.0.1:{port}/v1"
    )

    async def use() -> tuple[list[str], list[str]]:
        async with emu, client:
            listed = emu.seed_twilio(2)[::-1]
            return listed, [c.sid async for c in client.compositions.stream()]

    listed, got = asyncio.run(use())
    assert got == listed
    assert client.closed


def test_an_unused_client_leaves_nothing_to_close() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = TwilioClient("AC" + "0" * 32, "token")
        del client
        gc.collect()
    assert caught == []


async def test_borrowed_session_is_left_open(emu: Emulator, sids: list[str]) -> None:
    sent: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        sent.append(params.method)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = emu.twilio_client(session=session)
        await client.compositions.fetch(sids[0])
        await client.aclose()
        assert client.closed
        assert not session.closed
        async with session.get(f"{emu.twilio_base_url}/Compositions/{sids[0]}") as resp:
            assert resp.status == 401  # still usable, and our credentials did not stick to it
    assert sent == ["GET", "GET"]
    assert "Authorization" not in emu.requests[1].headers


async def test_closed_borrowed_session_is_a_clear_error(emu: Emulator, sids: list[str]) -> None:
    session = aiohttp.ClientSession()
    await session.close()
    client = emu.twilio_client(session=session)
    with pytest.raises(RuntimeError, match="session"):
        await client.compositions.fetch(sids[0])
    with pytest.raises(RuntimeError, match="session"):
        async with client:
            pass
    await client.aclose()
    assert emu.requests == []


async def test_aclose_is_idempotent_and_use_after_close_fails(
    emu: Emulator, sids: list[str]
) -> None:
    client = emu.twilio_client()
    await client.compositions.fetch(sids[0])
    await client.aclose()
    await client.aclose()
    assert client.closed
    assert "closed" in repr(client)
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: client.compositions.fetch(sids[0]),
        lambda: client.compositions.delete(sids[0]),
        lambda: client.compositions.create(ROOM, audio_sources=["*"]),
        lambda: client.compositions.page(),
        lambda: client.compositions.list(),
    ]
    for call in calls:
        with pytest.raises(RuntimeError, match="closed"):
            await call()
    with pytest.raises(RuntimeError, match="closed"):
        async for _ in client.compositions.stream():
            pass
    with pytest.raises(RuntimeError, match="closed"):
        async with client:
            pass
    assert len(emu.requests) == 1
    assert stray_tasks() == set()


@pytest.mark.parametrize("new_loop", [False, True], ids=["asyncio.run", "new_event_loop"])
async def test_use_from_another_event_loop_is_refused(
    emu: Emulator, sids: list[str], client: TwilioClient, new_loop: bool
) -> None:
    await client.compositions.fetch(sids[0])  # binds the client to this loop

    async def list_all() -> list[Composition]:
        return [c async for c in client.compositions.stream()]

    for coro in (client.compositions.fetch(sids[1]), list_all()):
        error = run_in_thread(coro, new_loop=new_loop)
        assert isinstance(error, RuntimeError)
        assert "event loop" in str(error)
    assert len(emu.requests) == 1
    # The client still works in its own loop.
    assert (await client.compositions.fetch(sids[2])).sid == sids[2]


# -- timeouts ------------------------------------------------------------------------------------


async def test_client_timeout_reaches_aiohttp(emu: Emulator, sids: list[str]) -> None:
    hold = emu.hold()
    async with emu.twilio_client(timeout=0.2, retry=None) as client:
        assert client.timeout.total == 0.2
        with pytest.raises(APITimeoutError):
            await client.compositions.fetch(sids[0])
    assert len(emu.requests) == len(hold.arrived) == 1


async def test_per_call_timeout_overrides_the_client(emu: Emulator, sids: list[str]) -> None:
    hold = emu.hold(method="GET")
    async with emu.twilio_client(timeout=None, retry=None) as client:
        with pytest.raises(APITimeoutError):
            await client.compositions.fetch(sids[0], timeout=0.2)
        with pytest.raises(APITimeoutError):
            await client.compositions.list(timeout=aiohttp.ClientTimeout(total=0.1))
        hold.lift()
        assert len(await client.compositions.list(timeout=0.5 * GUARD)) == 5
    assert len(hold.arrived) == 2


async def test_timeout_none_means_no_limit(emu: Emulator, sids: list[str]) -> None:
    emu.latency = 0.3
    # The borrowed session's own timeout is far shorter than the server takes.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.05)) as session:
        client = emu.twilio_client(session=session, timeout=None, retry=None)
        assert client.timeout == NO_LIMIT
        comp = await client.compositions.fetch(sids[0])
        assert comp.sid == sids[0]
        with pytest.raises(APITimeoutError):  # the same request under a limit times out
            await client.compositions.fetch(sids[0], timeout=0.05)
        await client.aclose()


def test_default_timeout_is_finite() -> None:
    client = TwilioClient("AC" + "0" * 32, "token")
    assert client.timeout.total is not None
    assert client.timeout.connect is not None


# -- connection pool ------------------------------------------------------------------------------


@pytest.mark.parametrize(("pool_size", "parallel"), [(2, 2), (0, 5)])
async def test_pool_size_bounds_concurrent_requests(
    emu: Emulator, sids: list[str], pool_size: int, parallel: int
) -> None:
    hold = emu.hold()
    async with emu.twilio_client(pool_size=pool_size) as client:
        fetches = [asyncio.create_task(client.compositions.fetch(sid)) for sid in sids]
        await hold.wait_held(parallel, timeout=GUARD)
        # Answer one at a time: each answer frees a connection for one more request.
        for answered in range(1, 6):
            assert emu.in_flight == min(parallel, 5 - answered + 1)
            assert hold.release(count=1) == 1
            await emu.wait_for_responses(answered, timeout=GUARD)
            await hold.wait_held(min(parallel, 5 - answered), timeout=GUARD)
        results = await asyncio.gather(*fetches)
    assert [c.sid for c in results] == sids
    assert emu.max_in_flight == parallel
    assert len(emu.requests) == 5
