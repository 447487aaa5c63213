"""stream(): ordering, prefetching, limits, termination, clean cancellation and memory.

The scheduler is driven with a fake listing and fake fetches: no HTTP, no clock. Ordering
is controlled with asyncio.Event gates and with ``asyncio.sleep(0)`` steps, which the event
loop runs in a fixed order.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Hashable
from typing import Any

import attrs
import pytest
from yarl import URL

from async_compositions._http import HttpRequest, Origin
from async_compositions._listing import Batch
from async_compositions._listing import Listing as ListingBase
from async_compositions._session import SessionManager
from async_compositions._stream import stream_items
from async_compositions.errors import ResponseDecodeError, ServerError


@attrs.frozen
class Item:
    key: str
    page: Any


@attrs.frozen
class Spec:
    """What the fake server answers for one cursor: records and the cursors that follow."""

    records: list[Any]
    following: tuple[Any, ...] = ()


def _key(item: Item) -> Hashable:
    return item.key


def _decode(record: Any, origin: Origin) -> Any:
    return record


def _items(cursor: Any, count: int) -> list[Item]:
    return [Item(f"{cursor}-{i}", cursor) for i in range(count)]


def numbered_pages(total: int, per_page: int) -> dict[Any, Spec | BaseException]:
    """Pages 1..total; each announces every later page number, as numbered listings do."""
    return {
        n: Spec(_items(n, per_page), tuple(range(n + 1, total + 1))) for n in range(1, total + 1)
    }


def linked_pages(*counts: int) -> dict[Any, Spec | BaseException]:
    """Pages "p1", "p2", ...; each knows only the next one, as next-page URLs do."""
    last = len(counts)
    return {
        f"p{n}": Spec(_items(f"p{n}", count), (f"p{n + 1}",) if n < last else ())
        for n, count in enumerate(counts, start=1)
    }


class FakeListing(ListingBase[Any]):
    """Parses the fake responses (Specs) into batches, recording when it does."""

    def __init__(self, first: Any, parsed: list[Any] | None = None) -> None:
        super().__init__(first)
        self.parsed = parsed

    def request(self, cursor: Any) -> HttpRequest:
        return HttpRequest("GET", URL("http://unused.invalid/"))

    def parse(self, response: Any, cursor: Any) -> Batch[Any]:
        if self.parsed is not None:
            self.parsed.append(("parse", cursor))
        return Batch(list(response.records), response.following, Origin(200, "req-1"))


class Listing:
    """A fake paged collection that records what the stream asks of it."""

    def __init__(self, pages: dict[Any, Spec | BaseException]) -> None:
        self.pages = pages
        self.events: list[tuple[str, Any]] = []
        self.calls: list[Any] = []
        self.cancelled: list[Any] = []
        self.gates: dict[Any, asyncio.Event] = {}
        self.steps: dict[Any, int] = {}  # extra loop turns a fetch takes
        self.active = 0
        self.max_active = 0
        self.started: dict[Any, asyncio.Event] = {}
        self.tasks: list[asyncio.Task[Any]] = []
        self.on_fetch_start: list[Any] = []

    def gate(self, *cursors: Any) -> None:
        """Make these fetches wait until opened (or forever)."""
        for cursor in cursors:
            self.gates[cursor] = asyncio.Event()

    def started_event(self, cursor: Any) -> asyncio.Event:
        return self.started.setdefault(cursor, asyncio.Event())

    async def fetch(self, cursor: Any) -> Spec:
        self.calls.append(cursor)
        self.events.append(("fetch", cursor))
        for check in self.on_fetch_start:
            check(cursor)
        self.started_event(cursor).set()
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            gate = self.gates.get(cursor)
            if gate is not None:
                await gate.wait()
            for _ in range(self.steps.get(cursor, 0)):
                await asyncio.sleep(0)
            result = self.pages[cursor]
            if isinstance(result, BaseException):
                self.events.append(("failed", cursor))
                raise result
            self.events.append(("done", cursor))
            return result
        except asyncio.CancelledError:
            self.cancelled.append(cursor)
            raise
        finally:
            self.active -= 1

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self.tasks.append(task)
        return task

    def stream(
        self,
        first: Any,
        *,
        limit: int | None = None,
        page_size: int = 3,
        prefetch: int = 1,
        spawn: Any = None,
    ) -> AsyncGenerator[Item, None]:
        return stream_items(
            FakeListing(first, self.events),
            self.fetch,  # type: ignore[arg-type]
            _decode,
            _key,
            limit=limit,
            page_size=page_size,
            prefetch=prefetch,
            spawn=spawn or self.spawn,
        )

    def expected(self, *cursors: Any) -> list[Item]:
        out: list[Item] = []
        for cursor in cursors:
            page = self.pages[cursor]
            assert isinstance(page, Spec)
            out.extend(page.records)
        return out

    def assert_nothing_pending(self) -> None:
        assert all(task.done() for task in self.tasks)
        assert asyncio.all_tasks() == {asyncio.current_task()}


async def _drain(stream: AsyncIterator[Item]) -> list[Item]:
    """Consume everything, giving the loop a turn after each item."""
    out: list[Item] = []
    async for item in stream:
        out.append(item)
        await asyncio.sleep(0)
    return out


# --- order and prefetch -----------------------------------------------------------


@pytest.mark.parametrize("prefetch", [1, 2])
async def test_items_come_in_page_order(prefetch: int) -> None:
    listing = Listing(linked_pages(3, 3, 2))
    items = await _drain(listing.stream("p1", prefetch=prefetch))
    assert items == listing.expected("p1", "p2", "p3")
    assert listing.calls == ["p1", "p2", "p3"]
    listing.assert_nothing_pending()


async def test_next_page_is_fetched_while_the_current_one_is_consumed() -> None:
    listing = Listing(linked_pages(3, 3, 3))
    stream = listing.stream("p1", prefetch=1)
    events = listing.events
    received: list[Item] = []
    for _ in range(9):
        events.append(("ask", len(received)))
        item = await anext(stream)
        received.append(item)
        events.append(("item", item.key))
        await asyncio.sleep(0)
    with pytest.raises(StopAsyncIteration):
        await anext(stream)

    # Page 2 is requested while the consumer is still on page 1 ...
    assert events.index(("fetch", "p2")) < events.index(("ask", 3))
    assert events.index(("fetch", "p2")) < events.index(("item", "p1-1"))
    # ... but with prefetch=1 page 3 waits until the consumer has reached page 2.
    assert events.index(("fetch", "p3")) > events.index(("item", "p2-0"))
    assert received == listing.expected("p1", "p2", "p3")
    listing.assert_nothing_pending()


async def test_prefetch_keeps_up_to_k_numbered_pages_in_flight_in_order() -> None:
    total, prefetch = 10, 4
    listing = Listing(numbered_pages(total, per_page=3))
    # Later pages answer sooner than earlier ones.
    listing.steps = {n: (total + 1 - n) * 3 for n in range(1, total + 1)}
    consumer_page = 0

    def bounded(cursor: Any) -> None:
        # Pages consumer_page .. cursor are held at once: never more than 1 + prefetch.
        assert cursor - consumer_page + 1 <= 1 + prefetch, (cursor, consumer_page)

    listing.on_fetch_start.append(bounded)
    received: list[Item] = []
    async for item in listing.stream(1, prefetch=prefetch):
        consumer_page = item.page
        received.append(item)
        await asyncio.sleep(0)

    assert received == listing.expected(*range(1, total + 1))
    assert listing.max_active == prefetch
    assert sorted(listing.calls) == list(range(1, total + 1))
    done = [c for kind, c in listing.events if kind == "done"]
    # The test really exercised out-of-order completion.
    assert done.index(5) < done.index(2)
    listing.assert_nothing_pending()


@pytest.mark.parametrize("prefetch", [1, 3])
async def test_never_more_fetches_in_flight_than_prefetch(prefetch: int) -> None:
    listing = Listing(numbered_pages(8, per_page=2))
    listing.steps = dict.fromkeys(range(1, 9), 5)  # slow enough to overlap
    items = await _drain(listing.stream(1, prefetch=prefetch))
    assert len(items) == 16
    assert listing.max_active == prefetch


async def test_linked_pages_can_only_prefetch_one_ahead() -> None:
    # A next-page URL is known only once the previous page has arrived.
    listing = Listing(linked_pages(2, 2, 2, 2))
    items = await _drain(listing.stream("p1", prefetch=4))
    assert len(items) == 8
    assert listing.max_active == 1


# --- limit ------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [1, 4])
@pytest.mark.parametrize(
    ("limit", "fetches", "count"),
    [
        (120, 3, 120),
        (100, 2, 100),
        (50, 1, 50),
        (1, 1, 1),
        (249, 5, 249),
        (250, 5, 250),
        (1000, 5, 250),
        (None, 5, 250),
    ],
)
async def test_limit_caps_items_and_requests(
    limit: int | None, fetches: int, count: int, prefetch: int
) -> None:
    listing = Listing(numbered_pages(5, per_page=50))
    items = await _drain(listing.stream(1, limit=limit, page_size=50, prefetch=prefetch))
    assert len(items) == count
    assert items == listing.expected(1, 2, 3, 4, 5)[:count]
    assert sorted(listing.calls) == list(range(1, fetches + 1))
    listing.assert_nothing_pending()


async def test_limit_zero_makes_no_request() -> None:
    listing = Listing(numbered_pages(5, per_page=50))
    assert await _drain(listing.stream(1, limit=0, page_size=50)) == []
    assert listing.calls == []


async def test_limit_on_linked_pages() -> None:
    listing = Listing(linked_pages(50, 50, 50))
    items = await _drain(listing.stream("p1", limit=100, page_size=50))
    assert items == listing.expected("p1", "p2")
    assert listing.calls == ["p1", "p2"]


# --- where the stream ends --------------------------------------------------------


async def test_an_empty_page_with_more_to_come_does_not_end_the_stream() -> None:
    listing = Listing(linked_pages(2, 0, 0, 1))
    items = await _drain(listing.stream("p1"))
    assert [i.key for i in items] == ["p1-0", "p1-1", "p4-0"]
    assert listing.calls == ["p1", "p2", "p3", "p4"]


async def test_a_single_empty_last_page_yields_nothing() -> None:
    listing = Listing(linked_pages(0))
    assert await _drain(listing.stream("p1")) == []
    assert listing.calls == ["p1"]


async def test_a_full_page_saying_no_more_ends_the_stream() -> None:
    pages = linked_pages(3, 3)
    pages["p3"] = Spec(_items("p3", 3))  # never reached
    listing = Listing(pages)
    assert len(await _drain(listing.stream("p1"))) == 6
    assert listing.calls == ["p1", "p2"]


@pytest.mark.parametrize("repeat", ["p1", "p2"])
async def test_a_repeated_next_page_cursor_raises_instead_of_looping(repeat: str) -> None:
    pages = linked_pages(2, 2)
    pages["p2"] = Spec(_items("p2", 2), (repeat,))
    listing = Listing(pages)
    received: list[Item] = []
    with pytest.raises(ResponseDecodeError, match="repeated a next-page cursor") as info:
        async for item in listing.stream("p1"):
            received.append(item)
    assert (info.value.status, info.value.request_id) == (200, "req-1")
    assert received == listing.expected("p1")
    assert listing.calls == ["p1", "p2"]
    listing.assert_nothing_pending()


async def test_collection_shrinking_mid_stream_ends_it() -> None:
    total, prefetch = 10, 4
    pages = numbered_pages(total, per_page=3)
    # Records were deleted between requests: page 3 is now the last one.
    pages[3] = Spec(_items(3, 1))
    listing = Listing(pages)
    listing.gate(*range(4, total + 1))  # stale page requests never answer
    items = await _drain(listing.stream(1, prefetch=prefetch))
    assert items == listing.expected(1, 2, 3)
    # Requests already in flight (4, 5, 6) are cancelled and awaited; no new one is started.
    assert sorted(listing.calls) == [1, 2, 3, 4, 5, 6]
    assert sorted(listing.cancelled) == sorted(c for c in listing.calls if c > 3)
    listing.assert_nothing_pending()


# --- errors -----------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_error_fetching_the_next_page_waits_until_the_consumer_gets_there(
    prefetch: int,
) -> None:
    pages = numbered_pages(4, per_page=3)
    error = ServerError("upstream failed", status=503)
    pages[2] = error
    listing = Listing(pages)
    received: list[Item] = []
    with pytest.raises(ServerError) as info:
        async for item in listing.stream(1, prefetch=prefetch):
            received.append(item)
            listing.events.append(("item", item.key))
            await asyncio.sleep(0)
    assert info.value is error
    assert received == listing.expected(1)
    # The failure happened early, yet every item of page 1 was delivered first.
    assert listing.events.index(("failed", 2)) < listing.events.index(("item", "1-2"))
    listing.assert_nothing_pending()


async def test_error_on_the_first_page_is_raised_at_once() -> None:
    listing = Listing({"p1": ServerError("nope", status=500)})
    with pytest.raises(ServerError):
        await anext(listing.stream("p1"))
    listing.assert_nothing_pending()


# --- duplicates across a page boundary -------------------------------------------


async def test_item_repeated_across_a_page_boundary_is_yielded_once() -> None:
    pages = linked_pages(3, 3)
    # An insert shifted the last record of page 1 onto page 2.
    shifted = pages["p1"]
    assert isinstance(shifted, Spec)
    pages["p2"] = Spec([shifted.records[-1], *_items("p2", 2)])
    listing = Listing(pages)
    keys = [i.key for i in await _drain(listing.stream("p1"))]
    assert keys == ["p1-0", "p1-1", "p1-2", "p2-0", "p2-1"]


async def test_duplicates_do_not_count_against_the_limit() -> None:
    pages = linked_pages(2, 2)
    pages["p2"] = Spec([Item("p1-1", "p2"), *_items("p2", 2)])
    listing = Listing(pages)
    keys = [i.key for i in await _drain(listing.stream("p1", limit=3, page_size=2))]
    assert keys == ["p1-0", "p1-1", "p2-0"]


# --- leaving early ----------------------------------------------------------------


def _blocked_listing(prefetch: int) -> Listing:
    listing = Listing(numbered_pages(10, per_page=3))
    listing.gate(*range(2, 11))  # only page 1 ever answers
    return listing


def _assert_cancelled_in_flight(listing: Listing, prefetch: int) -> None:
    assert sorted(listing.calls) == list(range(1, 2 + prefetch))
    # Each in-flight fetch saw its cancellation (so it was awaited, not just cancelled).
    assert sorted(listing.cancelled) == list(range(2, 2 + prefetch))
    listing.assert_nothing_pending()


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_break_inside_aclosing_cancels_prefetch(prefetch: int) -> None:
    listing = _blocked_listing(prefetch)
    async with contextlib.aclosing(listing.stream(1, prefetch=prefetch)) as stream:
        async for item in stream:
            await asyncio.sleep(0)  # let the prefetches start
            if item.key == "1-1":
                break
    _assert_cancelled_in_flight(listing, prefetch)


async def test_plain_break_cleans_up_once_the_stream_is_dropped() -> None:
    prefetch = 4
    listing = _blocked_listing(prefetch)
    async for _ in listing.stream(1, prefetch=prefetch):
        await asyncio.sleep(0)
        break
    # The dropped generator is closed by the event loop's async-generator finalizer.
    for _ in range(50):
        if asyncio.all_tasks() == {asyncio.current_task()}:
            break
        await asyncio.sleep(0)
    _assert_cancelled_in_flight(listing, prefetch)


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_aclose_cancels_and_awaits_prefetch(prefetch: int) -> None:
    listing = _blocked_listing(prefetch)
    stream = listing.stream(1, prefetch=prefetch)
    await anext(stream)
    await asyncio.sleep(0)
    assert listing.active == prefetch
    await stream.aclose()
    _assert_cancelled_in_flight(listing, prefetch)


async def test_aclose_before_the_first_item_makes_no_request() -> None:
    listing = _blocked_listing(1)
    stream = listing.stream(1)
    await stream.aclose()
    assert listing.calls == []


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_cancelling_the_consumer_cancels_prefetch(prefetch: int) -> None:
    listing = _blocked_listing(prefetch)
    page_one_done = asyncio.Event()

    async def consume() -> None:
        async for item in listing.stream(1, prefetch=prefetch):
            if item.key == "1-2":
                page_one_done.set()

    consumer = asyncio.create_task(consume())
    await page_one_done.wait()
    await listing.started_event(1 + prefetch).wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    _assert_cancelled_in_flight(listing, prefetch)


async def test_cancelling_while_the_first_page_is_in_flight() -> None:
    listing = Listing(numbered_pages(3, per_page=3))
    listing.gate(1)

    async def consume() -> None:
        async for _ in listing.stream(1):
            pass

    consumer = asyncio.create_task(consume())
    await listing.started_event(1).wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert listing.cancelled == [1]
    listing.assert_nothing_pending()


@pytest.mark.parametrize("prefetch", [1, 4])
async def test_asyncio_timeout_cancels_prefetch(prefetch: int) -> None:
    listing = _blocked_listing(prefetch)
    received: list[Item] = []
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(None) as deadline:
            async for item in listing.stream(1, prefetch=prefetch):
                received.append(item)
                await asyncio.sleep(0)
                if item.key == "1-2":
                    # Expire now: the next wait (for page 2) is interrupted.
                    deadline.reschedule(asyncio.get_running_loop().time())
    assert received == listing.expected(1)
    _assert_cancelled_in_flight(listing, prefetch)


async def test_session_manager_cancels_the_prefetch_of_an_abandoned_stream() -> None:
    manager = SessionManager()
    listing = _blocked_listing(1)
    stream = listing.stream(1, spawn=manager.spawn)
    await anext(stream)
    await listing.started_event(2).wait()
    await manager.aclose()
    assert listing.cancelled == [2]
    assert all(task.done() for task in listing.tasks)
    await stream.aclose()
    listing.assert_nothing_pending()


# --- closing the client under a stream ---------------------------------------------


async def test_consumer_gets_runtime_error_when_client_closes_mid_stream() -> None:
    sessions = SessionManager()
    listing = Listing(numbered_pages(2, per_page=2))
    listing.gate(2)
    stream = listing.stream(1, page_size=2, spawn=sessions.spawn)
    seen = [await anext(stream), await anext(stream)]
    await listing.started_event(2).wait()
    await sessions.aclose()
    with pytest.raises(RuntimeError, match="client was closed"):
        await anext(stream)
    await stream.aclose()
    assert seen == listing.expected(1)
    listing.assert_nothing_pending()


async def test_cancelling_the_consumer_still_raises_cancelled_error() -> None:
    sessions = SessionManager()
    listing = Listing(numbered_pages(2, per_page=2))
    listing.gate(1)

    async def consume() -> None:
        async for _ in listing.stream(1, spawn=sessions.spawn):
            pass

    task = asyncio.ensure_future(consume())
    await listing.started_event(1).wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await sessions.aclose()


# --- what a stream holds -------------------------------------------------------------


class Record(dict[str, Any]):
    """A JSON object that can be weakly referenced, to see when the stream lets go of it."""


def _model(record: Any, origin: Origin) -> Item:
    return Item(record["key"], record["page"])


def record_pages(pages: int, per_page: int) -> dict[Any, Spec | BaseException]:
    return {
        n: Spec(
            [Record(key=f"{n}-{i}", page=n) for i in range(per_page)],
            tuple(range(n + 1, pages + 1)),
        )
        for n in range(1, pages + 1)
    }


def _decoding_stream(listing: Listing, **kwargs: Any) -> AsyncGenerator[Item, None]:
    return stream_items(
        FakeListing(1, listing.events),
        listing.fetch,  # type: ignore[arg-type]
        _model,
        _key,
        limit=None,
        page_size=kwargs.pop("page_size", 2),
        prefetch=kwargs.pop("prefetch", 1),
        spawn=listing.spawn,
    )


async def test_a_prefetched_page_is_parsed_only_when_the_consumer_reaches_it() -> None:
    listing = Listing(record_pages(3, per_page=2))
    async for item in _decoding_stream(listing, prefetch=2):
        for _ in range(5):
            await asyncio.sleep(0)
        listing.events.append(("item", item.key))
    steps = [event for event in listing.events if event[0] in ("parse", "item")]
    assert steps == [
        ("parse", 1), ("item", "1-0"), ("item", "1-1"),
        ("parse", 2), ("item", "2-0"), ("item", "2-1"),
        ("parse", 3), ("item", "3-0"), ("item", "3-1"),
    ]  # fmt: skip
    # Pages 2 and 3 had both arrived while page 1 was being consumed.
    assert listing.events.index(("done", 3)) < listing.events.index(("parse", 2))


async def test_each_record_is_released_once_decoded() -> None:
    pages = record_pages(1, per_page=3)
    spec = pages[1]
    assert isinstance(spec, Spec)
    refs = [weakref.ref(r) for r in spec.records]
    pages[1] = Spec([], ())  # the listing's own copy is the only one left
    listing = Listing(pages)
    alive: list[int] = []

    class Holder(FakeListing):
        def parse(self, response: Any, cursor: Any) -> Batch[Any]:
            records = list(spec.records)
            spec.records.clear()
            return Batch(records, (), Origin(200, None))

    stream = stream_items(
        Holder(1),
        listing.fetch,  # type: ignore[arg-type]
        _model,
        _key,
        limit=None,
        page_size=3,
        prefetch=1,
        spawn=listing.spawn,
    )
    async for _ in stream:
        alive.append(sum(ref() is not None for ref in refs))
    # Freed by reference counting as each model is handed out.
    assert alive == [2, 1, 0]


async def test_a_consumed_page_is_released_before_the_next_one_arrives() -> None:
    listing = Listing(record_pages(2, per_page=2))
    listing.gate(2)
    first = listing.pages[1]
    assert isinstance(first, Spec)
    held = list(first.records)
    refs = [weakref.ref(r) for r in held]
    del first
    listing.pages[1] = Spec([], (2,))

    class Once(FakeListing):
        def parse(self, response: Any, cursor: Any) -> Batch[Any]:
            if cursor == 1:
                # The batch becomes the only holder of page 1's records.
                records = held[:]
                held.clear()
                return Batch(records, (2,), Origin(200, None))
            return Batch(list(response.records), (), Origin(200, None))

    stream = stream_items(
        Once(1),
        listing.fetch,  # type: ignore[arg-type]
        _model,
        _key,
        limit=None,
        page_size=2,
        prefetch=1,
        spawn=listing.spawn,
    )
    assert (await anext(stream)).key == "1-0"
    assert (await anext(stream)).key == "1-1"
    pending = asyncio.ensure_future(anext(stream))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not pending.done()  # waiting for page 2
    gc.disable()  # freed by reference counting, not by a later collection
    try:
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()
    listing.gates[2].set()
    assert (await pending).key == "2-0"
    await stream.aclose()


class Cursor:
    """A next-page link: hashable by value, weak-referenceable to see who keeps it."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __hash__(self) -> int:
        return hash(("cursor", self.n))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cursor) and other.n == self.n

    def __str__(self) -> str:
        return f"cursor {self.n}"


