"""TwilioClient against a real aiohttp.web server on 127.0.0.1: lifecycle and session hygiene."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import pytest
from twilio_server import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    ROOM_SID,
    TwilioServer,
    composition_sid,
    stray_tasks,
    unused_port,
)

from async_compositions import (
    APITimeoutError,
    AuthenticationError,
    CompositionStatus,
    NotFoundError,
    TwilioClient,
)
from async_compositions.twilio import Composition, VideoRegion

GUARD = 5.0  # seconds; only stops a broken test from hanging, never asserted on
NO_LIMIT = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=None, sock_read=None)


@pytest.fixture
async def server() -> AsyncIterator[TwilioServer]:
    async with TwilioServer(records=5) as srv:
        yield srv


@pytest.fixture
async def client(server: TwilioServer) -> AsyncIterator[TwilioClient]:
    async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=server.base_url, retry=None) as c:
        yield c


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


# -- a whole lifecycle ---------------------------------------------------------------------------


async def test_lifecycle_with_an_api_key() -> None:
    async with (
        TwilioServer(records=4, username=API_KEY, password=API_SECRET) as server,
        TwilioClient(api_key=API_KEY, api_secret=API_SECRET, base_url=server.base_url) as client,
    ):
        created = await client.compositions.create(
            ROOM_SID,
            video_layout={"grid": VideoRegion(video_sources=["cam*"], max_columns=2)},
            audio_sources=["mic*"],
            format="mp4",
            trim=False,
        )
        assert isinstance(created, Composition)
        assert created.sid == composition_sid(4)
        assert created.status is CompositionStatus.ENQUEUED
        assert created.video_layout == {"grid": VideoRegion(video_sources=["cam*"], max_columns=2)}
        assert (created.format, created.trim, created.audio_sources) == ("mp4", False, ["mic*"])

        fetched = await client.compositions.fetch(created.sid)
        assert fetched == created

        page = await client.compositions.page(page_size=2)
        assert [c.sid for c in page] == [composition_sid(0), composition_sid(1)]
        everything = [c.sid async for c in client.compositions.stream(page_size=2)]
        assert everything == [composition_sid(i) for i in range(5)]
        enqueued = await client.compositions.list(status="enqueued")
        assert [c.sid for c in enqueued] == [created.sid]

        await client.compositions.delete(created.sid)
        gone = await client.compositions.fetch(created.sid)
        assert gone.status is CompositionStatus.DELETED
        assert len(await client.compositions.list()) == 4  # deleted ones are left out
        assert [c.sid for c in await client.compositions.list(status="deleted")] == [created.sid]
    assert client.closed


async def test_not_found_from_the_server(server: TwilioServer, client: TwilioClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.compositions.fetch(composition_sid(99))
    err = info.value
    assert (err.status, err.code) == (404, 20404)
    assert err.more_info == "https://www.twilio.com/docs/errors/20404"
    assert err.request_id == f"RQ{0:032x}"
    assert err.body.startswith('{"code": 20404')


async def test_wrong_credentials(server: TwilioServer) -> None:
    async with TwilioClient(ACCOUNT_SID, "not-the-token", base_url=server.base_url) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.compositions.list()
    assert (info.value.status, info.value.code, info.value.message) == (401, 20003, "Authenticate")
    assert len(server.requests) == 1  # a 401 is not retried


# -- session hygiene -------------------------------------------------------------------------------


def test_constructed_outside_a_loop_then_used_inside_one() -> None:
    port = unused_port()
    # No loop is running here: construction must not need one, nor open anything.
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=f"http://127.0.0.1:{port}/v1")

    async def use() -> list[str]:
        async with TwilioServer(records=2, port=port), client:
            return [c.sid async for c in client.compositions.stream()]

    assert asyncio.run(use()) == [composition_sid(0), composition_sid(1)]
    assert client.closed


def test_an_unused_client_leaves_nothing_to_close() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN)
        del client
        gc.collect()
    assert caught == []


async def test_borrowed_session_is_left_open(server: TwilioServer) -> None:
    sent: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        sent.append(params.method)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=server.base_url, session=session)
        await client.compositions.fetch(composition_sid(0))
        await client.aclose()
        assert client.closed
        assert not session.closed
        async with session.get(f"{server.base_url}/Compositions/{composition_sid(0)}") as resp:
            assert resp.status == 401  # still usable, and our credentials did not stick to it
    assert sent == ["GET", "GET"]


async def test_closed_borrowed_session_is_a_clear_error(server: TwilioServer) -> None:
    session = aiohttp.ClientSession()
    await session.close()
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=server.base_url, session=session)
    with pytest.raises(RuntimeError, match="session"):
        await client.compositions.fetch(composition_sid(0))
    with pytest.raises(RuntimeError, match="session"):
        async with client:
            pass
    await client.aclose()
    assert server.requests == []


async def test_aclose_is_idempotent_and_use_after_close_fails(server: TwilioServer) -> None:
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=server.base_url)
    await client.compositions.fetch(composition_sid(0))
    await client.aclose()
    await client.aclose()
    assert client.closed
    assert "closed" in repr(client)
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: client.compositions.fetch(composition_sid(0)),
        lambda: client.compositions.delete(composition_sid(0)),
        lambda: client.compositions.create(ROOM_SID, audio_sources=["*"]),
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
    assert len(server.requests) == 1
    assert stray_tasks() == set()


@pytest.mark.parametrize("new_loop", [False, True], ids=["asyncio.run", "new_event_loop"])
async def test_use_from_another_event_loop_is_refused(
    server: TwilioServer, client: TwilioClient, new_loop: bool
) -> None:
    await client.compositions.fetch(composition_sid(0))  # binds the client to this loop

    async def list_all() -> list[Composition]:
        return [c async for c in client.compositions.stream()]

    for coro in (client.compositions.fetch(composition_sid(1)), list_all()):
        error = run_in_thread(coro, new_loop=new_loop)
        assert isinstance(error, RuntimeError)
        assert "event loop" in str(error)
    assert len(server.requests) == 1
    # The client still works in its own loop.
    assert (await client.compositions.fetch(composition_sid(2))).sid == composition_sid(2)


# -- timeouts ------------------------------------------------------------------------------------


async def test_client_timeout_reaches_aiohttp(server: TwilioServer) -> None:
    server.hold()
    async with TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=server.base_url, timeout=0.2, retry=None
    ) as client:
        assert client.timeout.total == 0.2
        with pytest.raises(APITimeoutError):
            await client.compositions.fetch(composition_sid(0))
    assert len(server.requests) == 1


async def test_per_call_timeout_overrides_the_client(server: TwilioServer) -> None:
    release = server.hold(method="GET")
    async with TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=server.base_url, timeout=None, retry=None
    ) as client:
        with pytest.raises(APITimeoutError):
            await client.compositions.fetch(composition_sid(0), timeout=0.2)
        with pytest.raises(APITimeoutError):
            await client.compositions.list(timeout=aiohttp.ClientTimeout(total=0.1))
        release.set()
        assert len(await client.compositions.list(timeout=0.5 * GUARD)) == 5


async def test_timeout_none_means_no_limit(server: TwilioServer) -> None:
    server.latency = 0.3
    # The borrowed session's own timeout is far shorter than the server takes.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.05)) as session:
        client = TwilioClient(
            ACCOUNT_SID,
            AUTH_TOKEN,
            base_url=server.base_url,
            session=session,
            timeout=None,
            retry=None,
        )
        assert client.timeout == NO_LIMIT
        comp = await client.compositions.fetch(composition_sid(0))
        assert comp.sid == composition_sid(0)
        with pytest.raises(APITimeoutError):  # the same request under a limit times out
            await client.compositions.fetch(composition_sid(0), timeout=0.05)
        await client.aclose()


def test_default_timeout_is_finite() -> None:
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN)
    assert client.timeout.total is not None
    assert client.timeout.connect is not None


# -- connection pool ------------------------------------------------------------------------------


@pytest.mark.parametrize(("pool_size", "parallel"), [(2, 2), (0, 5)])
async def test_pool_size_bounds_concurrent_requests(
    server: TwilioServer, pool_size: int, parallel: int
) -> None:
    release = server.hold()
    async with TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=server.base_url, pool_size=pool_size
    ) as client:
        fetches = [
            asyncio.create_task(client.compositions.fetch(composition_sid(i))) for i in range(5)
        ]
        async with asyncio.timeout(GUARD):
            await server.wait_for_requests(parallel)
        await asyncio.sleep(0.05)  # room for any request the pool would wrongly let through
        assert server.in_flight == parallel
        release.set()
        results = await asyncio.gather(*fetches)
    assert [c.sid for c in results] == [composition_sid(i) for i in range(5)]
    assert server.max_in_flight == parallel
    assert len(server.requests) == 5
