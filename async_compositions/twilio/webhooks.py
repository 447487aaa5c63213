"""Twilio status callbacks: signature validation and typed composition events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
from yarl import URL

from .._decode import parse_datetime
from ..codes import TWILIO_CODES
from ..errors import WebhookPayloadError, WebhookVerificationError

__all__ = [
    "CompositionEvent",
    "compute_signature",
    "parse_status_callback",
    "require_valid_signature",
    "validate_signature",
]

_DEFAULT_PORTS = {"https": 443, "http": 80}


def _pairs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten a form mapping (values may be lists, e.g. a MultiDict's getall) into pairs."""
    items: Iterable[tuple[str, Any]]
    getall = getattr(params, "getall", None)
    if getall is not None:
        items = ((k, v) for k in dict.fromkeys(params) for v in getall(k))
    else:
        items = params.items()
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if isinstance(value, list | tuple):
            pairs.extend((key, str(v)) for v in value)
        else:
            pairs.append((key, str(value)))
    return pairs


def compute_signature(url: str, params: Mapping[str, Any] | None, auth_token: str) -> str:
    """Base64 HMAC-SHA1 of the URL followed by every sorted ``name + value`` pair."""
    data = url
    if params:
        grouped: dict[str, set[str]] = {}
        for key, value in _pairs(params):
            grouped.setdefault(key, set()).add(value)
        for key in sorted(grouped):
            for value in sorted(grouped[key]):
                data += key + value
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """The URL as given, plus the same URL with its default port added or removed.

    Twilio has signed URLs both ways, so a proxy-agnostic check accepts either form.
    """
    scheme, sep, rest = url.partition("://")
    default = _DEFAULT_PORTS.get(scheme.lower())
    if not sep or default is None:
        return [url]
    authority, slash, tail = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    prefix = f"{scheme}://{userinfo}{at}"
    host, colon, port = hostport.rpartition(":") if not hostport.endswith("]") else ("", "", "")
    if colon and port.isdigit():
        other = f"{prefix}{host}{slash}{tail}"
    else:
        other = f"{prefix}{hostport}:{default}{slash}{tail}"
    return [url, other]


def validate_signature(
    url: str,
    params: Mapping[str, Any] | bytes | None,
    signature: str | None,
    auth_token: str,
) -> bool:
    """True when ``signature`` (X-Twilio-Signature) matches the request.

    ``params`` is the form body as a mapping, or the raw body bytes of a JSON callback
    (the ``bodySHA256`` variant, whose hash travels in the URL's query).
    """
    if not signature or not auth_token:
        return False
    form: Mapping[str, Any] | None
    if isinstance(params, bytes | bytearray):
        expected_hash = URL(url, encoded=True).query.get("bodySHA256")
        if expected_hash is None:
            return False
        actual = hashlib.sha256(params).hexdigest()
        if not _same(actual, expected_hash):
            return False
        form = None
    else:
        form = params
    ok = False
    for candidate in _url_variants(url):
        # Check every variant, so the timing does not reveal which form matched.
        ok |= _same(compute_signature(candidate, form, auth_token), signature)
    return ok


def _same(expected: str, received: str) -> bool:
    """Constant-time equality that also copes with non-ASCII input from the request."""
    # compare_digest refuses non-ASCII str (TypeError); bytes always compare.
    return hmac.compare_digest(expected.encode(), received.encode("utf-8", "replace"))


def require_valid_signature(
    url: str,
    params: Mapping[str, Any] | bytes | None,
    signature: str | None,
    auth_token: str,
) -> None:
    """Raise WebhookVerificationError unless the signature is valid."""
    if not signature:
        raise WebhookVerificationError("missing X-Twilio-Signature header")
    if not validate_signature(url, params, signature, auth_token):
        raise WebhookVerificationError("X-Twilio-Signature does not match the request")


@attrs.frozen(slots=True, kw_only=True)
class CompositionEvent:
    """One composition status callback (``composition-*`` or ``composition-hook-failed``)."""

    event: str
    account_sid: str | None = None
    room_sid: str | None = None
    composition_sid: str | None = None
    composition_uri: str | None = None
    timestamp: datetime | None = None
    media_uri: str | None = None
    media_external_location: str | None = None
    duration: int | None = None
    size: int | None = None
    percentage_done: int | None = None
    seconds_remaining: int | None = None
    failed_operation: str | None = None
    error_message: str | None = None
    #: The Twilio error code of a failure: the ``ErrorCode`` field, else a 5-digit code
    #: quoted in ``ErrorMessage`` (see ``async_compositions.codes``).
    error_code: str | None = None
    hook_sid: str | None = None
    hook_uri: str | None = None
    hook_friendly_name: str | None = None
    raw: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    @property
    def id(self) -> str | None:
        """The composition SID (the name both providers share)."""
        return self.composition_sid


def _int_field(form: Mapping[str, str], name: str) -> int | None:
    value = form.get(name)
    if value in (None, ""):
        return None
    try:
        return int(float(value))
    except ValueError:
        raise WebhookPayloadError(f"{name} is not a number: {value!r}") from None


_CODE = re.compile(r"\b(5\d{4}|2\d{4})\b")


def _error_code(form: Mapping[str, str]) -> str | None:
    """``ErrorCode`` if present, else a code quoted in ``ErrorMessage``, else the code whose
    documented title the message is (Twilio's callbacks document only the message)."""
    code = form.get("ErrorCode")
    if code and code.isdigit():
        return code
    message = form.get("ErrorMessage") or ""
    found = _CODE.search(message)
    if found:
        return found[1]
    wanted = _plain(message)
    for known in TWILIO_CODES.values():
        if wanted and _plain(known.title).startswith(wanted):
            return known.code
    return None


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).replace(" the ", " ").split())


def parse_status_callback(params: Mapping[str, Any]) -> CompositionEvent:
    """Parse a status-callback form into a typed event (unknown fields are kept in ``raw``)."""
    form = {k: v for k, v in _pairs(params)}
    event = form.get("StatusCallbackEvent")
    if not event:
        raise WebhookPayloadError("status callback has no StatusCallbackEvent")
    stamp = form.get("Timestamp")
    try:
        timestamp = parse_datetime(stamp) if stamp else None
    except ValueError:
        raise WebhookPayloadError(f"Timestamp is not ISO-8601: {stamp!r}") from None
    return CompositionEvent(
        event=event,
        account_sid=form.get("AccountSid"),
        room_sid=form.get("RoomSid"),
        composition_sid=form.get("CompositionSid"),
        composition_uri=form.get("CompositionUri"),
        timestamp=timestamp,
        media_uri=form.get("MediaUri"),
        media_external_location=form.get("MediaExternalLocation") or None,
        duration=_int_field(form, "Duration"),
        size=_int_field(form, "Size"),
        percentage_done=_int_field(form, "PercentageDone"),
        seconds_remaining=_int_field(form, "SecondsRemaining"),
        failed_operation=form.get("FailedOperation"),
        error_message=form.get("ErrorMessage"),
        error_code=_error_code(form),
        hook_sid=form.get("HookSid"),
        hook_uri=form.get("HookUri"),
        hook_friendly_name=form.get("HookFriendlyName"),
        raw=form,
    )
