"""``client.compositions`` for Telnyx: create, fetch, delete, page, stream, list."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from datetime import date
from typing import Any

from yarl import URL

from .._paging import Page
from .._resource import ResourceCore
from .._timeouts import NOT_GIVEN, TimeoutArg
from ..status import CompositionStatus
from ._dialect import TelnyxDialect
from .models import RoomComposition, VideoRegion

__all__ = ["RoomCompositions"]


class RoomCompositions(ResourceCore[RoomComposition, int]):
    """Telnyx Room Compositions (API v2)."""

    __slots__ = ()
    _dialect: TelnyxDialect

    async def create(
        self,
        *,
        session_id: str | None = None,
        video_layout: Mapping[str, VideoRegion | Mapping[str, Any]] | None = None,
        resolution: str | None = None,
        format: str | None = None,
        webhook_event_url: str | None = None,
        webhook_event_failover_url: str | None = None,
        webhook_timeout_secs: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> RoomComposition:
        """Start composing a room session's recordings (never sent twice)."""
        request = self._dialect.create_request(
            session_id=session_id,
            video_layout=video_layout,
            resolution=resolution,
            format=format,
            webhook_event_url=webhook_event_url,
            webhook_event_failover_url=webhook_event_failover_url,
            webhook_timeout_secs=webhook_timeout_secs,
        )
        return await self._send_item(request, timeout)

    async def page(
        self,
        *,
        status: str | CompositionStatus | None = None,
        session_id: str | None = None,
        date_created_on: date | str | None = None,
        date_created_after: date | str | None = None,
        date_created_before: date | str | None = None,
        page_size: int | None = None,
        page_number: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> Page[RoomComposition]:
        """Fetch one page; pass ``page_number`` (e.g. an earlier page's ``next_page_number``)
        with the same filters to resume a listing."""
        query = self._dialect.list_query(
            status=status,
            session_id=session_id,
            date_created_on=date_created_on,
            date_created_after=date_created_after,
            date_created_before=date_created_before,
            page_size=page_size,
        )
        cursor = 1 if page_number is None else self._dialect.check_page_number(page_number)
        return await self._page(query, cursor, timeout)

    def stream(
        self,
        *,
        status: str | CompositionStatus | None = None,
        session_id: str | None = None,
        date_created_on: date | str | None = None,
        date_created_after: date | str | None = None,
        date_created_before: date | str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        prefetch: int = 1,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> AsyncGenerator[RoomComposition, None]:
        """Iterate room compositions in page order, with up to ``prefetch`` (1..8) later
        pages being fetched while the caller works on the current one."""
        checked_limit, send_size, plan_size = self._plan(limit, page_size)
        query = self._dialect.list_query(
            status=status,
            session_id=session_id,
            date_created_on=date_created_on,
            date_created_after=date_created_after,
            date_created_before=date_created_before,
            page_size=send_size,
        )
        return self._stream(
            query,
            1,
            limit=checked_limit,
            plan_size=plan_size,
            prefetch=prefetch,
            timeout=timeout,
        )

    async def list(
        self,
        *,
        status: str | CompositionStatus | None = None,
        session_id: str | None = None,
        date_created_on: date | str | None = None,
        date_created_after: date | str | None = None,
        date_created_before: date | str | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> list[RoomComposition]:
        """Every matching room composition (up to ``limit``) in one list."""
        stream = self.stream(
            status=status,
            session_id=session_id,
            date_created_on=date_created_on,
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
        """The composition's ``download_url``; NotFoundError until the media is ready.

        Telnyx sets the URL's lifetime itself, so ``ttl`` is accepted for symmetry with
        Twilio and must be None.
        """
        if ttl is not None:
            raise ValueError("Telnyx download URLs have a fixed lifetime; ttl must be None")
        request = self._dialect.fetch_request(id)
        response = await self._transport.send(request, timeout=self._timeout(timeout))
        return self._dialect.parse_media_url(response, id)
