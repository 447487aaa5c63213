"""RateLimit: an account's request budget, shared by every client given the same object.

Token buckets (``aiolimiter``) for reads (GET) and writes (POST, DELETE), each with a burst
size; and a cooperative pause: a 429 with ``Retry-After`` stops every request of every
client sharing the RateLimit until that moment, not only the request that got it.
Requests waiting for the budget keep their order.
"""

from __future__ import annotations

import asyncio
import math
import time

import attrs
from aiolimiter import AsyncLimiter

from ._log import logger

__all__ = ["READ", "WRITE", "ClientStats", "Counters", "RateLimit"]

READ = "read"
WRITE = "write"
_HEADROOM = 0.98


def _check_rate(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be requests per second (a number) or None")
    if not 0 < value < math.inf:
        raise ValueError(f"{what} must be > 0 and finite, got {value!r}")
    return float(value)


class RateLimit:
    """Requests per second an account may send: ``reads`` (GET) and ``writes`` (POST, DELETE).

    ``burst`` is how many requests of a kind may go at once after a quiet spell (default:
    one second's worth). None for a kind means no limit on it. Share one RateLimit between
    the clients of one account in one process (and one event loop) to share its budget.
    """

    def __init__(
        self,
        reads: float | None = None,
        writes: float | None = None,
        *,
        burst: int | None = None,
    ) -> None:
        self.reads = _check_rate(reads, "reads")
        self.writes = _check_rate(writes, "writes")
        if burst is not None and (
            isinstance(burst, bool) or not isinstance(burst, int) or burst < 1
        ):
            raise ValueError(f"burst must be an int >= 1, got {burst!r}")
        self.burst = burst
        self._buckets: dict[str, AsyncLimiter] = {}
        for kind, rate in ((READ, self.reads), (WRITE, self.writes)):
            if rate is not None:
                size = burst if burst is not None else max(1, math.floor(rate))
                # The budget is measured where requests arrive, not where they leave: spend
                # half the burst and 98 % of the rate, so that requests the network bunches
                # up on the way still find tokens at the server.
                spend = max(1, math.ceil(size / 2))
                # aiolimiter's bucket: ``spend`` acquisitions per ``spend / rate`` seconds.
                self._buckets[kind] = AsyncLimiter(spend, spend / (rate * _HEADROOM))
        self._order = {READ: asyncio.Lock(), WRITE: asyncio.Lock()}
        self._paused_until = 0.0

    @classmethod
    def twilio(cls) -> RateLimit:
        """Twilio's documented per-account Video REST limits: 80 reads, 20 writes a second."""
        return cls(reads=80, writes=20)

    def __repr__(self) -> str:
        return f"RateLimit(reads={self.reads}, writes={self.writes}, burst={self.burst})"

    def pause(self, seconds: float) -> None:
        """Hold every request sharing this budget for ``seconds`` (a 429's Retry-After)."""
        if seconds > 0:
            loop = asyncio.get_running_loop()
            self._paused_until = max(self._paused_until, loop.time() + seconds)

    async def acquire(self, kind: str, what: str) -> float:
        """Wait for the budget of one ``kind`` request; return the seconds waited."""
        loop = asyncio.get_running_loop()
        bucket = self._buckets.get(kind)
        if bucket is None and self._paused_until <= loop.time():
            return 0.0
        # Timed on the monotonic clock, not loop.time(): uvloop's moves in whole
        # milliseconds, so a request that never waited could be reported waiting 1 ms.
        start = time.monotonic()
        # One queue per kind: a request that arrived first goes first, pause or not.
        async with self._order[kind]:
            if bucket is not None:
                await bucket.acquire()
            # After the token, not before: a 429 may have come back while this request
            # waited for it. A loop, not an Event: another 429 may push the end further.
            while (delay := self._paused_until - loop.time()) > 0:  # noqa: ASYNC110
                await asyncio.sleep(delay)
        waited = time.monotonic() - start
        if waited > 0.0005:
            logger.debug("rate limit: %s waited %.3fs for the %s budget", what, waited, kind)
        return waited


@attrs.frozen(slots=True)
class ClientStats:
    """What a client has sent so far: attempts (``requests``), ``retries``, 429s seen
    (``rate_limited``) and seconds its requests waited for the rate limit (``waited``)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited: float = 0.0


class Counters:
    """The transport's running counts behind ``client.stats``."""

    __slots__ = ("rate_limited", "requests", "retries", "waited")

    def __init__(self) -> None:
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0
        self.waited = 0.0

    def snapshot(self) -> ClientStats:
        """The counts as a frozen value."""
        return ClientStats(self.requests, self.retries, self.rate_limited, self.waited)
