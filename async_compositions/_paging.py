"""Page values and the prefetching item stream shared by every provider."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

import attrs

from .errors import ResponseDecodeError

__all__ = ["Page", "stream_items"]

T = TypeVar("T")
C = TypeVar("C", bound=Hashable)


@attrs.frozen(slots=True)
class Page(Generic[T]):
    """One page of results and where the listing goes next.

    Twilio pages carry ``next_page_url``; Telnyx pages carry ``page_number`` and
    ``total_pages``. Either can be handed back to ``page()`` to resume a listing later.
    """

    items: list[T]
    has_next: bool
    next_page_url: str | None = None
    page_number: int | None = None
    page_size: int | None = None
    total_pages: int | None = None
    total_results: int | None = None
    # Cursors of the pages after this one, nearest first; the first is the next page.
    following: tuple[Any, ...] = attrs.field(default=(), repr=False, eq=False)
    fetcher: Callable[[Any], Awaitable[Page[T]]] | None = attrs.field(
        default=None, repr=False, eq=False
    )
    # Set on pages fetched for a stream: ``items`` are JSON objects, decoded one by one.
    decoder: Callable[[Any], T] | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def next_page_number(self) -> int | None:
        """The number of the next page on numbered listings, else None."""
        if self.has_next and self.page_number is not None:
            return self.page_number + 1
        return None

    async def next_page(self) -> Page[T] | None:
        """Fetch the page after this one, or return None on the last page."""
        if not self.has_next or not self.following:
            return None
        if self.fetcher is None:
            raise RuntimeError("this page was not produced by a client and cannot fetch more")
        return await self.fetcher(self.following[0])

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Any:
        return iter(self.items)


Fetched = Page[T] | Callable[[], Page[T]]


async def stream_items(
    fetch: Callable[[C], Coroutine[Any, Any, Fetched[T]]],
    first: C,
    *,
    limit: int | None,
    page_size: int,
    prefetch: int,
    key: Callable[[T], Hashable],
    spawn: Callable[
        [Coroutine[Any, Any, Fetched[T]]], asyncio.Task[Fetched[T]]
    ] = asyncio.ensure_future,
) -> AsyncGenerator[T, None]:
    """Yield items page by page while up to ``prefetch`` later pages are already being fetched.

    ``fetch`` returns a Page, or a callable that parses one: it is called when the
    consumer reaches that page, so a prefetched page waits unparsed. Items come strictly
    in page order. No page is requested beyond what ``limit`` needs, assuming full pages.
    An error fetching a later page is raised only when the caller reaches that page.
    Leaving early (break, aclose, cancellation) cancels and awaits every page request
    still in flight.
    """
    if limit is not None and limit <= 0:
        return
    inflight: collections.deque[tuple[C, asyncio.Task[Fetched[T]]]] = collections.deque()
    queued: collections.deque[C] = collections.deque()
    # Hashes, not cursors: a listing of thousands of pages would otherwise keep every
    # next-page URL it followed. (A false "repeated cursor" would need a 64-bit collision.)
    fetched: set[int] = set()
    received = 0
    yielded = 0
    previous_keys: set[Hashable] = set()

    def schedule(cursor: C) -> None:
        inflight.append((cursor, spawn(fetch(cursor))))

    def room_for_more() -> bool:
        if len(inflight) >= prefetch:
            return False
        return limit is None or received + len(inflight) * page_size < limit

    current: asyncio.Task[Fetched[T]] | None = None
    try:
        schedule(first)
        while inflight:
            cursor, current = inflight.popleft()
            try:
                fetched_page = await current
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if current.cancelled() and me is not None and not me.cancelling():
                    # Not our cancellation: the fetch was cancelled by the client closing.
                    raise RuntimeError(
                        "the client was closed while this stream was running"
                    ) from None
                raise
            current = None
            page = fetched_page if isinstance(fetched_page, Page) else fetched_page()
            del fetched_page
            fetched.add(hash(cursor))
            received += len(page.items)
            if page.has_next:
                _learn(page, cursor, fetched, inflight, queued, prefetch)
                while queued and room_for_more():
                    schedule(queued.popleft())
            else:
                # The listing ends here (it may have shrunk): cursors queued earlier are stale.
                queued.clear()
            # A record shifted across a page boundary by an insert or delete between two
            # requests would otherwise appear twice.
            keys: set[Hashable] = set()
            decoder = page.decoder
            items: list[Any] = page.items
            for index, raw in enumerate(items):
                if decoder is None:
                    item = raw
                else:
                    item = decoder(raw)
                    # The page's JSON objects belong to this stream: free each one once
                    # decoded (here and in this frame), so a page shrinks as it is consumed.
                    items[index] = None
                del raw
                k = key(item)
                if k in keys or k in previous_keys:
                    continue
                keys.add(k)
                yield item
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
            previous_keys = keys
            if not page.has_next:
                return
            # Let go of the consumed page before waiting for the next one.
            del page, items
    finally:
        pending = [task for _, task in inflight]
        if current is not None:
            pending.append(current)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def _learn(
    page: Page[Any],
    cursor: Any,
    fetched: set[int],
    inflight: collections.deque[tuple[Any, Any]],
    queued: collections.deque[Any],
    prefetch: int,
) -> None:
    """Queue the cursors a page announces; a next-page cursor seen before is an error.

    ``fetched`` holds the hashes of the cursors already fetched; the ones in flight or
    queued, at most a few, are compared as they are.
    """
    if not page.following:
        raise ResponseDecodeError("the page says more pages follow but gives no way to fetch them")
    nxt = page.following[0]
    if hash(nxt) in fetched or nxt == cursor:
        raise ResponseDecodeError(
            f"the listing repeated a next-page cursor ({nxt!s}); stopping instead of looping"
        )
    pending = [c for c, _ in inflight]
    pending.extend(queued)
    for c in page.following:
        if len(queued) >= prefetch:
            break
        if hash(c) not in fetched and c not in pending:
            pending.append(c)
            queued.append(c)
