"""The compiled model structuring: lenient where the providers are, strict where it matters."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from async_compositions import CompositionStatus, ResponseDecodeError, _decode
from async_compositions._http import HttpResponse
from async_compositions.telnyx._dialect import TelnyxDialect
from async_compositions.twilio._dialect import TwilioDialect
from async_compositions.twilio.models import VideoRegion

SID = "CJ" + "a" * 32
TWILIO = TwilioDialect(URL("https://video.twilio.com/v1"))
TELNYX = TelnyxDialect(URL("https://api.telnyx.com/v2"))


def response(payload: Any, *, request_id: str = "RQ123") -> HttpResponse:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = CIMultiDictProxy(
        CIMultiDict({"Twilio-Request-Id": request_id, "x-request-id": request_id})
    )
    return HttpResponse(
        status=200, headers=headers, body=body, url=URL("https://x.test/"), request_id=request_id
    )


def twilio(**fields: Any) -> Any:
    return TWILIO.parse_item(response({"sid": SID, "status": "completed", **fields}))


def test_plain_values_pass_through_and_others_are_converted() -> None:
    comp = twilio(bitrate="64", size=2048.0, duration=6, resolution="640x480")
    assert comp.bitrate == 64 and isinstance(comp.bitrate, int)
    assert comp.size == 2048 and isinstance(comp.size, int)
    assert comp.duration == 6
    assert comp.resolution == "640x480"


def test_null_on_a_field_with_a_default_takes_the_default() -> None:
    comp = twilio(bitrate=None, duration=None, size=None, video_layout=None)
    assert (comp.bitrate, comp.duration, comp.size, comp.video_layout) == (0, 0, None, None)


def test_missing_required_field_is_a_decode_error_with_request_id() -> None:
    with pytest.raises(ResponseDecodeError, match="sid") as info:
        TWILIO.parse_item(response({"status": "completed"}))
    assert info.value.request_id == "RQ123"
    assert '"status"' in str(info.value)


@pytest.mark.parametrize(
    "fields",
    [
        {"trim": 1},  # a bool field never takes an int
        {"bitrate": 64.5},  # an int field never silently drops a fraction
        {"bitrate": "sixty"},
        {"video_layout": ["grid"]},
        {"audio_sources": "RT123"},
        {"date_created": "yesterday"},
    ],
)
def test_wrong_types_are_decode_errors(fields: dict[str, Any]) -> None:
    with pytest.raises(ResponseDecodeError, match="did not decode"):
        twilio(**fields)


def test_nested_regions_and_lists_decode() -> None:
    comp = twilio(
        audio_sources=["a", "b*"],
        video_layout={"grid": {"video_sources": ["*"], "cells_excluded": [1, 3], "x_pos": 10}},
    )
    assert comp.audio_sources == ["a", "b*"]
    assert comp.video_layout == {
        "grid": VideoRegion(video_sources=["*"], cells_excluded=[1, 3], x_pos=10)
    }


def test_unknown_status_keeps_its_text() -> None:
    comp = twilio(status="archived")
    assert comp.status.value == "archived" and not comp.status.is_known
    assert comp.status != CompositionStatus.COMPLETED


def test_telnyx_record_decodes_and_rejects_bad_types() -> None:
    ok = TELNYX.parse_item(
        response(
            {
                "data": {
                    "id": "6f1b7d0e-3a0b-4c9e-9d7a-1c2b3c4d5e6f",
                    "status": "completed",
                    "size_mb": 12,
                    "duration_secs": 67,
                    "download_url": "https://example.test/a.mp4?sig=x",
                    "completed_at": "2022-02-25T05:39:56.377426Z",
                }
            }
        )
    )
    assert ok.size_mb == 12.0 and isinstance(ok.size_mb, float)
    assert ok.download_url == URL("https://example.test/a.mp4?sig=x")
    assert ok.completed_at is not None and ok.completed_at.utcoffset() is not None
    with pytest.raises(ResponseDecodeError):
        TELNYX.parse_item(response({"data": {"id": "x", "video_layout": ["not", "a", "map"]}}))


def test_standard_library_json_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without orjson installed the same bodies decode, and bad ones fail the same way."""
    monkeypatch.setattr(_decode, "_loads", json.loads)
    assert twilio(size=4).size == 4
    with pytest.raises(ResponseDecodeError, match="not valid JSON"):
        TWILIO.parse_item(response(b'{"sid": "CJ'))


def test_strict_converter_rejects_unknown_keys() -> None:
    conv = _decode.make_converter(forbid_extra_keys=True)
    with pytest.raises(Exception, match="surprise"):
        conv.structure({"video_sources": ["*"], "surprise": 1}, VideoRegion)
    lenient = _decode.make_converter()
    assert lenient.structure({"video_sources": ["*"], "surprise": 1}, VideoRegion) == VideoRegion(
        video_sources=["*"]
    )


def test_layout_regions_decode_when_read_and_compare_as_a_dict() -> None:
    comp = twilio(video_layout={"grid": {"video_sources": ["*"], "x_pos": 5}, "pip": {}})
    layout = comp.video_layout
    assert layout is not None
    assert list(layout) == ["grid", "pip"] and len(layout) == 2 and "grid" in layout
    assert layout["grid"] is layout["grid"]  # decoded once, then kept
    assert layout == {"grid": VideoRegion(video_sources=["*"], x_pos=5), "pip": VideoRegion()}
    assert repr(layout).startswith("{'grid': VideoRegion(")
    assert pickle.loads(pickle.dumps(layout)) == dict(layout)


def test_a_bad_region_fails_when_read_not_when_listed() -> None:
    comp = twilio(video_layout={"grid": {"video_sources": ["*"]}, "bad": {"x_pos": "left"}})
    assert comp.video_layout is not None
    assert comp.video_layout["grid"].video_sources == ["*"]
    with pytest.raises(ResponseDecodeError, match="region 'bad'"):
        comp.video_layout["bad"]
    listed = twilio(video_layout={"grid": ["not", "an", "object"]})
    assert listed.video_layout is not None
    with pytest.raises(ResponseDecodeError, match="must be an object"):
        listed.video_layout["grid"]
    with pytest.raises(ResponseDecodeError, match="video_layout must be an object"):
        twilio(video_layout=["grid"])


def test_strict_converter_decodes_every_region_at_once() -> None:
    from async_compositions.twilio.models import Composition

    conv = _decode.make_converter(forbid_extra_keys=True)
    raw = {"sid": SID, "status": "completed", "video_layout": {"g": {"surprise": 1}}}
    with pytest.raises(Exception, match="surprise"):
        conv.structure(raw, Composition)
