"""Asyncio-native client for video-room compositions (Twilio Video v1, Telnyx Room Compositions)."""

from ._paging import Page
from ._timeouts import NOT_GIVEN
from ._version import __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CompositionsError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    UnprocessableEntityError,
    WebhookPayloadError,
    WebhookVerificationError,
)
from .retry import RetryPolicy
from .status import CompositionStatus
from .telnyx.client import TelnyxClient
from .twilio.client import TwilioClient

__all__ = [
    "NOT_GIVEN",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CompositionStatus",
    "CompositionsError",
    "ConflictError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseDecodeError",
    "RetryPolicy",
    "ServerError",
    "TelnyxClient",
    "TwilioClient",
    "UnprocessableEntityError",
    "WebhookPayloadError",
    "WebhookVerificationError",
    "__version__",
]
