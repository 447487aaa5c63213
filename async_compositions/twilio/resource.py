"""``client.compositions`` for Twilio: create, fetch, delete, page, stream, list, media."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Unpack

from yarl import URL

from .._paging import Page
from .._resource import ResourceCore
from .._timeouts import NOT_GIVEN, TimeoutArg
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

    async def media_url(
        self, id: str, *, ttl: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> URL:
        """The pre-signed media URL (valid ``ttl`` seconds, 1..3600, Twilio's default 600)."""
        response = await self._send(self._dialect.media_request(id, ttl=ttl), timeout)
        return self._dialect.parse_media_url(response)
