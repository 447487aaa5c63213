"""JSON loading, timestamp parsing and the shared cattrs hooks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import attrs
import pytest
from yarl import URL

from async_compositions import CompositionStatus
from async_compositions._decode import load_json, make_converter, parse_datetime
from async_compositions._http import HttpResponse
from async_compositions.errors import ResponseDecodeError

# --- parse_datetime ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2024-05-06T07:08:09Z", "2024-05-06T07:08:09+00:00", "2024-05-06T09:08:09+02:00"],
)
def test_parse_datetime_gives_aware_utc(text: str) -> None:
    parsed = parse_datetime(text)
    assert parsed == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert parsed.tzinfo is UTC
    assert (parsed.hour, parsed.minute) == (7, 8)


def test_parse_datetime_converts_negative_offsets() -> None:
    parsed = parse_datetime("2024-12-31T22:30:00-05:00")
    assert (parsed.year, parsed.month, parsed.day, parsed.hour) == (2025, 1, 1, 3)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "micro"),
    [
        ("2024-05-06T07:08:09.5Z", 500_000),
        ("2024-05-06T07:08:09.123Z", 123_000),
        ("2024-05-06T07:08:09.123456+00:00", 123_456),
    ],
)
def test_parse_datetime_fractional_seconds(text: str, micro: int) -> None:
    parsed = parse_datetime(text)
    assert parsed.microsecond == micro
    assert parsed.tzinfo is UTC


def test_parse_datetime_naive_is_taken_as_utc() -> None:
    parsed = parse_datetime("2024-05-06T07:08:09")
    assert parsed == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert parsed.tzinfo is UTC


def test_parse_datetime_accepts_datetimes() -> None:
    aware = datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_datetime(aware) == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert parse_datetime(aware).tzinfo is UTC


def test_parse_datetime_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_datetime("yesterday")
    with pytest.raises(TypeError):
        parse_datetime(1_700_000_000)


# --- load_json --------------------------------------------------------------------


def _response(body: bytes, status: int = 200) -> HttpResponse:
    return HttpResponse(status=status, headers={}, body=body, url=URL("https://h.example/x"))


def test_load_json_parses_bodies() -> None:
    assert load_json(_response(b'{"a": [1, 2.5, null, "\\u00e9"]}')) == {"a": [1, 2.5, None, "é"]}


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Bad Gateway</body></html>",
        b"",
        b'{"truncated": ',
        b"\xff\xfe not utf-8",
    ],
)
def test_load_json_errors_are_decode_errors_quoting_the_body(body: bytes) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        load_json(_response(body, status=502))
    err = info.value
    assert err.status == 502
    assert err.body == body.decode("utf-8", "replace")
    assert "HTTP 502" in str(err)
    if body:
        assert repr(err.body[:20])[1:-1] in str(err)
    assert err.__cause__ is None


def test_load_json_quotes_only_an_excerpt_of_a_long_body() -> None:
    body = b"<html>" + b"A" * 5000
    with pytest.raises(ResponseDecodeError) as info:
        load_json(_response(body))
    assert "<html>AAAA" in str(info.value)
    assert len(str(info.value)) < 500
    assert len(info.value.body) == len(body)


# --- the converter ----------------------------------------------------------------


@attrs.frozen
class _Model:
    size: int
    duration: int | None
    bitrate: float
    url: URL
    status: CompositionStatus
    created: datetime
    day: date


_RAW = {
    "size": "64",
    "duration": 64.0,
    "bitrate": "1.5",
    "url": "https://media.example/a%20b?Signature=x",
    "status": "completed",
    "created": "2024-05-06T07:08:09Z",
    "day": "2024-05-06T00:00:00Z",
    "unknown_field": {"ignored": True},
}


def test_converter_hooks() -> None:
    model = make_converter().structure(_RAW, _Model)
    assert model.size == 64 and type(model.size) is int
    assert model.duration == 64 and type(model.duration) is int
    assert model.bitrate == 1.5
    assert model.url == URL("https://media.example/a%20b?Signature=x", encoded=True)
    # Already-encoded URLs are not encoded twice.
    assert str(model.url) == "https://media.example/a%20b?Signature=x"
    assert model.status is CompositionStatus.COMPLETED
    assert model.created == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert model.day == date(2024, 5, 6)


def test_converter_keeps_unknown_status_text() -> None:
    model = make_converter().structure({**_RAW, "status": "archived"}, _Model)
    assert model.status == "archived"
    assert not model.status.is_known


@pytest.mark.parametrize("value", [64, "64", 64.0])
def test_int_hook_accepts_integral_values(value: object) -> None:
    assert make_converter().structure(value, int) == 64


@pytest.mark.parametrize("value", [64.5, "sixty", True, None])
def test_int_hook_refuses_non_integral_values(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        make_converter().structure(value, int)


@pytest.mark.parametrize(("value", "expected"), [(1, 1.0), ("2.25", 2.25), (3.5, 3.5)])
def test_float_hook(value: object, expected: float) -> None:
    result = make_converter().structure(value, float)
    assert result == expected
    assert type(result) is float


def test_float_hook_refuses_bools() -> None:
    with pytest.raises(TypeError):
        make_converter().structure(True, float)


def test_url_hook_refuses_non_strings() -> None:
    with pytest.raises(TypeError):
        make_converter().structure(5, URL)


def test_unstructure_url_and_datetime() -> None:
    conv = make_converter()
    assert conv.unstructure(URL("https://h.example/x")) == "https://h.example/x"
    assert conv.unstructure(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == (
        "2024-01-02T03:04:05+00:00"
    )
