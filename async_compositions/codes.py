"""What the providers' error codes mean for compositions, and whether to try again.

``retryable`` is True where the provider says the same request (or creating the
composition again) may succeed, False where it says it will not, and None where the
provider does not say.
"""

from __future__ import annotations

import attrs

__all__ = ["TELNYX_CODES", "TWILIO_CODES", "ErrorCode", "describe"]


@attrs.frozen(slots=True)
class ErrorCode:
    """One provider error code: its title, what to do, and whether to retry."""

    provider: str
    code: str
    title: str
    retryable: bool | None
    advice: str


def _table(provider: str, rows: list[tuple[str, str, bool | None, str]]) -> dict[str, ErrorCode]:
    return {
        code: ErrorCode(provider, code, title, retry, advice) for code, title, retry, advice in rows
    }


TWILIO_CODES = _table(
    "twilio",
    [
        ("20001", "Invalid parameter", False, "fix the parameter the message names"),
        ("20003", "Authentication failed", False, "check the Account SID and Auth Token (or key)"),
        ("20404", "Resource not found", False, "no such composition (or its media is not ready)"),
        (
            "20429",
            "Too many requests",
            True,
            "never processed: safe to send again after a pause (the rate governor does this)",
        ),
        ("20500", "Internal server error", True, "a transient failure: try again later"),
        ("20503", "Service unavailable", True, "a transient failure: try again later"),
        (
            "53106",
            "Room not found",
            False,
            "the room SID is wrong, or the room is not a Group Room",
        ),
        (
            "53626",
            "Internal failure while processing the media composition",
            None,
            "Twilio gives no advice beyond contacting support if it persists",
        ),
        (
            "53627",
            "Internal failure updating the composition resource",
            False,
            "the media is probably safe in S3; contact Twilio support",
        ),
        (
            "53631",
            "A composition hook failed to create or enqueue a composition",
            True,
            "check the hook's settings; the composition can be created with the REST API",
        ),
        (
            "53632",
            "Failed to enqueue a room composition",
            True,
            "create the composition again (Twilio says so); contact support if it persists",
        ),
        (
            "53633",
            "Composition too large (its sources exceed 40 GB)",
            False,
            "exclude some sources so that they stay under Twilio's maximum",
        ),
    ],
)

TELNYX_CODES = _table(
    "telnyx",
    [
        ("10004", "Missing required parameter", False, "send the parameter the detail names"),
        ("10005", "Resource not found", False, "no such room composition (or session)"),
        ("10009", "Authentication failed", False, "check the API key"),
        ("10010", "Authorization failed", False, "the key may not do this"),
        (
            "10011",
            "Too many requests",
            True,
            "wait for x-ratelimit-reset (or Retry-After) and send again",
        ),
        ("10015", "Bad request", False, "fix the parameter the source pointer names"),
    ],
)

_TABLES = {"twilio": TWILIO_CODES, "telnyx": TELNYX_CODES}


def describe(provider: str | None, code: object) -> ErrorCode | None:
    """The meaning of ``code`` from ``provider`` ("twilio" or "telnyx"), if documented."""
    table = _TABLES.get(provider or "")
    if table is None or code is None or isinstance(code, bool):
        return None
    return table.get(str(code))
