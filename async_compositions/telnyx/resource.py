"""``client.compositions`` for Telnyx: create, fetch, delete, page, stream, list, media."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from os import PathLike
from typing import Unpack

from yarl import URL

from .._archive import DEFAULT_NAME
from .._paging import Page
from .._resource import ResourceCore
from .._timeouts import NOT_GIVEN, TimeoutArg
from ..archive import ArchiveEvent, ArchiveReport
from ._dialect import TelnyxCreateParams, TelnyxDialect, TelnyxFilters
from .models import RoomComposition

__all__ = ["RoomCompositions"]


class RoomCompositions(ResourceCore[RoomComposition]):
    """Telnyx Room Compositions (API v2).

    Filters (``page``, ``stream``, ``list``): ``status``, ``session_id``,
    ``date_created_on``, ``date_created_after``, ``date_created_before`` (days).
    """

    __slots__ = ()
    _dialect: TelnyxDialect

    async def create(
        self, *, timeout: TimeoutArg = NOT_GIVEN, **params: Unpack[TelnyxCreateParams]
    ) -> RoomComposition:
        """Start composing a room session's recordings (never sent twice).

        ``params``: ``session_id``, ``video_layout``, ``resolution``, ``format``,
        ``webhook_event_url``, ``webhook_event_failover_url``, ``webhook_timeout_secs``.
        """
        return await self._item(self._dialect.create_request(params), timeout)

    async def ensure(
        self, *, timeout: TimeoutArg = NOT_GIVEN, **params: Unpack[TelnyxCreateParams]
    ) -> RoomComposition:
        """A composition of ``session_id`` with these parameters, created only if none exists.

        Takes what ``create()`` takes (``session_id`` required). A composition of the
        session with the same parameters (layout, resolution, format, webhook URLs and
        timeout; defaults filled in as Telnyx stores them) that has not failed is returned
        as it is. Concurrent calls with the same parameters on this client send at most one
        create; two processes still need a lock of their own. When a create was sent and
        its answer lost, the session is looked up again before the error is raised.
        """
        request = self._dialect.create_request(params)
        wanted = self._dialect.canonical(params)
        session = params.get("session_id")
        return await self._ensure(request, wanted, {"session_id": session}, timeout)

    async def page(
        self,
        *,
        page_size: int | None = None,
        page_number: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
        **filters: Unpack[TelnyxFilters],
    ) -> Page[RoomComposition]:
        """Fetch one page; pass an earlier page's ``next_page_number`` as ``page_number``,
        with the same filters, to resume a listing."""
        listing = self._dialect.listing(filters, page_size, page_number)
        return await self._page(listing, listing.first, self._timeout(timeout))

    def stream(
        self,
        *,
        limit: int | None = None,
        page_size: int | None = None,
        prefetch: int = 1,
        timeout: TimeoutArg = NOT_GIVEN,
        **filters: Unpack[TelnyxFilters],
    ) -> AsyncGenerator[RoomComposition, None]:
        """Iterate room compositions in page order, with up to ``prefetch`` (1..8) later
        pages being fetched while the caller works on the current one."""
        return self._stream(
            filters, limit=limit, page_size=page_size, prefetch=prefetch, timeout=timeout
        )

    async def list(
        self,
        *,
        limit: int | None = None,
        page_size: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
        **filters: Unpack[TelnyxFilters],
    ) -> list[RoomComposition]:
        """Every matching room composition (up to ``limit``) in one list."""
        return await self._list(filters, limit=limit, page_size=page_size, timeout=timeout)

    async def archive(
        self,
        dest: str | PathLike[str],
        *,
        concurrency: int = 4,
        delete_after: bool = False,
        manifest: str | PathLike[str] | None = None,
        dry_run: bool = False,
        progress: Callable[[ArchiveEvent], object] | None = None,
        name: str = DEFAULT_NAME,
        s3_endpoint_url: str | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
        **filters: Unpack[TelnyxFilters],
    ) -> ArchiveReport:
        """Copy every matching composition's media to ``dest``, durably; maybe delete them.

        ``dest`` is a directory or ``s3://bucket/prefix``. ``status`` defaults to
        completed. Each file is verified (Content-Length and the composition's own size),
        made durable, and recorded in the SQLite ``manifest`` before anything is deleted
        (``delete_after``); a rerun skips what is archived and still present. See the
        README's "Archive" section.
        """
        return await self._archive(
            dest,
            filters,
            concurrency=concurrency,
            delete_after=delete_after,
            manifest=manifest,
            dry_run=dry_run,
            progress=progress,
            name=name,
            s3_endpoint_url=s3_endpoint_url,
            timeout=timeout,
        )

    async def media_url(
        self, id: str, *, ttl: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> URL:
        """The composition's ``download_url``; NotFoundError until the media is ready.

        Telnyx sets the URL's lifetime itself, so ``ttl`` is accepted for symmetry with
        Twilio and must be None.
        """
        if ttl is not None:
            raise ValueError("Telnyx download URLs have a fixed lifetime; ttl must be None")
        response = await self._send(self._dialect.fetch_request(id), timeout)
        return self._dialect.parse_media_url(response, id)
