"""Twilio Video v1 Compositions: client, models and request helpers."""

from .client import TwilioClient
from .models import Composition, VideoRegion
from .resource import Compositions

__all__ = ["Composition", "Compositions", "TwilioClient", "VideoRegion"]
