"""``client.compositions`` for Twilio: create, fetch, delete, page, stream, list."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import datetime
from typing import Any

from yarl import URL

from .._paging import Page
from .._resource import ResourceCore
from .._timeouts import NOT_GIVEN, TimeoutArg
from ..status import CompositionStatus
from ._dialect import TwilioDialect
from .models import Composition, VideoRegion

__all__ = ["Compositions"]


class Compositions(ResourceCore[Composition, URL]):
    """Twilio Video v1 Compositions."""

    __slots__ = ()
    _dialect: TwilioDialect

    async def create(
        self,
        room_sid: str,
        *,
        video_layout: Mapping[str, VideoRegion | Mapping[str, Any]] | None = None,
        audio_sources: Sequence[str] | None = None,
        audio_sources_excluded: Sequence[str] | None = None,
        resolution: str | None = None,
        format: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str | None = None,
        trim: bool | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> Composition:
        """Create a composition of a completed Group Room's recordings (never sent twice)."""
        request = self._dialect.create_request(
            room_sid,
            video_layout=video_layout,
            audio_sources=audio_sources,
            audio_sources_excluded=audio_sources_excluded,
            resolution=resolution,
            format=format,
            status_callback=status_callback,
            status_callback_method=status_callback_method,
            trim=trim,
        )
        return await self._send_item(request, timeout)

    async def page(
        self,
        *,
        status: str | CompositionStatus | None = None,
        room_sid: str | None = None,
        date_created_after: datetime | None = None,
        date_created_before: datetime | None = None,
        page_size: int | None = None,
        page_url: str | URL | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> Page[Composition]:
        """Fetch one page; pass an earlier page's ``next_page_url`` as ``page_url`` to resume."""
        if page_url is not None:
            if any(
                v is not None
                for v in (status, room_sid, date_created_after, date_created_before, page_size)
            ):
                raise TypeError("page_url carries its own filters; pass either page_url or filters")
            cursor = self._dialect.resume_url(page_url)
        else:
            cursor = self._dialect.first_page_url(
                status=status,
                room_sid=room_sid,
                date_created_after=date_created_after,
                date_created_before=date_created_before,
                page_size=page_size,
            )
        return await self._page(None, cursor, timeout)

    def stream(
        self,
        *,
        status: str | CompositionStatus | None = None,
        room_sid: str | None = None,
        date_created_after: datetime | None = None,
        date_created_before: datetime | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        prefetch: int = 1,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> AsyncGenerator[Composition, None]:
        """Iterate compositions, fetching the next page while the caller works on this one."""
        checked_limit, send_size, plan_size = self._plan(limit, page_size)
        first = self._dialect.first_page_url(
            status=status,
            room_sid=room_sid,
            date_created_after=date_created_after,
            date_created_before=date_created_before,
            page_size=send_size,
        )
        return self._stream(
            None,
            first,
            limit=checked_limit,
            plan_size=plan_size,
            prefetch=prefetch,
            timeout=timeout,
        )

    async def list(
        self,
        *,
        status: str | CompositionStatus | None = None,
        room_sid: str | None = None,
        date_created_after: datetime | None = None,
        date_created_before: datetime | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> list[Composition]:
        """Every matching composition (up to ``limit``) in one list."""
        stream = self.stream(
            status=status,
            room_sid=room_sid,
            date_created_after=date_created_after,
            date_created_before=date_created_before,
            limit=limit,
            page_size=page_size,
            timeout=timeout,
        )
        return await self._list(stream)

    async def media_url(
        self, id: str, *, ttl: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> URL:
        """The pre-signed media URL (valid ``ttl`` seconds, 1..3600, Twilio's default 600)."""
        request = self._dialect.media_request(id, ttl=ttl)
        response = await self._transport.send(request, timeout=self._timeout(timeout))
        return self._dialect.parse_media_url(response)
