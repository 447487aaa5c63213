"""Polling a composition until it settles, woken early by webhook events."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar

from ._log import logger
from ._validate import check_seconds
from .errors import CompositionFailedError, WaitTimeoutError
from .status import CompositionStatus

__all__ = ["Waiters", "wait_until_settled"]

M = TypeVar("M")


class Waiters:
    """Events that wake pending ``wait()`` calls when a webhook says a composition changed."""

    __slots__ = ("_events", "_failures")

    def __init__(self) -> None:
        self._events: collections.defaultdict[Hashable, set[asyncio.Event]] = (
            collections.defaultdict(set)
        )
        # The provider's error code and message from the last failure event of a
        # composition someone is waiting for (kept only while they wait).
        self._failures: dict[Hashable, tuple[str | None, str | None]] = {}

    def register(self, key: Hashable) -> asyncio.Event:
        """A fresh event that ``notify(key)`` will set."""
        event = asyncio.Event()
        self._events[key].add(event)
        return event

    def unregister(self, key: Hashable, event: asyncio.Event) -> None:
        """Forget an event once its waiter has finished."""
        events = self._events.get(key)
        if events is not None:
            events.discard(event)
            if not events:
                del self._events[key]
                self._failures.pop(key, None)

    def notify(self, key: Hashable, failure: tuple[str | None, str | None] | None = None) -> int:
        """Wake every waiter on ``key``; returns how many were woken.

        ``failure``: the (code, message) a failure event gave, for the waiters' error.
        """
        events = self._events.get(key, ())
        if events and failure is not None:
            self._failures[key] = failure
        for event in events:
            event.set()
        return len(events)

    def failure(self, key: Hashable) -> tuple[str | None, str | None]:
        """The (code, message) of the last failure event for ``key``, or (None, None)."""
        return self._failures.get(key, (None, None))


async def wait_until_settled(
    fetch: Callable[[], Awaitable[M]],
    status_of: Callable[[M], CompositionStatus | None],
    describe: str,
    wake: asyncio.Event,
    *,
    timeout: float,
    poll_interval: float,
    max_poll_interval: float = 30.0,
    failed: Callable[[str, M], CompositionFailedError] | None = None,
) -> M:
    """Fetch until the status is terminal; raise on failure or at the deadline.

    A record without a status yet, or with a status this version does not know, is not
    settled: the second is logged once, as it may mean waiting until the deadline.
    """
    limit = check_seconds(timeout, "timeout")
    interval = check_seconds(poll_interval, "poll_interval")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    last: M | None = None
    warned = False
    # Asked whether it expired rather than compared with loop.time(): uvloop may fire a
    # timer up to a millisecond before its clock reaches the deadline.
    until_deadline = asyncio.timeout_at(deadline)
    try:
        async with until_deadline:
            while True:
                wake.clear()
                last = await fetch()
                status = status_of(last)
                if status is CompositionStatus.FAILED:
                    message = f"composition {describe} failed"
                    if failed is not None:
                        raise failed(message, last)
                    raise CompositionFailedError(message, last)
                if status is not None and status.is_terminal:
                    return last
                if status is not None and not status.is_known and not warned:
                    warned = True
                    logger.warning(
                        "composition %s has status %r, which this version does not know; "
                        "wait() keeps polling until it settles or times out",
                        describe,
                        status.value,
                    )
                try:
                    async with asyncio.timeout(interval):
                        await wake.wait()
                except TimeoutError:
                    pass
                interval = min(interval * 1.5, max_poll_interval)
    except TimeoutError:
        if not until_deadline.expired():
            raise  # a timeout from inside fetch(), not our deadline
        status = None if last is None else status_of(last)
        state = "" if last is None else f" (last status {status.value if status else None})"
        raise WaitTimeoutError(
            f"composition {describe} not settled after {limit:g}s{state}", last
        ) from None
