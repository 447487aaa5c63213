"""TwilioClient: the async session manager for Twilio Video v1 Compositions."""

from __future__ import annotations

import base64

import aiohttp
from yarl import URL

from .._client import ClientBase, resolve_base_url
from .._timeouts import NOT_GIVEN, NotGiven, TimeoutArg
from ..ratelimit import RateLimit
from ..retry import RetryPolicy
from ._credentials import resolve_credentials
from ._dialect import TwilioDialect
from .resource import Compositions

__all__ = ["DEFAULT_BASE_URL", "TwilioClient"]

DEFAULT_BASE_URL = "https://video.twilio.com/v1"
_DEFAULT_RETRY = RetryPolicy()


class TwilioClient(ClientBase):
    """Twilio Video v1 Compositions over one aiohttp session.

    Credentials are an Account SID and Auth Token, or an API Key SID and Secret
    (``api_key=``/``api_secret=``, with ``account_sid`` naming the account); what the
    arguments leave out comes from ``TWILIO_ACCOUNT_SID`` / ``TWILIO_AUTH_TOKEN`` or
    ``TWILIO_API_KEY`` / ``TWILIO_API_SECRET`` (the README's table gives the order).
    """

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        base_url: str | URL | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: TimeoutArg = NOT_GIVEN,
        retry: RetryPolicy | None = _DEFAULT_RETRY,
        pool_size: int = 100,
        rate_limit: RateLimit | NotGiven | None = NOT_GIVEN,
    ) -> None:
        credentials = resolve_credentials(account_sid, auth_token, api_key, api_secret)
        self.account_sid = credentials.account_sid
        self._username = credentials.username
        root = resolve_base_url(base_url, "TWILIO_VIDEO_BASE_URL", DEFAULT_BASE_URL)
        pair = f"{credentials.username}:{credentials.password}"
        token = base64.b64encode(pair.encode()).decode("ascii")
        dialect = TwilioDialect(root)
        super().__init__(
            dialect=dialect,
            headers={"Authorization": f"Basic {token}"},
            session=session,
            timeout=timeout,
            retry=retry,
            pool_size=pool_size,
            # Twilio documents per-account limits: a client keeps to them unless told.
            rate_limit=RateLimit.twilio() if rate_limit is NOT_GIVEN else rate_limit,
        )
        self.compositions = Compositions(self._transport, dialect)

    def _identity(self) -> str:
        return f"user={self._username!r}"
