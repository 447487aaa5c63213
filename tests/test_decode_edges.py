"""The shared decoding hooks on the values providers have sent that are not the usual ones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from async_compositions._decode import make_converter, parse_datetime


def test_a_zero_offset_zone_that_is_not_utc_becomes_utc() -> None:
    gmt = timezone(timedelta(0), "GMT")
    parsed = parse_datetime(datetime(2024, 5, 6, 7, 8, 9, tzinfo=gmt))
    assert parsed == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert parsed.tzinfo is UTC  # one zone object for every decoded timestamp


def test_a_timestamp_with_no_utc_equivalent_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="outside the datetime range in UTC"):
        parse_datetime("9999-12-31T23:59:59-05:00")


def test_dates_take_the_day_of_a_timestamp_and_refuse_numbers() -> None:
    conv = make_converter()
    assert conv.structure("2024-05-06T23:59:59Z", date) == date(2024, 5, 6)
    with pytest.raises(TypeError, match=r"^expected an ISO-8601 date string, got int$"):
        conv.structure(20240506, date)


@pytest.mark.parametrize(("value", "shown"), [("true", "str"), (1, "int"), (None, "NoneType")])
def test_booleans_are_json_booleans_only(value: object, shown: str) -> None:
    conv = make_converter()
    assert conv.structure(False, bool) is False
    with pytest.raises(TypeError, match=rf"^expected a boolean, got {shown}$"):
        conv.structure(value, bool)


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "null"), (True, "a boolean"), ({}, "an object"), ([], "an array")],
)
def test_text_is_never_invented_from_other_json_types(value: object, shown: str) -> None:
    conv = make_converter()
    assert conv.structure("abc", str) == "abc"
    assert conv.structure(64, str) == "64"  # an id sent as a number
    with pytest.raises(TypeError, match=rf"^expected a string, got {shown}$"):
        conv.structure(value, str)


def test_links_must_be_strings() -> None:
    conv = make_converter()
    links = {"media": "https://video.example/v1/Compositions/CJ1/Media"}
    assert conv.structure(links, dict[str, str]) == links
    with pytest.raises(TypeError, match=r"^expected a string for 'media', got float$"):
        conv.structure({"media": 1.5}, dict[str, str])
    with pytest.raises(TypeError, match=r"^expected an object, got list$"):
        conv.structure([], dict[str, str])


@pytest.mark.parametrize("hint", [str | None, int | None])
def test_optional_plain_values(hint: Any) -> None:
    conv = make_converter()
    assert conv.structure(None, hint) is None
    assert conv.structure("7", hint) == (7 if hint == int | None else "7")
    assert conv.structure(7, hint) == (7 if hint == int | None else "7")


def test_optional_other_values_are_converted_or_none() -> None:
    conv = make_converter()
    hint: Any = datetime | None
    assert conv.structure(None, hint) is None
    assert conv.structure("2024-05-06T07:08:09+02:00", hint) == datetime(
        2024, 5, 6, 5, 8, 9, tzinfo=UTC
    )
    with pytest.raises(TypeError, match="expected an ISO-8601 string, got list"):
        conv.structure([], hint)
