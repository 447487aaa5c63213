"""ClientBase: the async session manager both provider clients are built on."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp
from yarl import URL

from ._dialect import Dialect
from ._session import SessionManager
from ._timeouts import TimeoutArg, to_client_timeout
from ._transport import Transport
from ._version import __version__
from .ratelimit import ClientStats, RateLimit
from .retry import RetryPolicy

__all__ = ["ClientBase", "resolve_base_url", "user_agent"]


def resolve_base_url(value: str | URL | None, env_var: str, default: str) -> URL:
    """The API root: the argument, else the environment variable, else the provider's."""
    raw = value or os.environ.get(env_var) or default
    url = URL(str(raw).rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {str(raw)!r}")
    return url


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
        dialect: Dialect[Any],
        headers: Mapping[str, str],
        session: aiohttp.ClientSession | None,
        timeout: TimeoutArg,
        retry: RetryPolicy | None,
        pool_size: int,
        rate_limit: RateLimit | None,
    ) -> None:
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError(
                f"rate_limit must be a RateLimit or None, not {type(rate_limit).__name__}"
            )
        self.base_url = dialect.base_url
        self._sessions = SessionManager(session=session, pool_size=pool_size)
        agent = {"User-Agent": user_agent()}
        self._transport = Transport(
            sessions=self._sessions,
            headers={**agent, "Accept": "application/json", **headers},
            anonymous_headers=agent,
            timeout=to_client_timeout(timeout),
            retry=_retry_policy(retry),
            parse_error=dialect.parse_error,
            request_id_header=dialect.request_id_header,
            rate_limit=rate_limit,
        )

    def _identity(self) -> str:
        """What the repr shows to tell clients apart (never a secret)."""
        return ""

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        who = f"{self._identity()} " if self._identity() else ""
        return f"<{type(self).__name__} {who}base_url={str(self.base_url)!r} {state}>"

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

    @property
    def rate_limit(self) -> RateLimit | None:
        """The request budget this client draws on (shared with clients given the same one)."""
        return self._transport.rate_limit

    @property
    def stats(self) -> ClientStats:
        """Requests sent (attempts), retries, 429s seen, seconds waited for the rate limit."""
        return self._transport.counters.snapshot()

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
