"""The provider-neutral half of a compositions resource: one implementation of every verb."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable
from pathlib import PurePosixPath
from typing import Any, Generic, TypeVar

import aiohttp
import attrs
from yarl import URL

from ._dialect import Dialect
from ._download import (
    DEFAULT_CHUNK_SIZE,
    DownloadResult,
    ProgressCallback,
    check_chunk_size,
    check_destination,
    check_progress,
    download_media,
)
from ._http import HttpRequest
from ._paging import Page, stream_items
from ._timeouts import NOT_GIVEN, TimeoutArg, to_client_timeout
from ._transport import Transport
from ._validate import check_int_range, check_limit, check_prefetch
from ._wait import Waiters, wait_until_settled
from .status import CompositionStatus

__all__ = ["ResourceCore"]

M = TypeVar("M")
C = TypeVar("C", bound=Hashable)


class ResourceCore(Generic[M, C]):
    """Runs a dialect's requests through the transport; provider classes add typed verbs."""

    __slots__ = ("_dialect", "_transport", "_waiters")

    def __init__(self, transport: Transport, dialect: Dialect[M, C]) -> None:
        self._transport = transport
        self._dialect = dialect
        self._waiters = Waiters()

    def notify(self, event_or_id: Any) -> int:
        """Wake pending ``wait()`` calls for a composition (pass a webhook event or an id).

        Returns how many waiters were woken; each re-fetches at once instead of sleeping
        until its next poll.
        """
        key = event_or_id if isinstance(event_or_id, str) else getattr(event_or_id, "id", None)
        if not isinstance(key, str):
            raise TypeError("notify() takes a composition id or an event with an .id")
        return self._waiters.notify(key)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def _timeout(self, timeout: TimeoutArg) -> Any:
        if timeout is NOT_GIVEN:
            return None
        return to_client_timeout(timeout, self._transport.timeout)

    async def _send_item(self, request: HttpRequest, timeout: TimeoutArg) -> M:
        response = await self._transport.send(request, timeout=self._timeout(timeout))
        return self._dialect.parse_item(response)

    async def fetch(self, id: str, *, timeout: TimeoutArg = NOT_GIVEN) -> M:
        """Fetch one composition by id (a Twilio SID or a Telnyx UUID)."""
        return await self._send_item(self._dialect.fetch_request(id), timeout)

    async def delete(self, id: str, *, timeout: TimeoutArg = NOT_GIVEN) -> None:
        """Delete a composition (Twilio keeps its record, status ``deleted``, for 30 days)."""
        request = self._dialect.delete_request(id)
        await self._transport.send(request, timeout=self._timeout(timeout))

    async def wait(self, id: str, *, timeout: float = 600.0, poll_interval: float = 2.0) -> M:
        """Poll with backoff until the composition is completed, failed or deleted.

        Raises CompositionFailedError (carrying the model) on failure and WaitTimeoutError
        at the deadline. ``notify()``, fed by webhook events, wakes it before the next poll.
        """
        request = self._dialect.fetch_request(id)
        event = self._waiters.register(id)
        try:
            return await wait_until_settled(
                functools.partial(self._send_item, request, NOT_GIVEN),
                _status_of,
                id,
                event,
                timeout=timeout,
                poll_interval=poll_interval,
            )
        finally:
            self._waiters.unregister(id, event)

    async def media_url(
        self, id: str, *, ttl: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> URL:
        """The pre-signed URL of the composition's media file."""
        raise NotImplementedError

    async def download(
        self,
        id: str,
        dest: Any,
        *,
        progress: ProgressCallback | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> DownloadResult:
        """Stream the media into ``dest``: a file path, a directory, or a binary file object.

        Written to a temporary file beside the destination and renamed only when complete;
        resumed with Range after a dropped connection; the byte count is checked against
        Content-Length; ``progress(done, total)`` is called after every chunk. The media
        URL is pre-signed, so it is fetched without provider credentials.
        """
        # Everything the caller passed is checked before the media URL is asked for.
        destination = check_destination(dest)
        on_progress = check_progress(progress)
        size = check_chunk_size(chunk_size)
        media_timeout = to_client_timeout(timeout, DOWNLOAD_TIMEOUT)
        url = await self.media_url(id, timeout=timeout)
        suffix = PurePosixPath(url.path).suffix or ".media"
        return await download_media(
            self._transport.sessions.get(),
            url,
            destination.sink(f"{id}{suffix}"),
            progress=on_progress,
            chunk_size=size,
            timeout=media_timeout,
            retry=self._transport.retry,
        )

    async def _fetch_page(self, query: Any, timeout: Any, cursor: C) -> Page[M]:
        request = self._dialect.page_request(query, cursor)
        response = await self._transport.send(request, timeout=timeout)
        page = self._dialect.parse_page(response, cursor)
        return attrs.evolve(page, fetcher=functools.partial(self._fetch_page, query, timeout))

    async def _fetch_body(self, query: Any, timeout: Any, cursor: C) -> Callable[[], Page[M]]:
        """A stream's page request: the body is parsed only when the consumer reaches it.

        A prefetched page waits as its JSON body, the smallest form it has (its dicts
        take about three times the space), and parsing stays off the prefetch path.
        """
        request = self._dialect.page_request(query, cursor)
        response = await self._transport.send(request, timeout=timeout)
        return functools.partial(self._dialect.parse_page, response, cursor, decode=False)

    async def _page(self, query: Any, cursor: C, timeout: TimeoutArg) -> Page[M]:
        return await self._fetch_page(query, self._timeout(timeout), cursor)

    def _plan(self, limit: object, page_size: object) -> tuple[int | None, int | None, int]:
        """Validate limit/page_size; return (limit, page size to send, page size to plan by)."""
        checked_limit = check_limit(limit)
        dialect = self._dialect
        if page_size is not None:
            size: int | None = check_int_range(page_size, 1, dialect.max_page_size, "page_size")
        elif checked_limit:
            # Asking for no more than needed: a limit of 10 should cost one small page.
            size = min(checked_limit, dialect.max_page_size)
        else:
            size = None
        return checked_limit, size, size or dialect.default_page_size

    def _stream(
        self,
        query: Any,
        first: C,
        *,
        limit: int | None,
        plan_size: int,
        prefetch: object,
        timeout: TimeoutArg,
    ) -> AsyncGenerator[M, None]:
        depth = check_prefetch(prefetch, self._dialect.max_prefetch)
        return stream_items(
            functools.partial(self._fetch_body, query, self._timeout(timeout)),
            first,
            limit=limit,
            page_size=plan_size,
            prefetch=depth,
            key=self._dialect.item_key,
            spawn=self._transport.sessions.spawn,
        )

    async def _list(self, stream: AsyncIterator[M]) -> list[M]:
        return [item async for item in stream]


# A large file takes as long as it takes: bound the connect and each read, not the total.
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=60.0)


def _status_of(model: Any) -> CompositionStatus | None:
    status = model.status
    if status is not None and not isinstance(status, CompositionStatus):
        raise TypeError(f"{type(model).__name__}.status is not a CompositionStatus")
    return status  # None: a record without a status yet is still settling
