"""``client.compositions`` for Twilio: create, fetch, delete, page, stream, list, media."""

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
from ._dialect import TwilioCreateParams, TwilioDialect, TwilioFilters
from .models import Composition

__all__ = ["Compositions"]


class Compositions(ResourceCore[Composition]):
    """Twilio Video v1 Compositions.

    Filters (``page``, ``stream``, ``list``): ``status``, ``room_sid``,
    ``date_created_after``, ``date_created_before`` (aware datetimes, sent in UTC).
    """

    __slots__ = ()
    _dialect: TwilioDialect

    async def create(
        self,
        room_sid: str,
        *,
        timeout: TimeoutArg = NOT_GIVEN,
        **params: Unpack[TwilioCreateParams],
    ) -> Composition:
        """Create a composition of a completed Group Room's recordings (never sent twice).

        ``params``: ``video_layout``, ``audio_sources``, ``audio_sources_excluded``,
        ``resolution``, ``format``, ``status_callback``, ``status_callback_method``, ``trim``.
        """
        return await self._item(self._dialect.create_request(room_sid, params), timeout)

    async def ensure(
        self,
        room_sid: str,
        *,
        timeout: TimeoutArg = NOT_GIVEN,
        **params: Unpack[TwilioCreateParams],
    ) -> Composition:
        """A composition of ``room_sid`` with these parameters, created only if none exists.

        Takes what ``create()`` takes. A composition of the room with the same parameters
        (layout, audio sources, resolution, format, trim, callbacks; defaults filled in as
        Twilio stores them) that has not failed or been deleted is returned as it is.
        Concurrent calls with the same parameters on this client send at most one create;
        two processes still need a lock of their own. When a create was sent and its
        answer lost, the room is looked up again before the error is raised.
        """
        request = self._dialect.create_request(room_sid, params)
        wanted = self._dialect.canonical(room_sid, params)
        return await self._ensure(request, wanted, {"room_sid": room_sid}, timeout)

    async def page(
        self,
        *,
        page_size: int | None = None,
        page_url: str | URL | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
        **filters: Unpack[TwilioFilters],
    ) -> Page[Composition]:
        """Fetch one page; pass an earlier page's ``next_page_url`` as ``page_url`` to resume."""
        if page_url is not None:
            if page_size is not None or any(v is not None for v in filters.values()):
                raise TypeError("page_url carries its own filters; pass either page_url or filters")
            listing = self._dialect.resume(page_url)
        else:
            listing = self._dialect.listing(filters, page_size)
        return await self._page(listing, listing.first, self._timeout(timeout))

    def stream(
        self,
        *,
        limit: int | None = None,
        page_size: int | None = None,
        prefetch: int = 1,
        timeout: TimeoutArg = NOT_GIVEN,
        **filters: Unpack[TwilioFilters],
    ) -> AsyncGenerator[Composition, None]:
        """Iterate compositions, fetching the next page while the caller works on this one."""
        return self._stream(
            filters, limit=limit, page_size=page_size, prefetch=prefetch, timeout=timeout
        )

    async def list(
        self,
        *,
        limit: int | None = None,
        page_size: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
        **filters: Unpack[TwilioFilters],
    ) -> list[Composition]:
        """Every matching composition (up to ``limit``) in one list."""
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
        **filters: Unpack[TwilioFilters],
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
        """The pre-signed media URL (valid ``ttl`` seconds, 1..3600, Twilio's default 600)."""
        response = await self._send(self._dialect.media_request(id, ttl=ttl), timeout)
        return self._dialect.parse_media_url(response)
