"""``client.compositions`` for Twilio: create, fetch, delete, page, stream, list."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from yarl import URL

from .._download import DEFAULT_CHUNK_SIZE, DownloadResult, ProgressCallback
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

    async def fetch(self, sid: str, *, timeout: TimeoutArg = NOT_GIVEN) -> Composition:
        """Fetch one composition by SID."""
        return await self._send_item(self._dialect.fetch_request(sid), timeout)

    async def delete(self, sid: str, *, timeout: TimeoutArg = NOT_GIVEN) -> None:
        """Delete a composition's media (its record stays, status ``deleted``, for 30 days)."""
        await self._send_delete(self._dialect.delete_request(sid), timeout)

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

    async def wait(
        self, sid: str, *, timeout: float = 600.0, poll_interval: float = 2.0
    ) -> Composition:
        """Poll until the composition is completed, failed or deleted; raise if it failed.

        Raises CompositionFailedError (carrying the model) on failure and WaitTimeoutError
        at the deadline. ``notify()`` (fed by a status callback) wakes it before the next poll.
        """
        request = self._dialect.fetch_request(sid)
        return await self._wait(sid, request, timeout, poll_interval)

    async def media_url(
        self, sid: str, *, ttl: int | None = None, timeout: TimeoutArg = NOT_GIVEN
    ) -> URL:
        """The pre-signed media URL (valid ``ttl`` seconds, 1..3600, Twilio's default 600)."""
        request = self._dialect.media_request(sid, ttl=ttl)
        response = await self._transport.send(request, timeout=self._timeout(timeout))
        return self._dialect.parse_media_url(response)

    async def download(
        self,
        sid: str,
        dest: Any,
        *,
        progress: ProgressCallback | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: TimeoutArg = NOT_GIVEN,
    ) -> DownloadResult:
        """Stream the media into ``dest`` (a path, a directory, or a binary file object).

        Written to a temporary file and renamed when complete; resumed with Range after a
        dropped connection; the byte count is checked against Content-Length.
        """
        url = await self.media_url(sid)
        suffix = PurePosixPath(url.path).suffix or ".media"
        return await self._download(
            url,
            dest,
            f"{sid}{suffix}",
            progress=progress,
            chunk_size=chunk_size,
            timeout=timeout,
        )
