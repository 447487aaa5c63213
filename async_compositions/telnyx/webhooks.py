"""Telnyx webhooks: Ed25519 signature verification and typed composition events.

Telnyx signs ``f"{telnyx-timestamp}|"`` followed by the raw request body with the account's
Ed25519 key; the public half (base64 of 32 raw bytes) is shown in the Mission Control
Portal. Verification needs the ``cryptography`` package (the ``webhooks`` extra).

Errors: every failure raises ``WebhookVerificationError``. A correctly signed body that is
not a composition event raises its subclass ``WebhookPayloadError``, so a receiver can answer
a forged request with 403 and a malformed one with 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
from yarl import URL

from .._decode import parse_datetime
from .._log import redacted_repr
from ..errors import WebhookPayloadError, WebhookVerificationError

__all__ = [
    "COMPOSITION_EVENT_PREFIX",
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CompositionEvent",
    "check_tolerance",
    "load_public_key",
    "parse_event",
    "verify",
    "verify_signature",
]

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
# The replay window of Telnyx's own SDK, applied to stale and future timestamps alike.
DEFAULT_TOLERANCE = 300
COMPOSITION_EVENT_PREFIX = "video.room.composition."

_DIGITS = re.compile(r"[0-9]{1,15}")
_KEY_SIZE = 32
_SIGNATURE_SIZE = 64


@attrs.frozen(slots=True, kw_only=True)
class CompositionEvent:
    """A ``video.room.composition.*`` webhook (Telnyx documents ``...completed``)."""

    event_type: str
    # data.id: the event's own id; Telnyx may deliver an event twice, so dedupe on it.
    event_id: str | None = None
    occurred_at: datetime | None = None
    record_type: str | None = None
    composition_id: str
    download_url: URL | None = attrs.field(default=None, repr=redacted_repr)
    duration_secs: int | None = None
    format: str | None = None
    resolution: str | None = None
    room_id: str | None = None
    session_id: str | None = None
    size_mb: float | None = None
    payload: Mapping[str, Any] = attrs.field(factory=dict, repr=False)
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def id(self) -> str:
        """The composition id (the name both providers' events share; see ``event_id``)."""
        return self.composition_id


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header by case-insensitive name (works for plain dicts and multidicts alike)."""
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing {name} header")


def load_public_key(public_key: str | bytes) -> bytes:
    """The 32 raw bytes of a public key (base64 str/bytes, or raw); ValueError if malformed."""
    if isinstance(public_key, bytes | bytearray) and len(public_key) == _KEY_SIZE:
        return bytes(public_key)
    if not isinstance(public_key, str | bytes | bytearray):
        raise TypeError(f"public_key must be str or bytes, not {type(public_key).__name__}")
    try:
        raw = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "public_key is not base64 (expected Telnyx's Ed25519 public key)"
        ) from None
    if len(raw) != _KEY_SIZE:
        raise ValueError(f"public_key must decode to {_KEY_SIZE} bytes, got {len(raw)}")
    return raw


def check_tolerance(tolerance: object) -> int:
    """The replay window in whole seconds (an int >= 0)."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, int):
        raise TypeError(f"tolerance must be an int of seconds, not {type(tolerance).__name__}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    return tolerance


def _ed25519_verify(raw_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "verifying Telnyx webhooks needs the 'cryptography' package: "
            "pip install 'async-compositions[webhooks]'"
        ) from None
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    public_key: str | bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise WebhookVerificationError unless ``body`` is signed by ``public_key`` and fresh."""
    if not isinstance(body, bytes | bytearray):
        raise TypeError(f"body must be the raw request bytes, not {type(body).__name__}")
    window = check_tolerance(tolerance)
    raw_key = load_public_key(public_key)
    signature_b64 = _header(headers, SIGNATURE_HEADER)
    stamp = _header(headers, TIMESTAMP_HEADER)
    if not _DIGITS.fullmatch(stamp):
        raise WebhookVerificationError(f"{TIMESTAMP_HEADER} is not a Unix time in seconds")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > window:
        raise WebhookVerificationError(
            f"{TIMESTAMP_HEADER} is {int(current - int(stamp))}s away from now "
            f"(tolerance {window}s): stale, replayed or from the future"
        )
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError(f"{SIGNATURE_HEADER} is not base64") from None
    if len(signature) != _SIGNATURE_SIZE:
        raise WebhookVerificationError(
            f"{SIGNATURE_HEADER} is not a {_SIGNATURE_SIZE}-byte signature"
        )
    if not _ed25519_verify(raw_key, signature, stamp.encode("ascii") + b"|" + bytes(body)):
        raise WebhookVerificationError(f"{SIGNATURE_HEADER} does not match the body")


def _text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None or isinstance(value, str):
        return value
    raise WebhookPayloadError(f"{name} is not a string: {value!r}")


def _number(payload: Mapping[str, Any], name: str) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WebhookPayloadError(f"{name} is not a number: {value!r}")
    return value


def _whole(payload: Mapping[str, Any], name: str) -> int | None:
    value = _number(payload, name)
    if value is None:
        return None
    if not float(value).is_integer():
        raise WebhookPayloadError(f"{name} is not a whole number: {value!r}")
    return int(value)


def _occurred_at(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        # Lenient: the documented example separates date and time with a space.
        return parse_datetime(value)
    except (TypeError, ValueError):
        raise WebhookPayloadError(f"occurred_at is not a timestamp: {value!r}") from None


def parse_event(body: bytes | str) -> CompositionEvent:
    """Parse a composition webhook body without checking its signature (trusted input only)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(f"webhook body is not JSON ({exc})") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise WebhookPayloadError("webhook body has no 'data' object")
    event_type = data.get("event_type")
    if not isinstance(event_type, str) or not event_type.startswith(COMPOSITION_EVENT_PREFIX):
        raise WebhookPayloadError(f"not a composition event: event_type {event_type!r}")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise WebhookPayloadError(f"{event_type} event has no 'payload' object")
    composition_id = _text(payload, "composition_id")
    if not composition_id:
        raise WebhookPayloadError(f"{event_type} event has no payload.composition_id")
    download = _text(payload, "download_url")
    size = _number(payload, "size_mb")
    return CompositionEvent(
        event_type=event_type,
        event_id=_text(data, "id"),
        occurred_at=_occurred_at(data.get("occurred_at")),
        record_type=_text(data, "record_type"),
        composition_id=composition_id,
        download_url=URL(download, encoded=True) if download else None,
        duration_secs=_whole(payload, "duration_secs"),
        format=_text(payload, "format"),
        resolution=_text(payload, "resolution"),
        room_id=_text(payload, "room_id"),
        session_id=_text(payload, "session_id"),
        size_mb=None if size is None else float(size),
        payload=payload,
        raw=document,
    )


def verify(
    body: bytes,
    headers: Mapping[str, str],
    public_key: str | bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> CompositionEvent:
    """Check the Ed25519 signature and timestamp of a webhook, then parse its event.

    Raises WebhookVerificationError for a missing, malformed, wrong or stale signature
    (``|now - telnyx-timestamp| > tolerance`` seconds) and for a body that is not a
    ``video.room.composition.*`` event. ``public_key`` is the base64 key from the portal;
    a malformed key is a configuration error (ValueError), never reported as a bad request.
    """
    verify_signature(body, headers, public_key, tolerance=tolerance, now=now)
    return parse_event(body)
