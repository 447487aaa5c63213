"""TelnyxClient paging against the emulator over real sockets: limits, prefetch, leaving early.

Holds gate the emulator's answers, so a test decides when each page's response goes out
and sees which pages a stream has asked for ahead of its consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import warnings
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import async_compositions
from async_compositions import (
    BadRequestError,
    ResponseDecodeError,
    RetryPolicy,
    TelnyxClient,
)
from async_compositions.emulator import Emulator, Hold, RecordedRequest
from async_compositions.telnyx import RoomComposition

API_KEY = "KEYtest0123456789_secret"
LISTING = "/v2/room_compositions"
NO_WAIT = RetryPolicy(jitter=lambda _: 0.0)
SESSION = "8f728d7b-00e2-4c59-8c27-f564b828df87"
OTHER_SESSION = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
# A safety net so a broken client fails the test instead of hanging it; never a measurement.
GUARD = 10


def ids(items: list[RoomComposition]) -> list[str]:
    return [c.id for c in items]


@contextlib.asynccontextmanager
async def serve(
    n: int = 0, *, latency: float = 0.0, **kwargs: Any
) -> AsyncIterator[tuple[Emulator, TelnyxClient, list[str]]]:
    """An emulator with ``n`` compositions, a client, and their ids in listing order."""
    async with (
        Emulator(manual=True, seed=29, telnyx_api_key=API_KEY, latency=latency) as emu,
        TelnyxClient(API_KEY, base_url=emu.telnyx_base_url, retry=NO_WAIT, **kwargs) as client,
    ):
        yield emu, client, emu.seed_telnyx(n)[::-1]


def listing(emu: Emulator) -> list[RecordedRequest]:
    """The listing requests, in arrival order."""
    return [r for r in emu.requests if r.page is not None]


def page_numbers(requests: list[RecordedRequest]) -> list[int | None]:
    return [r.page for r in requests]


def held_pages(hold: Hold) -> list[int | None]:
    return [r.page for r in hold.held]


async def until(emu: Emulator, predicate: Callable[[], bool]) -> None:
    await emu.wait_until(predicate, timeout=GUARD)


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
    library = str(Path(async_compositions.__file__).parent)
    return [
        t
        for t in asyncio.all_tasks()
        if not t.done()
        and getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "").startswith(library)
    ]


# -- paging and limit ---------------------------------------------------------------------


async def test_stream_ends_at_total_pages() -> None:
    async with serve() as (emu, client, _):
        listed = emu.seed_telnyx(40, session_id=SESSION)[::-1]
        emu.seed_telnyx(3, session_id=OTHER_SESSION)
        items = [c async for c in client.compositions.stream(session_id=SESSION, page_size=20)]
    assert ids(items) == listed
    # Two full pages: no request for a third page.
    first, second = listing(emu)
    assert page_numbers([first, second]) == [1, 2]
    assert first.query_string == f"filter%5Bsession_id%5D={SESSION}&page%5Bsize%5D=20"
    assert second.query_string == f"{first.query_string}&page%5Bnumber%5D=2"


async def test_default_page_size_and_last_partial_page() -> None:
    async with serve(45) as (emu, client, listed):
        items = await client.compositions.list()
    assert ids(items) == listed
    assert page_numbers(listing(emu)) == [1, 2, 3]
    assert "page%5Bsize%5D" not in listing(emu)[0].query_string


async def test_empty_listing_is_one_request() -> None:
    async with serve(0) as (emu, client, _):
        assert await client.compositions.list() == []
    assert len(listing(emu)) == 1


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
    async with serve(600) as (emu, client, listed):
        items = await client.compositions.list(limit=limit, page_size=page_size)
    assert ids(items) == listed[:limit]
    requests = listing(emu)
    assert page_numbers(requests) == expected_pages
    assert {r.query["page[size]"] for r in requests} == {sent_size}


async def test_limit_with_prefetch_requests_no_more_than_needed() -> None:
    async with serve(100) as (emu, client, listed):
        stream = client.compositions.stream(limit=30, page_size=10, prefetch=8)
        items = [c async for c in stream]
    assert ids(items) == listed[:30]
    assert sorted(page_numbers(listing(emu))) == [1, 2, 3]  # type: ignore[type-var]


async def test_page_resumes_by_number() -> None:
    async with serve() as (emu, client, _):
        listed = emu.seed_telnyx(7, session_id=SESSION)[::-1]
        first = await client.compositions.page(session_id=SESSION, page_size=3)
        assert first.next_page_number == 2
        following = await first.next_page()
        # Later, from another client: the same filters and the page number carry on.
        async with TelnyxClient(API_KEY, base_url=emu.telnyx_base_url) as other:
            resumed = await other.compositions.page(
                session_id=SESSION, page_size=3, page_number=first.next_page_number
            )
            last = await resumed.next_page()
            assert last is not None
            assert await last.next_page() is None
    assert ids(first.items) == listed[:3]
    assert following is not None and following.items == resumed.items
    assert ids(resumed.items) == listed[3:6]
    assert ids(last.items) == listed[6:]
    assert (last.page_number, last.total_pages, last.total_results, last.has_next) == (
        3,
        3,
        7,
        False,
    )
    assert last.next_page_number is None
    assert page_numbers(listing(emu)) == [1, 2, 2, 3]
    assert listing(emu)[2].query_string == (
        f"filter%5Bsession_id%5D={SESSION}&page%5Bsize%5D=3&page%5Bnumber%5D=2"
    )


async def test_response_without_meta_raises_instead_of_paging_forever() -> None:
    async with serve(10) as (emu, client, _):
        emu.inject("no_meta", times=10)
        with pytest.raises(ResponseDecodeError, match="meta"):
            await client.compositions.list(page_size=2)
    assert len(listing(emu)) == 1


async def test_server_ignoring_page_number_raises_instead_of_looping() -> None:
    async with serve(10) as (emu, client, listed):
        emu.inject("ignore_page", times=10)  # every listing answers page 1
        seen: list[RoomComposition] = []
        with pytest.raises(ResponseDecodeError, match="repeated"):
            async for c in client.compositions.stream(page_size=2):
                seen.append(c)
    assert ids(seen) == listed[:2]
    assert page_numbers(listing(emu)) == [1, 2]


async def test_list_page_retried_on_5xx() -> None:
    async with serve(3) as (emu, client, listed):
        emu.inject("status", status=500, body="boom", method="GET", times=2)
        items = await client.compositions.list()
    assert ids(items) == listed
    assert [r.status for r in listing(emu)] == [500, 500, 200]


async def test_error_on_a_later_page_is_raised_when_reached() -> None:
    async with serve(6) as (emu, client, listed):
        error = {
            "errors": [{"code": "10015", "title": "Bad", "source": {"parameter": "page[number]"}}]
        }
        emu.inject("status", status=400, body=json.dumps(error), page=2)
        seen: list[RoomComposition] = []
        with pytest.raises(BadRequestError) as info:
            async for c in client.compositions.stream(page_size=2, prefetch=4):
                seen.append(c)
    # Page 1 was delivered in full before page 2's error surfaced.
    assert ids(seen) == listed[:2]
    assert info.value.message == "Bad (parameter page[number])"
    assert fetch_tasks() == []


async def test_a_malformed_prefetched_page_is_raised_when_reached() -> None:
    # Page 2 arrives at once but its body is parsed only when the consumer reaches it.
    async with serve(6) as (emu, client, listed):
        emu.inject("status", status=200, body=b'{"data": [{"id": ', page=2)
        sink = Sink()
        gate = asyncio.Event()
        task = asyncio.create_task(
            consume(client.compositions.stream(page_size=2, prefetch=4), sink, gate)
        )
        await sink.reach(1)
        await emu.wait_for_responses(3, timeout=GUARD)
        assert not task.done()  # the bad page is in memory, unread
        gate.set()
        with pytest.raises(ResponseDecodeError, match="not valid JSON") as info:
            async with asyncio.timeout(GUARD):
                await task
    assert ids(sink.items) == listed[:2]
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
    async with serve(8) as (emu, client, listed):
        hold = emu.hold(method="GET", path=LISTING)
        got = Sink()
        gate = asyncio.Event()
        task = asyncio.create_task(consume(client.compositions.stream(page_size=2), got, gate))
        await until(emu, lambda: held_pages(hold) == [1])
        hold.release(page=1)
        # The caller holds page 1's first item and has not asked for more: page 2 is on its way.
        await until(emu, lambda: held_pages(hold) == [2])
        assert len(got) == 1
        assert emu.max_in_flight == 1
        gate.set()
        for n in (2, 3, 4):
            await until(emu, lambda n=n: held_pages(hold) == [n])  # type: ignore[misc]
            hold.release(page=n)
        await task
    assert ids(got.items) == listed
    assert page_numbers(listing(emu)) == [1, 2, 3, 4]
    assert emu.max_in_flight == 1


async def test_prefetch_4_keeps_four_pages_in_flight_and_yields_in_order() -> None:
    async with serve(20) as (emu, client, listed):
        hold = emu.hold(method="GET", path=LISTING)
        got = Sink()
        gate = asyncio.Event()
        stream = client.compositions.stream(page_size=2, prefetch=4)
        task = asyncio.create_task(consume(stream, got, gate))
        await until(emu, lambda: held_pages(hold) == [1])
        hold.release(page=1)
        await until(emu, lambda: sorted(held_pages(hold)) == [2, 3, 4, 5])  # type: ignore[type-var]
        assert len(got) == 1  # fetched ahead while the caller sits on page 1
        assert emu.in_flight == 4
        gate.set()
        # Later pages finish first; the caller must still see page 2 before them.
        for n in (5, 4, 3):
            hold.release(page=n)
        await got.reach(2)
        assert held_pages(hold) == [2]  # and nothing past page 5 was asked for yet
        hold.release(page=2)
        await until(emu, lambda: sorted(held_pages(hold)) == [6, 7, 8, 9])  # type: ignore[type-var]
        for n in (9, 7, 8, 6):
            hold.release(page=n)
        await until(emu, lambda: held_pages(hold) == [10])
        hold.release(page=10)
        await task
    assert ids(got.items) == listed
    assert sorted(page_numbers(listing(emu))) == list(range(1, 11))  # type: ignore[type-var]
    assert emu.max_in_flight == 4


async def test_prefetch_stops_at_the_last_page() -> None:
    async with serve(6) as (emu, client, listed):
        items = [c async for c in client.compositions.stream(page_size=2, prefetch=8)]
    assert ids(items) == listed
    assert sorted(page_numbers(listing(emu))) == [1, 2, 3]  # type: ignore[type-var]


# -- leaving early ------------------------------------------------------------------------


async def prime_prefetch(emu: Emulator, hold: Hold) -> None:
    """Let page 1 through and wait until pages 2..5 are in flight."""
    await until(emu, lambda: held_pages(hold) == [1])
    hold.release(page=1)
    await until(emu, lambda: sorted(held_pages(hold)) == [2, 3, 4, 5])  # type: ignore[type-var]


def assert_no_resource_warnings(caught: list[warnings.WarningMessage]) -> None:
    gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_break_with_aclosing_cancels_the_prefetches() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with serve(20) as (emu, client, listed):
            hold = emu.hold(method="GET", path=LISTING)

            async def first_item() -> RoomComposition | None:
                primed = asyncio.create_task(prime_prefetch(emu, hold))
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
            assert len(listing(emu)) == 5
        gc.collect()
    assert item is not None and item.id == listed[0]
    assert_no_resource_warnings(caught)


async def test_bare_break_cleans_up_when_the_stream_is_dropped() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with serve(20) as (emu, client, _):
            hold = emu.hold(method="GET", path=LISTING)
            primed = asyncio.create_task(prime_prefetch(emu, hold))
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
            assert len(listing(emu)) == 5
        gc.collect()
    assert_no_resource_warnings(caught)


async def test_cancelling_the_consumer_cancels_the_prefetches() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with serve(20) as (emu, client, listed):
            hold = emu.hold(method="GET", path=LISTING)
            got = Sink()
            gate = asyncio.Event()
            gate.set()
            stream = client.compositions.stream(page_size=2, prefetch=4)
            task = asyncio.create_task(consume(stream, got, gate))
            await prime_prefetch(emu, hold)
            await got.reach(2)  # now waiting on page 2
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert fetch_tasks() == []
            assert len(listing(emu)) == 5
        gc.collect()
    assert ids(got.items) == listed[:2]
    assert_no_resource_warnings(caught)


async def test_asyncio_timeout_around_the_stream_cancels_the_prefetches() -> None:
    async with serve(20) as (emu, client, _):
        hold = emu.hold(method="GET", path=LISTING)
        got = Sink()
        loop = asyncio.get_running_loop()
        holder: list[asyncio.Timeout] = []

        async def consumer() -> None:
            async with asyncio.timeout(None) as deadline:
                holder.append(deadline)
                async for c in client.compositions.stream(page_size=2, prefetch=4):
                    got.add(c)

        task = asyncio.create_task(consumer())
        await prime_prefetch(emu, hold)
        await got.reach(2)
        holder[0].reschedule(loop.time())  # expire now, while page 2 is awaited
        with pytest.raises(TimeoutError):
            await task
        assert fetch_tasks() == []


async def test_client_close_cancels_an_abandoned_stream() -> None:
    async with Emulator(manual=True, telnyx_api_key=API_KEY) as emu:
        listed = emu.seed_telnyx(20)[::-1]
        hold = emu.hold(method="GET", path=LISTING)
        client = TelnyxClient(API_KEY, base_url=emu.telnyx_base_url)
        stream = client.compositions.stream(page_size=2, prefetch=4)
        primed = asyncio.create_task(prime_prefetch(emu, hold))
        async with asyncio.timeout(GUARD):
            first = await anext(stream)
            await primed
        await client.aclose()
        assert fetch_tasks() == []
        await stream.aclose()
    assert first.id == listed[0]


# -- the collection changing mid-stream -----------------------------------------------------


async def stream_changed_after_page_1(
    emu: Emulator, client: TelnyxClient, change: Callable[[], object], *, prefetch: int
) -> list[str]:
    """Stream in pages of 3, changing the collection once page 1 is answered.

    Later pages are held until the change is made, so none of them sees the old state.
    """
    hold = emu.hold(method="GET", path=LISTING)
    task = asyncio.create_task(_collect(client.compositions.stream(page_size=3, prefetch=prefetch)))
    await until(emu, lambda: held_pages(hold) == [1])
    hold.release(page=1)
    await emu.wait_for_responses(1, timeout=GUARD)
    change()
    hold.lift()
    async with asyncio.timeout(GUARD):
        return await task


async def _collect(stream: AsyncIterator[RoomComposition]) -> list[str]:
    return [c.id async for c in stream]


def newer(emu: Emulator, n: int) -> list[str]:
    """``n`` compositions newer than any so far (listed first), newest first."""
    return emu.seed_telnyx(n, start=datetime.now(UTC) + timedelta(hours=1))[::-1]


def older(emu: Emulator, n: int) -> list[str]:
    """``n`` compositions older than any so far (listed last), newest first."""
    return emu.seed_telnyx(n, start=datetime.now(UTC) - timedelta(days=1))[::-1]


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_insert_at_the_front_yields_nothing_twice(prefetch: int) -> None:
    async with serve(9) as (emu, client, listed):
        # The third record is pushed from page 1 onto page 2; total_pages grows from 3 to 4.
        got = await stream_changed_after_page_1(
            emu, client, lambda: newer(emu, 1), prefetch=prefetch
        )
    assert got == listed
    assert sorted(page_numbers(listing(emu))) == [1, 2, 3, 4]  # type: ignore[type-var]


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_removal_at_the_front_yields_nothing_twice(prefetch: int) -> None:
    async with serve(10) as (emu, client, listed):
        # The fourth record slides from page 2 onto page 1 (already read); total_pages
        # drops to 3.
        got = await stream_changed_after_page_1(
            emu, client, lambda: emu.store.telnyx.pop(listed[0]), prefetch=prefetch
        )
    assert len(got) == len(set(got))
    assert got == listed[:3] + listed[4:]
    if prefetch == 1:
        # Page 2's meta already said there are only 3 pages: page 4 is never asked for.
        assert page_numbers(listing(emu)) == [1, 2, 3]


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_total_pages_shrinking_ends_the_stream(prefetch: int) -> None:
    async with serve(9) as (emu, client, listed):
        # Six records vanish: total_pages drops from 3 to 1, so page 2 is the end.
        def remove_six() -> None:
            for id in listed[:6]:
                del emu.store.telnyx[id]

        got = await stream_changed_after_page_1(emu, client, remove_six, prefetch=prefetch)
    assert got == listed[:3]
    assert fetch_tasks() == []


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_growing_collection_is_followed_to_its_new_end(prefetch: int) -> None:
    async with serve(6) as (emu, client, listed):
        added: list[str] = []
        got = await stream_changed_after_page_1(
            emu, client, lambda: added.extend(older(emu, 3)), prefetch=prefetch
        )
    assert got == listed + added
    assert sorted(page_numbers(listing(emu))) == [1, 2, 3]  # type: ignore[type-var]


async def test_latency_does_not_change_results() -> None:
    async with serve(12, latency=0.01) as (emu, client, listed):
        items = [c async for c in client.compositions.stream(page_size=2, prefetch=4)]
    assert ids(items) == listed
    assert emu.max_in_flight <= 4
