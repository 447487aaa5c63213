"""RetryPolicy and Retry-After parsing."""

from __future__ import annotations

import email.utils

import pytest

from async_compositions import RetryPolicy
from async_compositions.retry import parse_retry_after

NOW = 1_700_000_000.0  # a fixed "now" so HTTP-date deltas are exact


def _http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


# --- construction ----------------------------------------------------------------


def test_defaults_retry_a_few_times() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts > 1
    assert 0 < policy.base_delay <= policy.max_delay
    assert policy.max_retry_after > 0


@pytest.mark.parametrize("bad", [0, -1])
def test_max_attempts_below_one_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=bad)


@pytest.mark.parametrize("bad", [True, 2.0, "3", None])
def test_max_attempts_must_be_a_real_int(bad: object) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["base_delay", "max_delay", "max_retry_after"])
@pytest.mark.parametrize("bad", [0, 0.0, -0.5])
def test_delays_must_be_positive(field: str, bad: float) -> None:
    with pytest.raises(ValueError, match=field):
        RetryPolicy(**{field: bad})  # type: ignore[arg-type]


def test_one_attempt_is_allowed() -> None:
    assert RetryPolicy(max_attempts=1).max_attempts == 1


def test_disabled_never_retries() -> None:
    policy = RetryPolicy.disabled()
    assert policy.max_attempts == 1
    assert policy == RetryPolicy(max_attempts=1)


def test_policy_is_frozen() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 10  # type: ignore[misc]


# --- backoff ---------------------------------------------------------------------


def test_backoff_ceiling_doubles_and_is_capped() -> None:
    ceilings: list[float] = []

    def record(ceiling: float) -> float:
        ceilings.append(ceiling)
        return ceiling / 2

    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=3.0, jitter=record)
    delays = [policy.backoff(n) for n in range(1, 7)]
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    # The jitter's answer is the delay, as is.
    assert delays == [0.25, 0.5, 1.0, 1.5, 1.5, 1.5]


def test_default_jitter_stays_within_zero_and_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0)
    for retry_number, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (8, 4.0)]:
        for _ in range(200):
            assert 0.0 <= policy.backoff(retry_number) <= ceiling


def test_default_jitter_is_spread_not_constant() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=1.0)
    assert len({policy.backoff(1) for _ in range(50)}) > 1


# --- which statuses retry -----------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_rate_limit_and_server_errors_retry_for_idempotent_requests(status: int) -> None:
    assert RetryPolicy().status_is_retryable(status, idempotent=True)


@pytest.mark.parametrize("status", [200, 201, 204, 400, 401, 403, 404, 409, 422, 501])
def test_other_statuses_never_retry(status: int) -> None:
    policy = RetryPolicy()
    assert not policy.status_is_retryable(status, idempotent=True)
    assert not policy.status_is_retryable(status, idempotent=False)


def test_non_idempotent_requests_retry_only_on_429() -> None:
    policy = RetryPolicy()
    assert policy.status_is_retryable(429, idempotent=False)
    for status in (500, 502, 503, 504):
        assert not policy.status_is_retryable(status, idempotent=False)


def test_retry_statuses_can_be_narrowed() -> None:
    policy = RetryPolicy(retry_statuses=[503])
    assert policy.retry_statuses == frozenset({503})
    assert policy.status_is_retryable(503, idempotent=True)
    assert not policy.status_is_retryable(429, idempotent=True)
    assert not policy.status_is_retryable(429, idempotent=False)


# --- Retry-After ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("0", 0.0), ("7", 7.0), (" 12 ", 12.0), ("1.5", 1.5), ("0.25", 0.25), ("-3", 0.0)],
)
def test_retry_after_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_retry_after_http_date_in_the_future_is_the_delta_from_now() -> None:
    assert parse_retry_after(_http_date(NOW + 90), now=NOW) == 90.0


def test_retry_after_http_date_in_the_past_means_no_wait() -> None:
    assert parse_retry_after(_http_date(NOW - 3600), now=NOW) == 0.0


def test_retry_after_http_date_uses_the_clock_without_now() -> None:
    delay = parse_retry_after(_http_date(4_000_000_000))
    assert delay is not None and delay > 0


@pytest.mark.parametrize(
    "header", ["soon", "tomorrow at noon", "12abc", "Wed, 99 Foo 2015 07:28:00 GMT", "nan", "inf"]
)
def test_retry_after_garbage_is_none(header: str) -> None:
    assert parse_retry_after(header, now=NOW) is None


@pytest.mark.parametrize("header", [None, "", "   "])
def test_retry_after_missing_or_empty_is_none(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None
