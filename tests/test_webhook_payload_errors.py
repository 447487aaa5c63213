"""A forged webhook and a malformed one raise different errors (403 versus 400)."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from async_compositions import WebhookPayloadError, WebhookVerificationError
from async_compositions.telnyx import webhooks as telnyx_webhooks
from async_compositions.twilio import webhooks as twilio_webhooks

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def signed(body: bytes, stamp: int) -> dict[str, str]:
    signature = KEY.sign(f"{stamp}|".encode() + body)
    return {
        "telnyx-signature-ed25519": base64.b64encode(signature).decode(),
        "telnyx-timestamp": str(stamp),
    }


def test_telnyx_signed_but_malformed_body_is_a_payload_error() -> None:
    now = int(time.time())
    body = b'{"data": {"event_type": "video.room.session.started", "payload": {}}}'
    with pytest.raises(WebhookPayloadError, match="not a composition event"):
        telnyx_webhooks.verify(body, signed(body, now), PUBLIC, now=now)
    with pytest.raises(WebhookPayloadError, match="not JSON"):
        telnyx_webhooks.verify(b"<xml/>", signed(b"<xml/>", now), PUBLIC, now=now)


def test_telnyx_forged_body_is_a_verification_error_only() -> None:
    now = int(time.time())
    headers = signed(b"{}", now)
    with pytest.raises(WebhookVerificationError) as info:
        telnyx_webhooks.verify(b'{"x": 1}', headers, PUBLIC, now=now)
    assert not isinstance(info.value, WebhookPayloadError)


def test_twilio_callback_without_event_is_a_payload_error() -> None:
    with pytest.raises(WebhookPayloadError, match="StatusCallbackEvent"):
        twilio_webhooks.parse_status_callback({"CompositionSid": "CJ" + "a" * 32})
    with pytest.raises(WebhookPayloadError, match="Size"):
        twilio_webhooks.parse_status_callback(
            {"StatusCallbackEvent": "composition-available", "Size": "big"}
        )
    with pytest.raises(WebhookVerificationError) as info:
        twilio_webhooks.require_valid_signature("https://a.test/cb", {}, "bad", "token")
    assert not isinstance(info.value, WebhookPayloadError)
