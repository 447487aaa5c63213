"""Twilio Video v1 composition models (attrs, frozen and slotted)."""

from __future__ import annotations

import warnings
from datetime import datetime

import attrs

from ..layout import VideoLayout
from ..status import CompositionStatus

__all__ = ["Composition", "VideoRegion"]


@attrs.frozen(slots=True, kw_only=True)
class VideoRegion:
    """One region of a Twilio ``VideoLayout``; unset fields take Twilio's defaults."""

    video_sources: list[str] = attrs.field(factory=list)
    video_sources_excluded: list[str] | None = None
    reuse: str | None = None
    x_pos: int | None = None
    y_pos: int | None = None
    z_pos: int | None = None
    width: int | None = None
    height: int | None = None
    max_columns: int | None = None
    max_rows: int | None = None
    cells_excluded: list[int] | None = None


@attrs.frozen(slots=True, kw_only=True)
class Composition:
    """A Twilio composition resource (``video.v1.composition``)."""

    sid: str
    status: CompositionStatus
    account_sid: str | None = None
    room_sid: str | None = None
    date_created: datetime | None = None
    date_completed: datetime | None = None
    date_deleted: datetime | None = None
    audio_sources: list[str] | None = None
    audio_sources_excluded: list[str] | None = None
    video_layout: VideoLayout[VideoRegion] | None = None
    resolution: str | None = None
    trim: bool | None = None
    format: str | None = None
    bitrate: int = 0
    size: int | None = None
    duration: int = 0
    media_external_location: str | None = None
    status_callback: str | None = None
    status_callback_method: str | None = None
    url: str | None = None
    links: dict[str, str] | None = None

    @property
    def id(self) -> str:
        """The composition's identifier (its SID), the name both providers share."""
        return self.sid

    @property
    def media_link(self) -> str | None:
        """The ``/Media`` sub-resource URL, when the response linked it.

        It answers only with the account's credentials, and redirects to the media itself;
        ``client.compositions.media_url(sid)`` gives that pre-signed URL.
        """
        return self.links.get("media") if self.links else None

    @property
    def media_url(self) -> str | None:
        """Deprecated name of ``media_link`` (not the pre-signed ``compositions.media_url()``)."""
        warnings.warn(
            "Composition.media_url is deprecated: use Composition.media_link (the /Media "
            "resource) or await client.compositions.media_url(sid) (the pre-signed URL)",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.media_link
