"""SessionManager: owns (or borrows) one aiohttp.ClientSession bound to one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import aiohttp

__all__ = ["SessionManager"]

T = TypeVar("T")


class SessionManager:
    """Creates the aiohttp session lazily inside the running loop and closes only its own."""

    __slots__ = ("_borrowed", "_closed", "_loop", "_pool_size", "_session", "_tasks")

    def __init__(
        self, *, session: aiohttp.ClientSession | None = None, pool_size: int = 100
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError(
                f"session must be an aiohttp.ClientSession, not {type(session).__name__}"
            )
        if isinstance(pool_size, bool) or not isinstance(pool_size, int):
            raise TypeError(f"pool_size must be an int, not {type(pool_size).__name__}")
        if pool_size < 0:
            raise ValueError(f"pool_size must be >= 0 (0 = unlimited), got {pool_size}")
        self._session = session
        self._borrowed = session is not None
        self._pool_size = pool_size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Start a background request (a page prefetch) that ``aclose()`` will cancel."""
        try:
            self._check_loop()
        except RuntimeError:
            coro.close()  # never run: close it so no "never awaited" warning follows
            raise
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def closed(self) -> bool:
        """True once ``aclose()`` has been called."""
        return self._closed

    def _check_loop(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise RuntimeError(
                "this client is closed; create a new client (or use 'async with' for its lifetime)"
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "the client must be used from inside a running event loop (an 'async def')"
            ) from None
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "this client is bound to the event loop it was first used in; "
                "create one client per event loop (e.g. per asyncio.run call)"
            )
        return loop

    def get(self) -> aiohttp.ClientSession:
        """The session to send with, created on first use in the running loop."""
        self._check_loop()
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._pool_size, limit_per_host=0)
            session = aiohttp.ClientSession(connector=connector, raise_for_status=False)
            # aiohttp resends a GET or DELETE once, silently, when the server drops the
            # connection. The transport resends it itself instead (at once, the first
            # time), so that it knows the first attempt may have been processed: a 404 to
            # a resent DELETE means the composition is gone, not missing.
            if hasattr(session, "_retry_connection"):
                session._retry_connection = False
            self._session = session
        elif session.closed:
            raise RuntimeError("the aiohttp session passed as session= has been closed")
        return session

    async def aclose(self) -> None:
        """Close the session if this manager created it; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        # A stream abandoned without aclose() may still have a prefetch in flight.
        pending = [t for t in self._tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        session, self._session = self._session, None
        if session is not None and not self._borrowed and not session.closed:
            await session.close()
