"""stream(): a small scheduler over a Listing, built from pieces that each do one job."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator, Callable, Coroutine, Hashable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from ._http import HttpResponse, Origin
from ._listing import Batch, Listing

__all__ = ["BoundaryDedup", "CursorLog", "Prefetcher", "decode_each", "stream_items"]

T = TypeVar("T")
C = TypeVar("C", bound=Hashable)
R = TypeVar("R")

Spawn = Callable[[Coroutine[Any, Any, R]], "asyncio.Task[R]"]


class Prefetcher(Generic[C, R]):
    """Keeps up to ``depth`` page requests in flight ahead of the consumer, in page order.

    No request is started ahead of need beyond what ``limit`` items take, assuming full
    pages; the consumer's next page is always requested. An error fetching a page is
    raised when the consumer reaches that page.
    """

    __slots__ = (
        "_current",
        "_depth",
        "_fetch",
        "_inflight",
        "_limit",
        "_page_size",
        "_queued",
        "_received",
        "_spawn",
    )

    def __init__(
        self,
        fetch: Callable[[C], Coroutine[Any, Any, R]],
        spawn: Spawn[R],
        *,
        depth: int,
        limit: int | None,
        page_size: int,
    ) -> None:
        self._fetch = fetch
        self._spawn = spawn
        self._depth = depth
        self._limit = limit
        self._page_size = page_size
        self._inflight: collections.deque[tuple[C, asyncio.Task[R]]] = collections.deque()
        self._queued: collections.deque[C] = collections.deque()
        self._current: asyncio.Task[R] | None = None
        self._received = 0

    def _start(self, cursor: C) -> None:
        self._inflight.append((cursor, self._spawn(self._fetch(cursor))))

    def _room_ahead(self) -> bool:
        if len(self._inflight) >= self._depth:
            return False
        limit = self._limit
        return limit is None or self._received + len(self._inflight) * self._page_size < limit

    def start(self, cursor: C) -> None:
        """Request the listing's first page."""
        self._start(cursor)

    def received(self, count: int) -> None:
        """The consumer has a page of ``count`` records in hand."""
        self._received += count

    def pending(self) -> list[C]:
        """Cursors requested or queued, not yet handed to the consumer."""
        return [cursor for cursor, _ in self._inflight] + list(self._queued)

    def offer(self, cursors: Iterable[C]) -> None:
        """Queue cursors a page announced (nearest first) and start what room allows."""
        pending = self.pending()
        for cursor in cursors:
            if len(self._queued) >= self._depth:
                break
            if cursor not in pending:
                pending.append(cursor)
                self._queued.append(cursor)
        while self._queued and self._room_ahead():
            self._start(self._queued.popleft())

    def drop_queued(self) -> None:
        """The listing ended: cursors queued from earlier pages are stale."""
        self._queued.clear()

    async def next(self) -> tuple[C, R] | None:
        """The next page's cursor and response, in order; None when nothing more is due."""
        if not self._inflight and self._queued:
            self._start(self._queued.popleft())  # the consumer needs this one now
        if not self._inflight:
            return None
        cursor, task = self._inflight.popleft()
        self._current = task
        try:
            result = await task
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if task.cancelled() and me is not None and not me.cancelling():
                # Not our cancellation: the client was closed under the stream.
                raise RuntimeError("the client was closed while this stream was running") from None
            raise
        self._current = None
        return cursor, result

    async def aclose(self) -> None:
        """Cancel and await every request still in flight."""
        pending = [task for _, task in self._inflight]
        if self._current is not None:
            pending.append(self._current)
        self._inflight.clear()
        self._queued.clear()
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class CursorLog(Generic[C]):
    """The cursors a stream has followed, to stop a listing that loops.

    Hashes, not cursors: a listing of thousands of pages would otherwise keep every
    next-page URL it followed (a false "repeated cursor" would need a 64-bit collision).
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def followed(self, cursor: C) -> None:
        """Remember a cursor whose page has arrived."""
        self._seen.add(hash(cursor))

    def is_new(self, cursor: C) -> bool:
        """Whether no page has arrived for ``cursor`` yet."""
        return hash(cursor) not in self._seen

    def check_next(self, batch: Batch[C], cursor: C) -> None:
        """A page whose next cursor was followed before would loop forever: raise."""
        nxt = batch.following[0]
        if nxt == cursor or not self.is_new(nxt):
            raise batch.origin.decode_error(
                f"the listing repeated a next-page cursor ({nxt!s}); stopping instead of looping"
            )


class BoundaryDedup(Generic[T]):
    """Drops a record shifted across a page boundary by an insert or delete between two
    page requests, which would otherwise be yielded twice."""

    __slots__ = ("_current", "_key", "_previous")

    def __init__(self, key: Callable[[T], Hashable]) -> None:
        self._key = key
        self._previous: set[Hashable] = set()
        self._current: set[Hashable] = set()

    def next_page(self) -> None:
        """A new page starts: only the page just before it is compared against."""
        self._previous, self._current = self._current, set()

    def first_time(self, item: T) -> bool:
        """True unless this page or the one before already had this record."""
        key = self._key(item)
        if key in self._current or key in self._previous:
            return False
        self._current.add(key)
        return True


def decode_each(
    records: list[Any], origin: Origin, decode: Callable[[Any, Origin], T]
) -> Iterator[T]:
    """Decode records one by one as they are consumed, freeing each record's JSON once its
    model exists: a page shrinks as it is read, and decoding stays off the prefetch path."""
    for index in range(len(records)):
        record = records[index]
        records[index] = None
        item = decode(record, origin)
        del record
        yield item


async def stream_items(
    listing: Listing[C],
    fetch: Callable[[C], Coroutine[Any, Any, HttpResponse]],
    decode: Callable[[Any, Origin], T],
    key: Callable[[T], Hashable],
    *,
    limit: int | None,
    page_size: int,
    prefetch: int,
    spawn: Spawn[HttpResponse],
) -> AsyncGenerator[T, None]:
    """Yield a listing's items page by page while later pages are already being fetched.

    A prefetched page waits as its response body and is parsed when the consumer reaches
    it. Leaving early (break, aclose, cancellation) cancels and awaits every request in
    flight.
    """
    if limit is not None and limit <= 0:
        return
    pages: Prefetcher[C, HttpResponse] = Prefetcher(
        fetch, spawn, depth=prefetch, limit=limit, page_size=page_size
    )
    cursors: CursorLog[C] = CursorLog()
    boundary: BoundaryDedup[T] = BoundaryDedup(key)
    yielded = 0
    try:
        pages.start(listing.first)
        while (arrived := await pages.next()) is not None:
            cursor, response = arrived
            batch = listing.parse(response, cursor)
            # Let go of the body: the batch holds the records.
            del arrived, response
            cursors.followed(cursor)
            pages.received(len(batch.records))
            if batch.following:
                cursors.check_next(batch, cursor)
                pages.offer(c for c in batch.following if cursors.is_new(c))
            else:
                # The listing ends here (it may have shrunk): cursors queued earlier are stale.
                pages.drop_queued()
            boundary.next_page()
            for item in decode_each(batch.records, batch.origin, decode):
                if boundary.first_time(item):
                    yield item
                    yielded += 1
                    if limit is not None and yielded >= limit:
                        return
            if not batch.following:
                return
            # Let go of the consumed page before waiting for the next one.
            del batch
    finally:
        await pages.aclose()
