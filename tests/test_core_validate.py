"""Input checks that run before any request is built."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from yarl import URL

from async_compositions._validate import (
    check_bool,
    check_choice,
    check_int_range,
    check_limit,
    check_prefetch,
    check_sid,
    check_str_list,
    check_url,
    utc_z,
)

SID = "CJ" + "0123456789abcdef" * 2

# --- check_sid ------------------------------------------------------------------


@pytest.mark.parametrize("sid", [SID, "CJ" + "A" * 32, "CJ" + "f" * 32])
def test_sid_accepts_prefix_and_32_hex_digits(sid: str) -> None:
    assert check_sid(sid, "CJ", "composition sid") == sid


@pytest.mark.parametrize(
    "sid",
    [
        "",
        "CJ",
        SID[:-1],  # 31 hex digits
        SID + "0",  # 33 hex digits
        "RM" + SID[2:],  # wrong prefix
        "cj" + SID[2:],  # prefix is case-sensitive
        "CJ" + "g" * 32,  # not hex
        SID[:10] + "/" + SID[11:],
        "../" + SID,
        SID + "/..",
        "CJ" + ".." + SID[4:],
        " " + SID,
        SID + " ",
        SID + "\n",
        SID[:10] + " " + SID[11:],
        SID + "?x=1",
    ],
)
def test_sid_rejects_anything_else(sid: str) -> None:
    with pytest.raises(ValueError, match="composition sid must be 'CJ' followed by 32 hex"):
        check_sid(sid, "CJ", "composition sid")


@pytest.mark.parametrize("bad", [None, 1, b"CJ" + b"0" * 32, URL("https://x")])
def test_sid_rejects_non_strings(bad: object) -> None:
    with pytest.raises(TypeError, match="sid must be a str"):
        check_sid(bad, "CJ", "sid")


# --- check_int_range / check_limit / check_prefetch -------------------------------


@pytest.mark.parametrize("value", [1, 50, 1000])
def test_int_range_accepts_bounds_inclusive(value: int) -> None:
    assert check_int_range(value, 1, 1000, "page_size") == value


@pytest.mark.parametrize("value", [0, -1, 1001])
def test_int_range_rejects_out_of_range(value: int) -> None:
    with pytest.raises(ValueError, match="page_size must be between 1 and 1000"):
        check_int_range(value, 1, 1000, "page_size")


@pytest.mark.parametrize("value", [True, False, 5.0, "5", None])
def test_int_range_refuses_bools_and_non_ints(value: object) -> None:
    with pytest.raises(TypeError, match="page_size must be an int"):
        check_int_range(value, 0, 1000, "page_size")


@pytest.mark.parametrize("value", [None, 0, 1, 10_000])
def test_limit_accepts_none_and_non_negative_ints(value: int | None) -> None:
    assert check_limit(value) == value


def test_limit_rejects_negative() -> None:
    with pytest.raises(ValueError, match="limit must be >= 0"):
        check_limit(-1)


@pytest.mark.parametrize("value", [True, 1.0, "10"])
def test_limit_rejects_non_ints(value: object) -> None:
    with pytest.raises(TypeError, match="limit must be an int or None"):
        check_limit(value)


def test_prefetch_range() -> None:
    assert check_prefetch(1, 4) == 1
    assert check_prefetch(4, 4) == 4
    for bad in (0, 5):
        with pytest.raises(ValueError, match="prefetch must be between 1 and 4"):
            check_prefetch(bad, 4)
    with pytest.raises(TypeError, match="prefetch"):
        check_prefetch(True, 4)


# --- check_bool / check_choice ----------------------------------------------------


def test_bool_accepts_only_real_bools() -> None:
    assert check_bool(True, "trim") is True
    assert check_bool(False, "trim") is False
    for bad in ("false", 0, 1, None):
        with pytest.raises(TypeError, match="trim must be a bool"):
            check_bool(bad, "trim")


def test_choice() -> None:
    assert check_choice("mp4", ("mp4", "webm"), "format") == "mp4"
    with pytest.raises(ValueError, match="format must be one of mp4, webm; got 'avi'"):
        check_choice("avi", ("mp4", "webm"), "format")
    with pytest.raises(ValueError):
        check_choice("MP4", ("mp4", "webm"), "format")
    with pytest.raises(TypeError, match="format must be a str"):
        check_choice(None, ("mp4", "webm"), "format")


def test_choice_accepts_any_iterable_of_choices() -> None:
    assert check_choice("b", iter(["a", "b"]), "x") == "b"


# --- check_str_list -------------------------------------------------------------


def test_str_list_accepts_lists_and_tuples_and_returns_a_list() -> None:
    assert check_str_list(["*"], "audio_sources") == ["*"]
    assert check_str_list(("a", "b"), "audio_sources") == ["a", "b"]
    assert check_str_list([], "audio_sources") == []


@pytest.mark.parametrize("bad", ["*", b"*", None, {"a"}, 3])
def test_str_list_refuses_bare_strings_and_non_lists(bad: object) -> None:
    with pytest.raises(TypeError, match="audio_sources must be a list of str"):
        check_str_list(bad, "audio_sources")


def test_str_list_checks_each_item() -> None:
    with pytest.raises(TypeError, match="items must be str"):
        check_str_list(["a", 1], "audio_sources")
    with pytest.raises(ValueError, match="items must not be empty"):
        check_str_list(["a", ""], "audio_sources")


# --- check_url ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://example.com/cb", "http://127.0.0.1:8080/x?y=1", URL("https://h.example")]
)
def test_url_accepts_absolute_http_urls(url: str | URL) -> None:
    assert check_url(url, "status_callback") == str(url)


@pytest.mark.parametrize(
    "url", ["", "/relative/path", "example.com/cb", "ftp://example.com/x", "https://", "mailto:a@b"]
)
def test_url_needs_http_scheme_and_host(url: str) -> None:
    with pytest.raises(ValueError, match="status_callback must be an absolute http"):
        check_url(url, "status_callback")


@pytest.mark.parametrize("bad", [None, 1, b"https://example.com"])
def test_url_rejects_non_strings(bad: object) -> None:
    with pytest.raises(TypeError, match=r"status_callback must be a str or yarl\.URL"):
        check_url(bad, "status_callback")


# --- utc_z ----------------------------------------------------------------------


def test_utc_z_formats_utc() -> None:
    when = datetime(2024, 3, 1, 12, 30, 45, 999_999, tzinfo=UTC)
    assert utc_z(when, "date_created_after") == "2024-03-01T12:30:45Z"


def test_utc_z_converts_other_zones_to_utc() -> None:
    when = datetime(2024, 3, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert utc_z(when, "date_created_after") == "2024-02-29T23:00:00Z"
    west = datetime(2024, 12, 31, 20, 0, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert utc_z(west, "date_created_after") == "2025-01-01T01:00:00Z"


def test_utc_z_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="date_created_after must be timezone-aware"):
        utc_z(datetime(2024, 3, 1, 12, 0, 0), "date_created_after")


@pytest.mark.parametrize("bad", ["2024-03-01T00:00:00Z", 1_700_000_000, None])
def test_utc_z_refuses_non_datetimes(bad: object) -> None:
    with pytest.raises(TypeError, match="date_created_after must be a datetime"):
        utc_z(bad, "date_created_after")
