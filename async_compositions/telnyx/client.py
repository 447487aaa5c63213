"""TelnyxClient: the async session manager for Telnyx Room Compositions (API v2)."""

from __future__ import annotations

import os
import re

import aiohttp
from yarl import URL

from .._client import ClientBase, resolve_base_url
from .._timeouts import NOT_GIVEN, TimeoutArg
from ..ratelimit import RateLimit
from ..retry import RetryPolicy
from ._dialect import TelnyxDialect
from .resource import RoomCompositions

__all__ = ["DEFAULT_BASE_URL", "TelnyxClient"]

DEFAULT_BASE_URL = "https://api.telnyx.com/v2"
_DEFAULT_RETRY = RetryPolicy()
# Printable ASCII without spaces: anything else cannot travel in an Authorization header.
_KEY = re.compile(r"[\x21-\x7e]+")


def _resolve_api_key(api_key: str | None) -> str:
    """The API key from the argument, then ``TELNYX_API_KEY``; never echoed in errors."""
    if api_key is None:
        api_key = os.environ.get("TELNYX_API_KEY") or None
        if api_key is None:
            raise ValueError("no Telnyx credentials: pass api_key or set TELNYX_API_KEY")
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, not {type(api_key).__name__}")
    if not _KEY.fullmatch(api_key):
        raise ValueError("api_key must be a non-empty string of printable characters, no spaces")
    return api_key


class TelnyxClient(ClientBase):
    """Telnyx Room Compositions over one aiohttp session.

    The API key (``Authorization: Bearer``) comes from ``api_key`` or ``TELNYX_API_KEY``;
    the API root from ``base_url``, ``TELNYX_BASE_URL`` or ``https://api.telnyx.com/v2``.
    ``client.room_compositions`` is the same resource as ``client.compositions``.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | URL | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
        retry: RetryPolicy | None = _DEFAULT_RETRY,
        pool_size: int = 100,
        rate_limit: RateLimit | None = None,
    ) -> None:
        key = _resolve_api_key(api_key)
        root = resolve_base_url(base_url, "TELNYX_BASE_URL", DEFAULT_BASE_URL)
        dialect = TelnyxDialect(root)
        super().__init__(
            dialect=dialect,
            headers={"Authorization": f"Bearer {key}"},
            session=session,
            timeout=timeout,
            retry=retry,
            pool_size=pool_size,
            # Telnyx publishes no figures (it sends x-ratelimit-* headers instead): no
            # budget unless one is given.
            rate_limit=rate_limit,
        )
        self.compositions = RoomCompositions(self._transport, dialect)
        self.room_compositions = self.compositions
