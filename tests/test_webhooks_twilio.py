"""Twilio status callbacks: X-Twilio-Signature validation and typed composition events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from multidict import MultiDict

from async_compositions import WebhookVerificationError
from async_compositions.twilio.webhooks import (
    CompositionEvent,
    compute_signature,
    parse_status_callback,
    require_valid_signature,
    validate_signature,
)

# The published vectors (twilio-python tests/unit/test_request_validator.py).
TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
URL_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
SIGNATURE_443 = "kvajT1Ptam85bY51eRf/AJRuM3w="
JSON_BODY = b'{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
JSON_URL = f"{URL}&bodySHA256={BODY_HASH}"
JSON_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="


def test_the_published_vector() -> None:
    assert compute_signature(URL, PARAMS, TOKEN) == SIGNATURE
    assert compute_signature(URL_443, PARAMS, TOKEN) == SIGNATURE_443
    assert validate_signature(URL, PARAMS, SIGNATURE, TOKEN)


@pytest.mark.parametrize("url", [URL, URL_443])
@pytest.mark.parametrize("signature", [SIGNATURE, SIGNATURE_443])
def test_signatures_with_and_without_the_default_port_both_validate(
    url: str, signature: str
) -> None:
    # Twilio has signed both forms; a receiver cannot know which one it will get.
    assert validate_signature(url, PARAMS, signature, TOKEN)


def test_port_variants_for_http_and_explicit_ports() -> None:
    plain = "http://example.com/cb?x=1"
    with_port = "http://example.com:80/cb?x=1"
    assert validate_signature(plain, PARAMS, compute_signature(with_port, PARAMS, TOKEN), TOKEN)
    assert validate_signature(with_port, PARAMS, compute_signature(plain, PARAMS, TOKEN), TOKEN)
    # A non-default port is part of the URL: it is stripped, never swapped for another one.
    odd = "https://example.com:8443/cb"
    assert validate_signature(odd, PARAMS, compute_signature(odd, PARAMS, TOKEN), TOKEN)
    other = compute_signature("https://example.com:9443/cb", PARAMS, TOKEN)
    assert not validate_signature(odd, PARAMS, other, TOKEN)


@pytest.mark.parametrize(
    "params",
    [
        {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234", "1234"]},
        {"Sid": "CA123", "SidAccount": "AC123", "Digits": ("1234", "5678")},
        MultiDict(
            [("Digits", "5678"), ("Sid", "CA123"), ("Digits", "1234"), ("SidAccount", "AC123")]
        ),
    ],
    ids=["list", "tuple-deduplicated", "multidict"],
)
def test_multi_valued_params(params: object) -> None:
    assert validate_signature(URL, params, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", TOKEN)  # type: ignore[arg-type]


def test_the_json_body_variant() -> None:
    assert hashlib.sha256(JSON_BODY).hexdigest() == BODY_HASH
    assert compute_signature(JSON_URL, None, TOKEN) == JSON_SIGNATURE
    assert validate_signature(JSON_URL, JSON_BODY, JSON_SIGNATURE, TOKEN)
    # The hash binds the body: a changed body fails even though the URL's signature holds.
    assert not validate_signature(JSON_URL, JSON_BODY + b" ", JSON_SIGNATURE, TOKEN)
    # A raw body without bodySHA256 in the URL cannot be checked, so it is refused.
    assert not validate_signature(URL, JSON_BODY, compute_signature(URL, None, TOKEN), TOKEN)


@pytest.mark.parametrize(
    ("url", "params", "token"),
    [
        (URL.replace("foo=1", "foo=2"), PARAMS, TOKEN),
        ("https://mycompany.com/myapp.php", PARAMS, TOKEN),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", PARAMS, TOKEN),
        (URL, {**PARAMS, "Digits": "1235"}, TOKEN),
        (URL, {**PARAMS, "Extra": ""}, TOKEN),
        (URL, {k: v for k, v in PARAMS.items() if k != "To"}, TOKEN),
        (URL, PARAMS, "54321"),
    ],
    ids=["query", "no-query", "scheme", "value", "added", "removed", "token"],
)
def test_any_change_fails(url: str, params: dict[str, str], token: str) -> None:
    assert not validate_signature(url, params, SIGNATURE, token)
    with pytest.raises(WebhookVerificationError, match="does not match"):
        require_valid_signature(url, params, SIGNATURE, token)


@pytest.mark.parametrize(
    "signature",
    [
        SIGNATURE[:-2] + "9=",  # last character differs
        SIGNATURE[:-1],  # a prefix
        SIGNATURE + "A",  # longer
        "x",
        "Zm9v\u00e9",  # non-ASCII: attacker-controlled bytes must not crash the check
        "\udcff",
    ],
)
def test_near_misses_and_garbage_are_rejected_without_raising(signature: str) -> None:
    assert validate_signature(URL, PARAMS, signature, TOKEN) is False


def test_a_non_ascii_body_hash_is_rejected_without_raising() -> None:
    url = f"{URL}&bodySHA256=%C3%A9"
    assert validate_signature(url, JSON_BODY, JSON_SIGNATURE, TOKEN) is False


@pytest.mark.parametrize(("signature", "token"), [(None, TOKEN), ("", TOKEN), (SIGNATURE, "")])
def test_missing_signature_or_token(signature: str | None, token: str) -> None:
    assert validate_signature(URL, PARAMS, signature, token) is False
    with pytest.raises(WebhookVerificationError):
        require_valid_signature(URL, PARAMS, signature, token)


def test_a_missing_header_says_so() -> None:
    with pytest.raises(WebhookVerificationError, match="missing X-Twilio-Signature"):
        require_valid_signature(URL, PARAMS, None, TOKEN)


def test_messages_never_contain_the_token() -> None:
    token = "s3cr3t-token-value"
    with pytest.raises(WebhookVerificationError) as info:
        require_valid_signature(URL, PARAMS, SIGNATURE, token)
    assert token not in str(info.value)


# -- typed events -------------------------------------------------------------------------

SID = "CJ" + "0" * 32
ROOM = "RM" + "1" * 32
COMMON = {
    "AccountSid": "AC" + "2" * 32,
    "RoomSid": ROOM,
    "CompositionSid": SID,
    "CompositionUri": f"/v1/Compositions/{SID}",
    "Timestamp": "2024-05-06T07:08:09.123Z",
}
STAMP = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


def test_enqueued_from_a_hook() -> None:
    hook = {
        "HookSid": "HK" + "3" * 32,
        "HookUri": "/v1/CompositionHooks/HK",
        "HookFriendlyName": "h",
    }
    event = parse_status_callback({**COMMON, **hook, "StatusCallbackEvent": "composition-enqueued"})
    assert event.event == "composition-enqueued"
    assert (event.hook_sid, event.hook_uri, event.hook_friendly_name) == (
        hook["HookSid"],
        hook["HookUri"],
        "h",
    )
    assert event.id == SID and event.timestamp == STAMP


def test_started() -> None:
    event = parse_status_callback({**COMMON, "StatusCallbackEvent": "composition-started"})
    assert event == CompositionEvent(
        event="composition-started",
        account_sid=COMMON["AccountSid"],
        room_sid=ROOM,
        composition_sid=SID,
        composition_uri=f"/v1/Compositions/{SID}",
        timestamp=STAMP,
        raw={**COMMON, "StatusCallbackEvent": "composition-started"},
    )
    assert event.timestamp is not None and event.timestamp.tzinfo is UTC


def test_progress() -> None:
    form = {**COMMON, "StatusCallbackEvent": "composition-progress"}
    event = parse_status_callback({**form, "PercentageDone": "40", "SecondsRemaining": "12"})
    assert (event.percentage_done, event.seconds_remaining) == (40, 12)
    assert event.size is None and event.media_uri is None


def test_available() -> None:
    form = {
        **COMMON,
        "StatusCallbackEvent": "composition-available",
        "MediaUri": f"/v1/Compositions/{SID}/Media",
        "Size": "65536",
        "Duration": "53",
        "MediaExternalLocation": "",
    }
    event = parse_status_callback(form)
    assert event.media_uri == f"/v1/Compositions/{SID}/Media"
    assert (event.size, event.duration) == (65_536, 53)
    assert event.media_external_location is None  # empty means "not stored externally"


def test_failed() -> None:
    form = {
        **COMMON,
        "StatusCallbackEvent": "composition-failed",
        "FailedOperation": "media_processing",
        "ErrorMessage": "Internal failure while processing media composition",
    }
    event = parse_status_callback(form)
    assert event.failed_operation == "media_processing"
    assert event.error_message == "Internal failure while processing media composition"


def test_hook_failed_names_no_composition() -> None:
    form = {
        "AccountSid": COMMON["AccountSid"],
        "RoomSid": ROOM,
        "StatusCallbackEvent": "composition-hook-failed",
        "HookSid": "HK" + "3" * 32,
        "ErrorMessage": "Room has no recordings",
    }
    event = parse_status_callback(form)
    assert event.id is None and event.composition_sid is None
    assert event.error_message == "Room has no recordings"


def test_unknown_fields_are_kept_and_multidicts_accepted() -> None:
    form = MultiDict({**COMMON, "StatusCallbackEvent": "composition-started", "NewField": "x"})
    event = parse_status_callback(form)
    assert event.raw["NewField"] == "x" and event.event == "composition-started"
    assert "NewField" not in repr(event)  # raw stays out of the repr


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({**COMMON}, "no StatusCallbackEvent"),
        ({**COMMON, "StatusCallbackEvent": ""}, "no StatusCallbackEvent"),
        ({**COMMON, "StatusCallbackEvent": "composition-started", "Timestamp": "x"}, "Timestamp"),
        ({**COMMON, "StatusCallbackEvent": "composition-available", "Size": "big"}, "Size"),
    ],
)
def test_malformed_callbacks(form: dict[str, str], reason: str) -> None:
    with pytest.raises(WebhookVerificationError, match=reason):
        parse_status_callback(form)
