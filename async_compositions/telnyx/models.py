"""Telnyx Room Compositions (API v2) models (attrs, frozen and slotted)."""

from __future__ import annotations

from datetime import datetime

import attrs
from yarl import URL

from .._log import redacted_repr
from ..layout import VideoLayout
from ..status import CompositionStatus

__all__ = ["RoomComposition", "VideoRegion"]


@attrs.frozen(slots=True, kw_only=True)
class VideoRegion:
    """One region of a Telnyx ``video_layout``; unset fields take Telnyx's defaults."""

    x_pos: int | None = None
    y_pos: int | None = None
    z_pos: int | None = None
    width: int | None = None
    height: int | None = None
    max_columns: int | None = None
    max_rows: int | None = None
    # Video recording ids, or ["*"] for every recording of the session.
    video_sources: list[str] | None = None


@attrs.frozen(slots=True, kw_only=True)
class RoomComposition:
    """A Telnyx room composition (``GET /v2/room_compositions/{id}``)."""

    id: str
    status: CompositionStatus | None = None
    room_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    format: str | None = None
    resolution: str | None = None
    size_mb: float | None = None
    duration_secs: int | None = None
    download_url: URL | None = attrs.field(default=None, repr=redacted_repr)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    completed_at: datetime | None = None
    video_layout: VideoLayout[VideoRegion] | None = None
    webhook_event_url: str | None = None
    webhook_event_failover_url: str | None = None
    webhook_timeout_secs: int | None = None
    # "composition" in every documented example, "room_composition" in the schema.
    record_type: str | None = None
