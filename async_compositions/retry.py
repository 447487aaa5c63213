"""Retry policy: which failures to retry and how long to wait between attempts."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable

import attrs

__all__ = ["RetryPolicy", "parse_retry_after"]

_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 < value < float("inf"):
        raise ValueError(f"{attribute.name} must be a finite number > 0, got {value!r}")


def _full_jitter(ceiling: float) -> float:
    """A uniformly random delay in [0, ceiling]: spreads clients that failed together."""
    return random.uniform(0.0, ceiling)


@attrs.frozen(slots=True)
class RetryPolicy:
    """Full-jitter exponential backoff with a Retry-After cap.

    ``max_attempts`` counts every attempt, the first included: 1 means no retry.
    ``rate_limit_attempts``, when set, is how many attempts a request gets against 429s
    instead (a long batch job would rather wait than fail).
    """

    max_attempts: int = attrs.field(default=4)
    base_delay: float = attrs.field(default=0.5, validator=_positive)
    max_delay: float = attrs.field(default=8.0, validator=_positive)
    max_retry_after: float = attrs.field(default=60.0, validator=_positive)
    retry_statuses: frozenset[int] = attrs.field(default=_RETRYABLE_STATUSES, converter=frozenset)
    jitter: Callable[[float], float] = attrs.field(default=_full_jitter, eq=False, repr=False)
    rate_limit_attempts: int | None = attrs.field(default=None)

    @max_attempts.validator
    def _check_attempts(self, _: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_attempts must be an int >= 1, got {value!r}")

    @rate_limit_attempts.validator
    def _check_rate_limit_attempts(self, _: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"rate_limit_attempts must be None or an int >= 1, got {value!r}")

    def attempts_for(self, status: int) -> int:
        """How many attempts a request gets when the last answer was ``status``."""
        if status == 429 and self.rate_limit_attempts is not None:
            return self.rate_limit_attempts
        return self.max_attempts

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int) -> float:
        """Delay before retry ``retry_number`` (1-based): uniform in [0, min(cap, base*2**n)]."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return self.jitter(ceiling)

    def status_is_retryable(self, status: int, *, idempotent: bool) -> bool:
        """Whether a response status may be retried for this kind of request."""
        if status not in self.retry_statuses:
            return False
        # A 429 was never processed (both providers say so), so even a create is safe to resend.
        return idempotent or status == 429


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)
