"""Telnyx Room Compositions (API v2): client, models and request helpers."""

from .client import TelnyxClient
from .models import RoomComposition, VideoRegion
from .resource import RoomCompositions

__all__ = ["RoomComposition", "RoomCompositions", "TelnyxClient", "VideoRegion"]