async def test_a_long_listing_does_not_keep_the_cursors_it_followed() -> None:
    followed: list[weakref.ref[Cursor]] = []

    async def fetch(cursor: Cursor) -> Spec:
        followed.append(weakref.ref(cursor))
        more = cursor.n < 50
        return Spec([Item(f"{cursor.n}", cursor.n)], (Cursor(cursor.n + 1),) if more else ())

    keys: list[str] = []
    stream = stream_items(
        FakeListing(Cursor(1)),
        fetch,  # type: ignore[arg-type]
        _decode,
        _key,
        limit=None,
        page_size=1,
        prefetch=1,
        spawn=asyncio.ensure_future,
    )
    async for m in stream:
        keys.append(m.key)
        if m.key == "50":  # still running: the cursors followed since the first are gone
            gc.collect()
            assert [ref() for ref in followed[1:49]] == [None] * 48
    assert keys == [str(n) for n in range(1, 51)]


async def test_a_repeated_cursor_is_still_caught_by_value() -> None:
    async def fetch(cursor: Cursor) -> Spec:
        # Page 3 links back to page 2 with a new but equal cursor object.
        nxt = Cursor(2) if cursor.n == 3 else Cursor(cursor.n + 1)
        return Spec([Item(f"{cursor.n}", cursor.n)], (nxt,))

    seen: list[str] = []
    stream = stream_items(
        FakeListing(Cursor(1)),
        fetch,  # type: ignore[arg-type]
        _decode,
        _key,
        limit=None,
        page_size=1,
        prefetch=1,
        spawn=asyncio.ensure_future,
    )
    with pytest.raises(ResponseDecodeError, match=r"repeated a next-page cursor \(cursor 2\)"):
        async for m in stream:
            seen.append(m.key)
    assert seen == ["1", "2"]


async def test_a_short_page_under_a_limit_still_fetches_the_rest() -> None:
    """A duplicate dropped at a boundary leaves the page short of the limit: fetch on."""
    pages = linked_pages(2, 2, 2)
    pages["p2"] = Spec([Item("p1-1", "p2"), *_items("p2", 1)], ("p3",))
    listing = Listing(pages)
    keys = [i.key for i in await _drain(listing.stream("p1", limit=4, page_size=2))]
    assert keys == ["p1-0", "p1-1", "p2-0", "p3-0"]
    assert listing.calls == ["p1", "p2", "p3"]
