"""Asyncio-native client for video-room compositions (Twilio Video v1, Telnyx Room Compositions)."""

import importlib
from typing import TYPE_CHECKING, Any

from ._paging import Page
from ._timeouts import NOT_GIVEN
from ._version import __version__
from .archive import ArchiveReport
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CompositionFailedError,
    CompositionsError,
    ConflictError,
    DownloadError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    UnprocessableEntityError,
    WaitTimeoutError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from .layout import VideoLayout
from .ratelimit import ClientStats, RateLimit
from .retry import RetryPolicy
from .status import CompositionStatus

if TYPE_CHECKING:
    from .telnyx.client import TelnyxClient
    from .twilio.client import TwilioClient

# Each provider (its models, dialect and decoding code) loads when its client is first
# named, so `import async_compositions` stays as cheap as importing aiohttp and attrs.
_LAZY = {"TwilioClient": ".twilio.client", "TelnyxClient": ".telnyx.client"}


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "ArchiveReport",
    "AuthenticationError",
    "BadRequestError",
    "ClientStats",
    "CompositionFailedError",
    "CompositionStatus",
    "CompositionsError",
    "ConflictError",
    "DownloadError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "ResponseDecodeError",
    "RetryPolicy",
    "ServerError",
    "TelnyxClient",
    "TwilioClient",
    "UnprocessableEntityError",
    "VideoLayout",
    "WaitTimeoutError",
    "WebhookPayloadError",
    "WebhookVerificationError",
    "__version__",
]
