"""Holds: requests that wait at the emulator's door until the test lets them through."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Self

from ._faults import RecordedRequest, _matches

__all__ = ["DEFAULT_WAIT", "Hold", "Monitor"]

# Seconds the wait_* helpers wait by default before raising TimeoutError: a guard that
# turns a request that never comes into a failure instead of a hang, never a measure.
DEFAULT_WAIT = 10.0


class Monitor:
    """Wakes every waiter whenever the emulator's request state changes."""

    __slots__ = ("_changed",)

    def __init__(self) -> None:
        self._changed: asyncio.Event | None = None

    def changed(self) -> None:
        """Something changed: every waiter re-checks its condition."""
        event, self._changed = self._changed, None
        if event is not None:
            event.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> None:
        """Return once ``predicate()`` is true; TimeoutError after ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            while not predicate():
                if self._changed is None:
                    self._changed = asyncio.Event()
                await self._changed.wait()


class _Waiting:
    """One held request and the gate it waits at (compared by identity)."""

    __slots__ = ("entry", "gate")

    def __init__(self, entry: RecordedRequest, gate: asyncio.Future[None]) -> None:
        self.entry = entry
        self.gate = gate


class Hold:
    """Matching requests wait, before they are handled, until the test releases them.

    Made by ``Emulator.hold()``. A held request has been received and logged (it is in
    ``Emulator.requests`` and counts as in flight) but not handled: no fault, no latency,
    no effect yet. ``release()`` lets waiting requests go on while the hold keeps stopping
    later ones; ``lift()`` lets everything through and ends the hold (so does leaving a
    ``with emu.hold(...) as hold:`` block, and stopping the emulator).

    A held request whose client gives up (a timeout, a closed connection) stops waiting
    and leaves ``held``; it stays in ``arrived``.
    """

    def __init__(
        self,
        *,
        method: str | None,
        path: str | None,
        page: int | None,
        times: int | None,
        monitor: Monitor,
    ) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 (or None: every matching request)")
        if page is not None and (isinstance(page, bool) or page < 0):
            raise ValueError(f"page must be a page number >= 0, got {page!r}")
        self.method = method.upper() if method is not None else None
        self.path = path
        self.page = page
        self.times = times
        # Every request this hold has stopped, in arrival order (released ones included).
        self.arrived: list[RecordedRequest] = []
        self._waiting: list[_Waiting] = []
        self._lifted = False
        self._monitor = monitor

    def __repr__(self) -> str:
        state = "active" if self.active else "lifted" if self._lifted else "used up"
        return (
            f"<Hold method={self.method} path={self.path!r} page={self.page} {state} "
            f"held={len(self._waiting)} arrived={len(self.arrived)}>"
        )

    @property
    def active(self) -> bool:
        """True while the hold stops new matching requests (not lifted, ``times`` left)."""
        return not self._lifted and (self.times is None or len(self.arrived) < self.times)

    @property
    def held(self) -> list[RecordedRequest]:
        """The requests waiting now, oldest first."""
        return [item.entry for item in self._waiting]

    def matches(self, method: str, path: str, page: int | None = None) -> bool:
        """True when this hold would stop a request with this method, path and page."""
        return self.active and _matches(self.method, self.path, self.page, method, path, page)

    def release(self, count: int | None = None, *, page: int | None = None) -> int:
        """Let waiting requests go on: all of them, the oldest ``count``, or ``page``'s.

        ``page`` picks the listing requests for that page (``RecordedRequest.page``).
        The hold keeps stopping later requests. Returns how many were let go.
        """
        if count is not None and count < 0:
            raise ValueError("count must be >= 0")
        chosen = [item for item in self._waiting if page is None or item.entry.page == page]
        if count is not None:
            chosen = chosen[:count]
        for item in chosen:
            self._waiting.remove(item)
            if not item.gate.done():
                item.gate.set_result(None)
        if chosen:
            self._monitor.changed()
        return len(chosen)

    def lift(self) -> int:
        """Release every waiting request and stop holding; returns how many were waiting."""
        self._lifted = True
        released = self.release()
        self._monitor.changed()
        return released

    async def wait_arrived(
        self, count: int = 1, *, timeout: float | None = DEFAULT_WAIT
    ) -> list[RecordedRequest]:
        """Wait until this hold has stopped ``count`` requests in all; return them all.

        Raises TimeoutError after ``timeout`` seconds (None waits for ever).
        """
        await self._monitor.wait_for(lambda: len(self.arrived) >= count, timeout)
        return list(self.arrived)

    async def wait_held(
        self, count: int = 1, *, timeout: float | None = DEFAULT_WAIT
    ) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests are waiting at once; return those waiting.

        Raises TimeoutError after ``timeout`` seconds (None waits for ever).
        """
        await self._monitor.wait_for(lambda: len(self._waiting) >= count, timeout)
        return self.held

    async def wait(self, entry: RecordedRequest) -> None:
        """Stop ``entry`` here until it is released (called by the emulator's gateway)."""
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        item = _Waiting(entry, gate)
        self.arrived.append(entry)
        self._waiting.append(item)
        self._monitor.changed()
        try:
            await gate
        finally:
            if item in self._waiting:  # cancelled while held: the client gave up
                self._waiting.remove(item)
                self._monitor.changed()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.lift()
