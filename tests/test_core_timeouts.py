"""Timeout arguments: finite by default, explicit None for no limit."""

from __future__ import annotations

import math

import aiohttp
import pytest

from async_compositions._timeouts import DEFAULT_TIMEOUT, NOT_GIVEN, to_client_timeout


def test_not_given_is_the_finite_default() -> None:
    timeout = to_client_timeout(NOT_GIVEN)
    assert timeout.total == 30.0
    assert timeout.connect == 10.0
    assert timeout is DEFAULT_TIMEOUT


def test_not_given_uses_the_supplied_default() -> None:
    default = aiohttp.ClientTimeout(total=5.0, connect=2.0)
    assert to_client_timeout(NOT_GIVEN, default) is default


def test_not_given_repr() -> None:
    assert repr(NOT_GIVEN) == "NOT_GIVEN"


@pytest.mark.parametrize(
    ("seconds", "total", "connect"),
    [(60, 60.0, 10.0), (12.5, 12.5, 10.0), (5, 5.0, 5.0), (0.1, 0.1, 0.1)],
)
def test_seconds_set_total_and_keep_connect_within_it(
    seconds: float, total: float, connect: float
) -> None:
    timeout = to_client_timeout(seconds)
    assert timeout.total == total
    assert isinstance(timeout.total, float)
    assert timeout.connect == connect


def test_seconds_take_connect_from_the_default() -> None:
    default = aiohttp.ClientTimeout(total=30.0, connect=3.0)
    assert to_client_timeout(20, default) == aiohttp.ClientTimeout(total=20.0, connect=3.0)
    no_connect = aiohttp.ClientTimeout(total=30.0)
    assert to_client_timeout(20, no_connect) == aiohttp.ClientTimeout(total=20.0, connect=20.0)


def test_client_timeout_passes_through_unchanged() -> None:
    custom = aiohttp.ClientTimeout(total=None, sock_read=7.0)
    assert to_client_timeout(custom) is custom


def test_none_means_no_limit_at_all() -> None:
    timeout = to_client_timeout(None)
    assert timeout.total is None
    assert timeout.connect is None
    assert timeout.sock_connect is None
    assert timeout.sock_read is None


@pytest.mark.parametrize("bad", ["30", True, False, [30], object()])
def test_bad_types_are_rejected(bad: object) -> None:
    with pytest.raises(TypeError, match="timeout must be"):
        to_client_timeout(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, 0.0, -1, -0.5, math.nan])
def test_non_positive_seconds_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="timeout must be > 0"):
        to_client_timeout(bad)
