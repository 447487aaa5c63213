"""The provider-neutral half of a compositions resource: one implementation of every verb."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, Hashable, Mapping
from pathlib import PurePosixPath
from typing import Any, Generic, TypeVar

import aiohttp
import attrs
from yarl import URL

from ._archive import ArchivePlan, NameTemplate, check_filters_status, manifest_path, run_archive
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
from ._http import HttpRequest, HttpResponse
from ._listing import Listing
from ._paging import Page
from ._stores import open_store
from ._stream import stream_items
from ._timeouts import NOT_GIVEN, TimeoutArg, to_client_timeout
from ._transport import Transport
from ._validate import check_bool, check_int_range, check_limit, check_prefetch, check_url
from ._wait import Waiters, wait_until_settled
from .archive import ArchiveReport
from .errors import APIConnectionError, CompositionFailedError, ServerError
from .status import CompositionStatus

__all__ = ["DOWNLOAD_TIMEOUT", "ResourceCore"]

M = TypeVar("M")
C = TypeVar("C", bound=Hashable)

# A large file takes as long as it takes: bound the connect and each read, not the total.
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=60.0)
# After a create whose answer was lost: look for it now, then after these pauses (seconds).
_LOOK_AGAIN = (0.0, 0.5, 1.5)
# An archive waits out rate limits: this many 429s per request, Retry-After up to this.
_PATIENT_ATTEMPTS = 100
_PATIENT_RETRY_AFTER = 900.0


class ResourceCore(Generic[M]):
    """Runs a dialect's requests through the transport; provider classes add typed verbs.

    ``timeout=`` on every verb bounds each HTTP request the verb makes (each attempt):
    seconds, an ``aiohttp.ClientTimeout``, or None for no limit. ``wait()`` is the one verb
    whose ``timeout=`` is an overall deadline; its requests take ``request_timeout=``.
    """

    __slots__ = ("_dialect", "_ensuring", "_transport", "_waiters")

    def __init__(self, transport: Transport, dialect: Dialect[M]) -> None:
        self._transport = transport
        self._dialect = dialect
        self._waiters = Waiters()
        # ensure() calls in flight, by what they ask for: concurrent ones share one.
        self._ensuring: dict[Hashable, asyncio.Task[M]] = {}

    def notify(self, event_or_id: Any) -> int:
        """Wake pending ``wait()`` calls for a composition (pass a webhook event or an id).

        Returns how many waiters were woken; each re-fetches at once instead of sleeping
        until its next poll.
        """
        key = event_or_id if isinstance(event_or_id, str) else getattr(event_or_id, "id", None)
        if not isinstance(key, str):
            raise TypeError("notify() takes a composition id or an event with an .id")
        code = getattr(event_or_id, "error_code", None)
        detail = getattr(event_or_id, "error_message", None)
        failure = (code, detail) if code is not None or detail is not None else None
        return self._waiters.notify(key, failure)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def _timeout(self, timeout: TimeoutArg) -> aiohttp.ClientTimeout:
        return to_client_timeout(timeout, self._transport.timeout)

    async def _send(self, request: HttpRequest, timeout: TimeoutArg) -> HttpResponse:
        return await self._transport.send(request, self._timeout(timeout))

    async def _item(self, request: HttpRequest, timeout: TimeoutArg) -> M:
        return self._dialect.parse_item(await self._send(request, timeout))

    async def fetch(self, id: str, *, timeout: TimeoutArg = NOT_GIVEN) -> M:
        """Fetch one composition by id (a Twilio SID or a Telnyx UUID)."""
        # Spelled out rather than through _item: one coroutine frame fewer per await.
        dialect = self._dialect
        request = dialect.fetch_request(id)
        return dialect.parse_item(await self._transport.send(request, self._timeout(timeout)))

    async def delete(self, id: str, *, timeout: TimeoutArg = NOT_GIVEN) -> None:
        """Delete a composition (Twilio keeps its record, status ``deleted``, for 30 days)."""
        await self._send(self._dialect.delete_request(id), timeout)

    async def wait(
        self,
        id: str,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
        request_timeout: TimeoutArg = NOT_GIVEN,
    ) -> M:
        """Poll with backoff until the composition is completed, failed or deleted.

        ``timeout`` is the overall deadline in seconds; ``request_timeout`` bounds each
        poll's request. Raises CompositionFailedError (carrying the model) on failure and
        WaitTimeoutError at the deadline. ``notify()``, fed by webhook events, wakes it
        before the next poll.
        """
        request = self._dialect.fetch_request(id)
        per_request = self._timeout(request_timeout)
        event = self._waiters.register(id)
        provider = self._dialect.provider

        def failed(message: str, model: Any) -> CompositionFailedError:
            code, detail = self._waiters.failure(id)
            if code is not None:
                message += f" (code {code}{': ' + detail if detail else ''})"
            elif detail:
                message += f" ({detail})"
            return CompositionFailedError(
                message, model, code=code, detail=detail, provider=provider
            )

        try:
            return await wait_until_settled(
                functools.partial(self._item, request, per_request),
                _status_of,
                id,
                event,
                timeout=timeout,
                poll_interval=poll_interval,
                failed=failed,
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
        URL is pre-signed, so it is fetched without provider credentials. ``timeout``
        bounds each request (the media URL lookup and each media attempt); by default a
        media request has no total limit, only connect and per-read ones.
        """
        # Everything the caller passed is checked before the media URL is asked for.
        destination = check_destination(dest)
        on_progress = check_progress(progress)
        size = check_chunk_size(chunk_size)
        media_timeout = to_client_timeout(timeout, DOWNLOAD_TIMEOUT)
        url = await self.media_url(id, timeout=timeout)
        name = f"{id}{PurePosixPath(url.path).suffix or '.media'}"
        writer = destination.writer(name)
        try:
            transfer = await download_media(
                self._transport,
                url,
                writer,
                progress=on_progress,
                chunk_size=size,
                timeout=media_timeout,
                renew=functools.partial(self.media_url, id, timeout=timeout),
            )
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        return DownloadResult(destination.target(name), transfer.size, transfer.content_type)

    # -- compose once -----------------------------------------------------------------------

    async def _ensure(
        self,
        request: HttpRequest,
        wanted: Hashable,
        filters: Mapping[str, Any],
        timeout: TimeoutArg,
    ) -> M:
        """The composition ``wanted`` describes, created only if none exists (see ``ensure``)."""
        per_request = self._timeout(timeout)
        task = self._ensuring.get(wanted)
        if task is None:
            task = self._transport.sessions.spawn(
                self._ensure_once(request, wanted, filters, per_request)
            )
            self._ensuring[wanted] = task
            task.add_done_callback(lambda _: self._ensuring.pop(wanted, None))
        # Shielded: one caller giving up does not stop the others' shared create.
        return await asyncio.shield(task)

    async def _find(
        self, wanted: Hashable, filters: Mapping[str, Any], timeout: aiohttp.ClientTimeout
    ) -> M | None:
        """A composition of the room with the wanted parameters, not failed or deleted."""
        dialect = self._dialect
        stream = self._stream(
            filters, limit=None, page_size=dialect.max_page_size, prefetch=1, timeout=timeout
        )
        async with contextlib.aclosing(stream) as items:
            async for model in items:
                status = _status_of(model)
                if status in (CompositionStatus.FAILED, CompositionStatus.DELETED):
                    continue
                if dialect.canonical_of(model) == wanted:
                    return model
        return None

    async def _ensure_once(
        self,
        request: HttpRequest,
        wanted: Hashable,
        filters: Mapping[str, Any],
        timeout: aiohttp.ClientTimeout,
    ) -> M:
        found = await self._find(wanted, filters, timeout)
        if found is not None:
            return found
        try:
            return self._dialect.parse_item(await self._transport.send(request, timeout))
        except (APIConnectionError, ServerError) as exc:
            if isinstance(exc, APIConnectionError) and exc.before_send:
                raise
            lost = exc
        # The create was sent and its answer lost: it may exist. Look before anything else.
        for pause in _LOOK_AGAIN:
            await asyncio.sleep(pause)
            found = await self._find(wanted, filters, timeout)
            if found is not None:
                return found
        raise lost

    # -- archive ----------------------------------------------------------------------------

    async def _archive(
        self,
        dest: object,
        filters: Mapping[str, Any],
        *,
        concurrency: object,
        delete_after: object,
        manifest: object,
        dry_run: object,
        progress: object,
        name: object,
        s3_endpoint_url: object,
        timeout: TimeoutArg,
    ) -> ArchiveReport:
        """Check every argument, then run the archive (see ``_archive``)."""
        workers = check_int_range(concurrency, 1, 64, "concurrency")
        check_bool(delete_after, "delete_after")
        check_bool(dry_run, "dry_run")
        if progress is not None and not callable(progress):
            raise TypeError(f"progress must be a callable or None, not {type(progress).__name__}")
        template = NameTemplate(name)
        if s3_endpoint_url is not None:
            check_url(s3_endpoint_url, "s3_endpoint_url")
        store = open_store(dest, s3_endpoint_url=s3_endpoint_url)  # type: ignore[arg-type]
        path = manifest_path(store, manifest, self._dialect.provider)
        chosen = check_filters_status(filters)
        per_request = self._timeout(timeout)
        media_timeout = to_client_timeout(timeout, DOWNLOAD_TIMEOUT)
        # Build the listing now: a bad filter fails before the store is touched.
        self._dialect.listing(chosen, None)
        # 429s slow an archive down; they never fail it.
        policy = attrs.evolve(
            self._transport.retry,
            rate_limit_attempts=max(self._transport.retry.max_attempts, _PATIENT_ATTEMPTS),
            max_retry_after=max(self._transport.retry.max_retry_after, _PATIENT_RETRY_AFTER),
        )
        patient = type(self)(self._transport.with_retry(policy), self._dialect)
        plan = ArchivePlan(
            store=store,
            manifest_path=path,
            provider=self._dialect.provider,
            name=template,
            concurrency=workers,
            delete_after=bool(delete_after),
            dry_run=bool(dry_run),
            progress=progress,
        )
        dialect = self._dialect
        return await run_archive(
            plan,
            listing=lambda: patient._stream(
                chosen,
                limit=None,
                page_size=dialect.max_page_size,
                prefetch=min(2, dialect.max_prefetch),
                timeout=per_request,
            ),
            transport=patient._transport,
            facts=dialect.facts,
            media_url=lambda id: patient.media_url(id, timeout=per_request),
            delete=lambda id: patient.delete(id, timeout=per_request),
            fetch=lambda id: patient.fetch(id, timeout=per_request),
            media_timeout=media_timeout,
        )

    # -- listings ---------------------------------------------------------------------------

    async def _page(
        self, listing: Listing[Any], cursor: Any, timeout: aiohttp.ClientTimeout
    ) -> Page[M]:
        """One page, fully decoded, that can fetch the one after it."""
        response = await self._transport.send(listing.request(cursor), timeout)
        batch = listing.parse(response, cursor)
        following = batch.following
        return Page(
            items=self._dialect.decode_batch(batch),
            has_next=bool(following),
            next_page_url=batch.next_page_url,
            next_page_number=batch.next_page_number,
            page_number=batch.page_number,
            page_size=batch.page_size,
            total_pages=batch.total_pages,
            total_results=batch.total_results,
            next=functools.partial(self._page, listing, following[0], timeout)
            if following
            else None,
        )

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
        filters: Mapping[str, Any],
        *,
        limit: object,
        page_size: object,
        prefetch: object,
        timeout: TimeoutArg,
    ) -> AsyncGenerator[M, None]:
        """Check everything now (a generator would check only at its first step), then stream."""
        checked_limit, send_size, plan_size = self._plan(limit, page_size)
        listing = self._dialect.listing(filters, send_size)
        depth = check_prefetch(prefetch, self._dialect.max_prefetch)
        fetch_timeout = self._timeout(timeout)

        async def fetch(cursor: Any) -> HttpResponse:
            return await self._transport.send(listing.request(cursor), fetch_timeout)

        return stream_items(
            listing,
            fetch,
            self._dialect.decode,
            self._dialect.item_key,
            limit=checked_limit,
            page_size=plan_size,
            prefetch=depth,
            spawn=self._transport.sessions.spawn,
        )

    async def _list(
        self, filters: Mapping[str, Any], *, limit: object, page_size: object, timeout: TimeoutArg
    ) -> list[M]:
        stream = self._stream(
            filters, limit=limit, page_size=page_size, prefetch=1, timeout=timeout
        )
        return [item async for item in stream]


def _status_of(model: Any) -> CompositionStatus | None:
    status = model.status
    if status is not None and not isinstance(status, CompositionStatus):
        raise TypeError(f"{type(model).__name__}.status is not a CompositionStatus")
    return status  # None: a record without a status yet is still settling
