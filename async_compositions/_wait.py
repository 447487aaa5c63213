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

    __slots__ = ("_events",)

    def __init__(self) -> None:
        self._events: collections.defaultdict[Hashable, set[asyncio.Event]] = (
            collections.defaultdict(set)
        )

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

    def notify(self, key: Hashable) -> int:
        """Wake every waiter on ``key``; returns how many were woken."""
        events = self._events.get(key, ())
        for event in events:
            event.set()
        return len(events)


async def wait_until_settled(
    fetch: Callable[[], Awaitable[M]],
    status_of: Callable[[M], CompositionStatus | None],
    describe: str,
    wake: asyncio.Event,
    *,
    timeout: float,
    poll_interval: float,
    max_poll_interval: float = 30.0,
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
    try:
        async with asyncio.timeout_at(deadline):
            while True:
                wake.clear()
                last = await fetch()
                status = status_of(last)
                if status is CompositionStatus.FAILED:
                    raise CompositionFailedError(f"composition {describe} failed", last)
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
        if loop.time() < deadline:
            raise  # a timeout from inside fetch(), not our deadline
        status = None if last is None else status_of(last)
        state = "" if last is None else f" (last status {status.value if status else None})"
        raise WaitTimeoutError(
            f"composition {describe} not settled after {limit:g}s{state}", last
        ) from None
