"""The optional imports: the official SDKs (the `bench` extra) and the Telnyx half of the library.

Each name is None when its package cannot be imported, and the matching ``*_NOTE`` says why;
a benchmark then skips the cases that need it.
"""

from __future__ import annotations

__all__ = [
    "TELNYX_LIB_NOTE",
    "TELNYX_SDK_NOTE",
    "TWILIO_SDK_NOTE",
    "AsyncTelnyx",
    "AsyncTwilioHttpClient",
    "TelnyxClient",
    "TwilioSDK",
]

try:
    from async_compositions.telnyx import TelnyxClient
except ImportError as exc:  # the Telnyx half of the library may not exist yet
    TelnyxClient = None  # type: ignore[assignment,misc]
    TELNYX_LIB_NOTE: str | None = f"async_compositions.telnyx not importable ({exc})"
else:
    TELNYX_LIB_NOTE = None

try:
    from twilio.http.async_http_client import (  # type: ignore[import-untyped]
        AsyncTwilioHttpClient,
    )
    from twilio.rest import Client as TwilioSDK  # type: ignore[import-untyped]
except ImportError as exc:
    AsyncTwilioHttpClient = TwilioSDK = None
    TWILIO_SDK_NOTE: str | None = f"twilio not installed ({exc}); run `make bench`"
else:
    TWILIO_SDK_NOTE = None

try:
    from telnyx import AsyncTelnyx
except ImportError as exc:
    AsyncTelnyx = None  # type: ignore[assignment,misc]
    TELNYX_SDK_NOTE: str | None = f"telnyx not installed ({exc}); run `make bench`"
else:
    TELNYX_SDK_NOTE = None
