"""The one retry engine: how many attempts a request gets, how long to wait, what to log."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from ._http import HttpRequest
from ._log import logger, redact_url
from .errors import APIConnectionError, APIError, CompositionsError
from .ratelimit import Counters, RateLimit
from .retry import RetryPolicy, parse_retry_after

__all__ = ["Attempts"]


class Attempts:
    """One request's attempts under a RetryPolicy; every sender (API or media) uses it.

    After a failure the sender calls ``retry_after_failure`` or ``retry_after_status``,
    which either sleeps until the next attempt or raises the error. It also remembers
    whether an earlier attempt may have taken effect although its answer was lost.
    """

    __slots__ = ("_counters", "_governor", "_policy", "_request", "maybe_processed", "number")

    def __init__(
        self,
        policy: RetryPolicy,
        request: HttpRequest,
        *,
        counters: Counters | None = None,
        governor: RateLimit | None = None,
    ) -> None:
        self._policy = policy
        self._request = request
        self._counters = counters
        self._governor = governor
        self.number = 1
        self.maybe_processed = False

    async def retry_after_failure(
        self, error: CompositionsError, *, before_send: bool = False, stale: bool = False
    ) -> None:
        """After a transport failure or a short body: sleep before the next attempt, or raise.

        A request that may have reached the server is resent only when it is idempotent.
        ``stale``: a pooled connection the server had closed, resent at once the first time.
        """
        if isinstance(error, APIConnectionError):
            before_send = error.before_send
            stale = error.stale_connection
        request = self._request
        if self.number >= self._policy.max_attempts or not (request.idempotent or before_send):
            raise error
        self.maybe_processed = self.maybe_processed or not before_send
        delay = 0.0 if stale and self.number == 1 else self._policy.backoff(self.number)
        await self._sleep(delay, type(error).__name__, self._policy.max_attempts)

    async def retry_after_status(self, error: APIError, headers: Mapping[str, str]) -> None:
        """After an error status: honour Retry-After (up to the cap) and sleep, or raise."""
        policy = self._policy
        status = error.status
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if status == 429:
            if self._counters is not None:
                self._counters.rate_limited += 1
            if retry_after is not None and self._governor is not None:
                # Every request sharing the budget waits, not only this one.
                self._governor.pause(min(retry_after, policy.max_retry_after))
        if not policy.status_is_retryable(status, idempotent=self._request.idempotent):
            raise error
        error.retry_after = retry_after
        if retry_after is not None and retry_after > policy.max_retry_after:
            raise error
        if self.number >= policy.attempts_for(status):
            raise error
        # A 429 was refused unprocessed; a 5xx may come after the work was done.
        self.maybe_processed = self.maybe_processed or status != 429
        delay = retry_after if retry_after is not None else policy.backoff(self.number)
        await self._sleep(delay, f"HTTP {status}", policy.attempts_for(status))

    async def _sleep(self, delay: float, reason: str, limit: int) -> None:
        request = self._request
        logger.debug(
            "retrying %s %s after %s (attempt %d of %d) in %.3fs",
            request.method,
            redact_url(str(request.url)),
            reason,
            self.number + 1,
            limit,
            delay,
        )
        await asyncio.sleep(delay)
        self.number += 1
        if self._counters is not None:
            self._counters.retries += 1
