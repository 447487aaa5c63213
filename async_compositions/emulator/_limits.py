"""The emulator's rate limit: token buckets that refuse, as a provider does, with a 429."""

from __future__ import annotations

import math
import time

__all__ = ["ServerLimit"]


class _Bucket:
    """``rate`` tokens a second, at most ``burst`` saved up; a request takes one or is refused."""

    __slots__ = ("_burst", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is due."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate


class ServerLimit:
    """Per provider account: reads (GET, HEAD) and writes (POST, DELETE) a second."""

    def __init__(self, reads: float | None, writes: float | None, burst: int | None) -> None:
        self._rates = {"read": reads, "write": writes}
        self._burst = burst
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def check(self, provider: str, method: str) -> int | None:
        """None when the request may go, else the Retry-After (whole seconds) to answer."""
        kind = "read" if method in ("GET", "HEAD") else "write"
        rate = self._rates[kind]
        if rate is None:
            return None
        bucket = self._buckets.get((provider, kind))
        if bucket is None:
            burst = self._burst if self._burst is not None else max(1, math.floor(rate))
            bucket = self._buckets[(provider, kind)] = _Bucket(rate, burst)
        wait = bucket.take()
        # Retry-After is whole seconds (RFC 9110): a wait of milliseconds still says 1.
        return None if wait == 0 else max(1, math.ceil(wait))
