"""TelnyxClient against a real aiohttp.web server on 127.0.0.1: wire bytes, paging, prefetch."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
from telnyx_server import API_KEY, LoggedRequest, TelnyxServer, make_record, record_id

from async_compositions import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    ResponseDecodeError,
    RetryPolicy,
    TelnyxClient,
)
from async_compositions.telnyx import RoomComposition, VideoRegion

NO_WAIT = RetryPolicy(jitter=lambda _: 0.0)
SESSION = "8f728d7b-00e2-4c59-8c27-f564b828df87"
# A safety net so a broken client fails the test instead of hanging it; never a measurement.
GUARD = 10


def records(n: int, **kwargs: Any) -> list[dict[str, Any]]:
    return [make_record(i, **kwargs) for i in range(1, n + 1)]


def ids(items: list[RoomComposition]) -> list[str]:
    return [c.id for c in items]


@contextlib.asynccontextmanager
async def serve(n: int = 0, **kwargs: Any) -> AsyncIterator[tuple[TelnyxServer, TelnyxClient]]:
    async with (
        TelnyxServer(records(n)) as server,
        TelnyxClient(API_KEY, base_url=server.base_url, retry=NO_WAIT, **kwargs) as client,
    ):
        yield server, client


async def wait_until(server: TelnyxServer, predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(GUARD):
        await server.wait_until(predicate)


class Sink:
    """What a consumer has received so far; tests can wait for it to reach a count."""

    def __init__(self) -> None:
        self.items: list[RoomComposition] = []
        self._grew = asyncio.Event()

    def add(self, item: RoomComposition) -> None:
        self.items.append(item)
        self._grew.set()

    def __len__(self) -> int:
        return len(self.items)

    async def reach(self, count: int) -> None:
        async with asyncio.timeout(GUARD):
            while len(self.items) < count:
                self._grew.clear()
                await self._grew.wait()


def fetch_tasks() -> list[asyncio.Task[Any]]:
    """Page requests of the library still alive in this loop."""
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done() and "ResourceCore._fetch_body" in getattr(t.get_coro(), "__qualname__", "")
    ]


def page_numbers(requests: list[LoggedRequest]) -> list[int]:
    return [r.page_number for r in requests]


# -- wire format ----------------------------------------------------------------------------


async def test_list_request_target_bytes_and_bearer() -> None:
    async with serve(5) as (server, client):
        items = await client.compositions.list(
            status="completed",
            session_id=SESSION,
            date_created_on=date(2024, 1, 2),
            date_created_after=date(2024, 1, 1),
            date_created_before=date(2024, 1, 31),
            page_size=2,
        )
    assert ids(items) == [record_id(i) for i in range(1, 6)]
    first, second, third = server.list_requests()
    filters = (
        "/v2/room_compositions?filter%5Bdate_created_at%5D%5Beq%5D=2024-01-02"
        "&filter%5Bdate_created_at%5D%5Bgte%5D=2024-01-01"
        "&filter%5Bdate_created_at%5D%5Blte%5D=2024-01-31"
        f"&filter%5Bsession_id%5D={SESSION}&filter%5Bstatus%5D=completed&page%5Bsize%5D=2"
    )
    assert first.raw_target == filters
    assert second.raw_target == f"{filters}&page%5Bnumber%5D=2"
    assert third.raw_target == f"{filters}&page%5Bnumber%5D=3"
    for request in server.requests:
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        assert request.headers["Accept"] == "application/json"


async def test_create_fetch_delete_on_the_wire() -> None:
    async with serve() as (server, client):
        created = await client.compositions.create(
            session_id=SESSION,
            format="mp4",
            resolution="640x480",
            video_layout={"grid": VideoRegion(width=640, height=480, max_columns=2)},
            webhook_event_url="https://hooks.example.com/telnyx",
        )
        fetched = await client.compositions.fetch(created.id)
        await client.room_compositions.delete(created.id)
        with pytest.raises(NotFoundError) as info:
            await client.compositions.fetch(created.id)
    assert fetched == created
    assert created.resolution == "640x480"
    assert created.video_layout == {"grid": VideoRegion(width=640, height=480, max_columns=2)}
    post, get, delete, missing = server.requests
    assert (post.method, post.raw_target) == ("POST", "/v2/room_compositions")
    assert post.headers["Content-Type"] == "application/json"
    assert post.body == (
        b'{"format":"mp4","resolution":"640x480",'
        b'"session_id":"8f728d7b-00e2-4c59-8c27-f564b828df87",'
        b'"video_layout":{"grid":{"height":480,"max_columns":2,"width":640}},'
        b'"webhook_event_url":"https://hooks.example.com/telnyx"}'
    )
    assert (get.method, get.raw_target) == ("GET", f"/v2/room_compositions/{created.id}")
    assert (delete.method, delete.raw_target) == ("DELETE", f"/v2/room_compositions/{created.id}")
    assert delete.body == b""
    assert missing.method == "GET"
    assert info.value.code == "10005"
    assert info.value.request_id == "req-4"


async def test_wrong_key_is_an_authentication_error() -> None:
    async with (
        TelnyxServer() as server,
        TelnyxClient("WRONG-KEY", base_url=server.base_url) as client,
    ):
        with pytest.raises(AuthenticationError) as info:
            await client.compositions.list()
    assert info.value.code == "10009"
    assert "WRONG-KEY" not in str(info.value)
    assert len(server.requests) == 1


# -- paging and limit ---------------------------------------------------------------------


async def test_stream_ends_at_total_pages() -> None:
    async with serve(40) as (server, client):
        items = [c async for c in client.compositions.stream(page_size=20)]
    assert ids(items) == [record_id(i) for i in range(1, 41)]
    # Two full pages: no request for a third page.
    assert page_numbers(server.list_requests()) == [1, 2]


async def test_default_page_size_and_last_partial_page() -> None:
    async with serve(45) as (server, client):
        items = await client.compositions.list()
    assert len(items) == 45
    assert page_numbers(server.list_requests()) == [1, 2, 3]
    assert "page%5Bsize%5D" not in server.list_requests()[0].raw_target


async def test_empty_listing_is_one_request() -> None:
    async with serve(0) as (server, client):
        assert await client.compositions.list() == []
    assert len(server.list_requests()) == 1


@pytest.mark.parametrize(
    ("limit", "page_size", "expected_pages", "sent_size"),
    [
        (10, None, [1], "10"),  # a small limit asks for a small page
        (25, 10, [1, 2, 3], "10"),
        (20, 10, [1, 2], "10"),
        (300, None, [1, 2], "250"),
    ],
)
async def test_limit_stops_requesting(
    limit: int, page_size: int | None, expected_pages: list[int], sent_size: str
) -> None:
    async with serve(600) as (server, client):
        items = await client.compositions.list(limit=limit, page_size=page_size)
    assert ids(items) == [record_id(i) for i in range(1, limit + 1)]
    requests = server.list_requests()
    assert page_numbers(requests) == expected_pages
    assert {r.query["page[size]"] for r in requests} == {sent_size}


async def test_limit_with_prefetch_requests_no_more_than_needed() -> None:
    async with serve(100) as (server, client):
        stream = client.compositions.stream(limit=30, page_size=10, prefetch=8)
        items = [c async for c in stream]
    assert len(items) == 30
    assert sorted(page_numbers(server.list_requests())) == [1, 2, 3]


async def test_page_resumes_by_number() -> None:
    async with serve(7) as (server, client):
        first = await client.compositions.page(page_size=3)
        assert first.next_page_number == 2
        resumed = await client.compositions.page(page_size=3, page_number=first.next_page_number)
        last = await resumed.next_page()
        assert last is not None
        assert await last.next_page() is None
    assert ids(first.items) == [record_id(i) for i in (1, 2, 3)]
    assert ids(resumed.items) == [record_id(i) for i in (4, 5, 6)]
    assert ids(last.items) == [record_id(7)]
    assert (last.page_number, last.total_pages, last.total_results, last.has_next) == (
        3,
        3,
        7,
        False,
    )
    assert page_numbers(server.list_requests()) == [1, 2, 3]


async def test_response_without_meta_raises_instead_of_paging_forever() -> None:
    async with serve(10) as (server, client):
        server.omit_meta = True
        with pytest.raises(ResponseDecodeError, match="meta"):
            await client.compositions.list(page_size=2)
    assert len(server.list_requests()) == 1


async def test_server_ignoring_page_number_raises_instead_of_looping() -> None:
    async with serve(10) as (server, client):
        server.pin_page = 1
        seen: list[RoomComposition] = []
        with pytest.raises(ResponseDecodeError, match="repeated"):
            async for c in client.compositions.stream(page_size=2):
                seen.append(c)
    assert ids(seen) == [record_id(1), record_id(2)]
    assert len(server.list_requests()) == 2


async def test_list_page_retried_on_5xx() -> None:
    async with serve(3) as (server, client):
        server.inject(500, "boom", method="GET", times=2)
        items = await client.compositions.list()
    assert len(items) == 3
    assert len(server.list_requests()) == 3


async def test_error_on_a_later_page_is_raised_when_reached() -> None:
    async with serve(6) as (server, client):
        server.inject(
            400,
            {
                "errors": [
                    {"code": "10015", "title": "Bad", "source": {"parameter": "page[number]"}}
                ]
            },
            page=2,
        )
        seen: list[RoomComposition] = []
        with pytest.raises(BadRequestError) as info:
            async for c in client.compositions.stream(page_size=2, prefetch=4):
                seen.append(c)
    # Page 1 was delivered in full before page 2's error surfaced.
    assert ids(seen) == [record_id(1), record_id(2)]
    assert info.value.message == "Bad (parameter page[number])"
    assert fetch_tasks() == []


async def test_a_malformed_prefetched_page_is_raised_when_reached() -> None:
    # Page 2 arrives at once but its body is parsed only when the consumer reaches it.
    async with serve(6) as (server, client):
        server.inject(
            200, b'{"data": [{"id": ', headers={"Content-Type": "application/json"}, page=2
        )
        sink = Sink()
        gate = asyncio.Event()
        task = asyncio.create_task(
            consume(client.compositions.stream(page_size=2, prefetch=4), sink, gate)
        )
        await sink.reach(1)
        await wait_until(server, lambda: len(server.list_requests()) == 3)
        assert not task.done()  # the bad page is in memory, unread
        gate.set()
        with pytest.raises(ResponseDecodeError, match="not valid JSON") as info:
            async with asyncio.timeout(GUARD):
                await task
    assert ids(sink.items) == [record_id(1), record_id(2)]
    assert info.value.status == 200
    assert fetch_tasks() == []


# -- prefetch -------------------------------------------------------------------------------


async def consume(stream: AsyncIterator[RoomComposition], out: Sink, gate: asyncio.Event) -> None:
    """Collect a stream, pausing after the first item until ``gate`` opens."""
    async for c in stream:
        out.add(c)
        if len(out) == 1:
            await gate.wait()


async def test_prefetch_1_fetches_the_next_page_while_the_caller_works() -> None:
    async with serve(8) as (server, client):
        server.hold_lists = True
        got = Sink()
        gate = asyncio.Event()
        task = asyncio.create_task(consume(client.compositions.stream(page_size=2), got, gate))
        await wait_until(server, lambda: server.held_pages == [1])
        server.release(1)
        # The caller holds page 1's first item and has not asked for more: page 2 is on its way.
        await wait_until(server, lambda: server.held_pages == [2])
        assert len(got) == 1
        assert server.max_in_flight == 1
        gate.set()
        for n in (2, 3, 4):
            await wait_until(server, lambda n=n: server.held_pages == [n])  # type: ignore[misc]
            server.release(n)
        await task
    assert ids(got.items) == [record_id(i) for i in range(1, 9)]
    assert page_numbers(server.list_requests()) == [1, 2, 3, 4]
    assert server.max_in_flight == 1


async def test_prefetch_4_keeps_four_pages_in_flight_and_yields_in_order() -> None:
    async with serve(20) as (server, client):
        server.hold_lists = True
        got = Sink()
        gate = asyncio.Event()
        stream = client.compositions.stream(page_size=2, prefetch=4)
        task = asyncio.create_task(consume(stream, got, gate))
        await wait_until(server, lambda: server.held_pages == [1])
        server.release(1)
        await wait_until(server, lambda: sorted(server.held_pages) == [2, 3, 4, 5])
        assert len(got) == 1  # fetched ahead while the caller sits on page 1
        assert server.in_flight == 4
        gate.set()
        # Later pages finish first; the caller must still see page 2 before them.
        for n in (5, 4, 3):
            server.release(n)
        await got.reach(2)
        assert server.held_pages == [2]  # and nothing past page 5 was asked for yet
        server.release(2)
        await wait_until(server, lambda: sorted(server.held_pages) == [6, 7, 8, 9])
        for n in (9, 7, 8, 6):
            server.release(n)
        await wait_until(server, lambda: server.held_pages == [10])
        server.release(10)
        await task
    assert ids(got.items) == [record_id(i) for i in range(1, 21)]
    assert sorted(page_numbers(server.list_requests())) == list(range(1, 11))
    assert server.max_in_flight == 4


async def test_prefetch_stops_at_the_last_page() -> None:
    async with serve(6) as (server, client):
        items = [c async for c in client.compositions.stream(page_size=2, prefetch=8)]
    assert ids(items) == [record_id(i) for i in range(1, 7)]
    assert sorted(page_numbers(server.list_requests())) == [1, 2, 3]


# -- leaving early ------------------------------------------------------------------------


async def prime_prefetch(server: TelnyxServer) -> None:
    """Let page 1 through and wait until pages 2..5 are in flight."""
    await wait_until(server, lambda: server.held_pages == [1])
    server.release(1)
    await wait_until(server, lambda: sorted(server.held_pages) == [2, 3, 4, 5])


def assert_no_resource_warnings(caught: list[warnings.WarningMessage]) -> None:
    gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_break_with_aclosing_cancels_the_prefetches() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with serve(20) as (server, client):
            server.hold_lists = True

            async def first_item() -> RoomComposition | None:
                primed = asyncio.create_task(prime_prefetch(server))
                stream = client.compositions.stream(page_size=2, prefetch=4)
                async with contextlib.aclosing(stream) as items:
                    async for c in items:
                        await primed
                        return c
                return None

            async with asyncio.timeout(GUARD):
                item = await first_item()
            # aclose() has cancelled and awaited every page request in flight.
            assert fetch_tasks() == []
            assert len(server.list_requests()) == 5
        gc.collect()
    assert item is not None and item.id == record_id(1)
    assert_no_resource_warnings(caught)


async def test_bare_break_cleans_up_when_the_stream_is_dropped() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with serve(20) as (server, client):
            server.hold_lists = True
            primed = asyncio.create_task(prime_prefetch(server))
            async with asyncio.timeout(GUARD):
                async for _ in client.compositions.stream(page_size=2, prefetch=4):
                    await primed
                    break
            pending = fetch_tasks()
            assert len(pending) == 4
            # The dropped generator is closed by the event loop's finalizer hook.
            async with asyncio.timeout(GUARD):
                await asyncio.wait(pending)
            assert all(t.cancelled() for t in pending)
            assert len(server.list_requests()) == 5
        gc.collect()
    assert_no_resource_warnings(caught)


async def test_cancelling_the_consumer_cancels_the_prefetches() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with serve(20) as (server, client):
            server.hold_lists = True
            got = Sink()
            gate = asyncio.Event()
            gate.set()
            stream = client.compositions.stream(page_size=2, prefetch=4)
            task = asyncio.create_task(consume(stream, got, gate))
            await prime_prefetch(server)
            await got.reach(2)  # now waiting on page 2
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert fetch_tasks() == []
            assert len(server.list_requests()) == 5
        gc.collect()
    assert ids(got.items) == [record_id(1), record_id(2)]
    assert_no_resource_warnings(caught)


async def test_asyncio_timeout_around_the_stream_cancels_the_prefetches() -> None:
    async with serve(20) as (server, client):
        server.hold_lists = True
        got = Sink()
        loop = asyncio.get_running_loop()
        holder: list[asyncio.Timeout] = []

        async def consumer() -> None:
            async with asyncio.timeout(None) as deadline:
                holder.append(deadline)
                async for c in client.compositions.stream(page_size=2, prefetch=4):
                    got.add(c)

        task = asyncio.create_task(consumer())
        await prime_prefetch(server)
        await got.reach(2)
        holder[0].reschedule(loop.time())  # expire now, while page 2 is awaited
        with pytest.raises(TimeoutError):
            await task
        assert fetch_tasks() == []


async def test_client_close_cancels_an_abandoned_stream() -> None:
    async with TelnyxServer(records(20)) as server:
        server.hold_lists = True
        client = TelnyxClient(API_KEY, base_url=server.base_url)
        stream = client.compositions.stream(page_size=2, prefetch=4)
        primed = asyncio.create_task(prime_prefetch(server))
        async with asyncio.timeout(GUARD):
            first = await anext(stream)
            await primed
        await client.aclose()
        assert fetch_tasks() == []
        await stream.aclose()
    assert first.id == record_id(1)


# -- the collection changing mid-stream -----------------------------------------------------


def after_page_1(server: TelnyxServer, change: Callable[[], object]) -> None:
    """Change the records once page 1 is answered: before any later page is requested."""

    def hook(request: LoggedRequest) -> None:
        if request.page_number == 1:
            change()

    server.after_list = hook


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_insert_at_the_front_yields_nothing_twice(prefetch: int) -> None:
    async with serve(9) as (server, client):
        # Record 3 is pushed from page 1 onto page 2; total_pages grows from 3 to 4.
        after_page_1(server, lambda: server.records.insert(0, make_record(100)))
        items = [c async for c in client.compositions.stream(page_size=3, prefetch=prefetch)]
    assert ids(items) == [record_id(i) for i in range(1, 10)]
    assert sorted(page_numbers(server.list_requests())) == [1, 2, 3, 4]


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_removal_at_the_front_yields_nothing_twice(prefetch: int) -> None:
    async with serve(10) as (server, client):
        # Record 4 slides from page 2 onto page 1 (already read); total_pages drops to 3.
        after_page_1(server, lambda: server.records.pop(0))
        items = [c async for c in client.compositions.stream(page_size=3, prefetch=prefetch)]
    got = ids(items)
    assert len(got) == len(set(got))
    assert got == [record_id(i) for i in (1, 2, 3, 5, 6, 7, 8, 9, 10)]
    if prefetch == 1:
        # Page 2's meta already said there are only 3 pages: page 4 is never asked for.
        assert page_numbers(server.list_requests()) == [1, 2, 3]


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_total_pages_shrinking_ends_the_stream(prefetch: int) -> None:
    async with serve(9) as (server, client):
        # Six records vanish: total_pages drops from 3 to 1, so page 2 is the end.
        after_page_1(server, lambda: server.records.__delitem__(slice(0, 6)))
        items = [c async for c in client.compositions.stream(page_size=3, prefetch=prefetch)]
    assert ids(items) == [record_id(1), record_id(2), record_id(3)]
    assert fetch_tasks() == []


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_growing_collection_is_followed_to_its_new_end(prefetch: int) -> None:
    async with serve(6) as (server, client):
        after_page_1(server, lambda: server.records.extend(make_record(i) for i in range(7, 10)))
        items = [c async for c in client.compositions.stream(page_size=3, prefetch=prefetch)]
    assert ids(items) == [record_id(i) for i in range(1, 10)]
    assert sorted(page_numbers(server.list_requests())) == [1, 2, 3]


async def test_latency_does_not_change_results() -> None:
    async with (
        TelnyxServer(records(12), latency=0.01) as server,
        TelnyxClient(API_KEY, base_url=server.base_url) as client,
    ):
        items = [c async for c in client.compositions.stream(page_size=2, prefetch=4)]
    assert ids(items) == [record_id(i) for i in range(1, 13)]
    assert server.max_in_flight <= 4
