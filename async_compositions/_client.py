"""ClientBase: the async session manager both provider clients are built on."""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

import aiohttp

from ._http import HttpResponse
from ._session import SessionManager
from ._timeouts import TimeoutArg, to_client_timeout
from ._transport import Transport
from ._version import __version__
from .errors import APIError
from .retry import RetryPolicy

__all__ = ["ClientBase", "user_agent"]


def user_agent() -> str:
    """The User-Agent every request carries."""
    return (
        f"async-compositions/{__version__} aiohttp/{aiohttp.__version__} "
        f"Python/{platform.python_version()}"
    )


def _retry_policy(retry: RetryPolicy | None) -> RetryPolicy:
    if retry is None:
        return RetryPolicy.disabled()
    if not isinstance(retry, RetryPolicy):
        raise TypeError(f"retry must be a RetryPolicy or None, not {type(retry).__name__}")
    return retry


class ClientBase:
    """Owns the session manager and transport; use with ``async with`` or call ``aclose()``."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        parse_error: Callable[[HttpResponse], APIError],
        request_id_header: str,
        session: aiohttp.ClientSession | None,
        timeout: TimeoutArg,
        retry: RetryPolicy | None,
        pool_size: int,
    ) -> None:
        self._sessions = SessionManager(session=session, pool_size=pool_size)
        self._transport = Transport(
            sessions=self._sessions,
            headers={"User-Agent": user_agent(), "Accept": "application/json", **headers},
            timeout=to_client_timeout(timeout),
            retry=_retry_policy(retry),
            parse_error=parse_error,
            request_id_header=request_id_header,
        )

    @property
    def closed(self) -> bool:
        """True once the client has been closed."""
        return self._sessions.closed

    @property
    def timeout(self) -> aiohttp.ClientTimeout:
        """The default timeout of every request."""
        return self._transport.timeout

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy of every request."""
        return self._transport.retry

    async def aclose(self) -> None:
        """Close the HTTP session this client created (a borrowed one stays open)."""
        await self._sessions.aclose()

    async def __aenter__(self) -> Self:
        self._sessions.get()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
