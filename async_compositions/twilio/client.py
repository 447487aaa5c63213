"""TwilioClient: the async session manager for Twilio Video v1 Compositions."""

from __future__ import annotations

import base64
import os

import aiohttp
from yarl import URL

from .._client import ClientBase, resolve_base_url
from .._timeouts import NOT_GIVEN, TimeoutArg
from ..retry import RetryPolicy
from ._dialect import TwilioDialect
from .resource import Compositions

__all__ = ["DEFAULT_BASE_URL", "TwilioClient"]

DEFAULT_BASE_URL = "https://video.twilio.com/v1"
_DEFAULT_RETRY = RetryPolicy()


def _resolve_credentials(
    account_sid: str | None,
    auth_token: str | None,
    api_key: str | None,
    api_secret: str | None,
) -> tuple[str, str, str | None]:
    """(username, password, account_sid) from arguments, then the environment."""
    if api_key is not None or api_secret is not None:
        if not (api_key and api_secret):
            raise ValueError("api_key and api_secret must be given together")
        return api_key, api_secret, account_sid
    if account_sid is not None or auth_token is not None:
        if not (account_sid and auth_token):
            raise ValueError("account_sid and auth_token must be given together")
        return account_sid, auth_token, account_sid
    env = os.environ
    env_sid = env.get("TWILIO_ACCOUNT_SID")
    if env.get("TWILIO_API_KEY") and env.get("TWILIO_API_SECRET"):
        return env["TWILIO_API_KEY"], env["TWILIO_API_SECRET"], env_sid
    if env_sid and env.get("TWILIO_AUTH_TOKEN"):
        return env_sid, env["TWILIO_AUTH_TOKEN"], env_sid
    raise ValueError(
        "no Twilio credentials: pass account_sid and auth_token (or api_key and api_secret), "
        "or set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)"
    )


class TwilioClient(ClientBase):
    """Twilio Video v1 Compositions over one aiohttp session.

    Credentials are an Account SID and Auth Token, or an API Key SID and Secret
    (``api_key=``/``api_secret=``); when omitted they come from ``TWILIO_ACCOUNT_SID`` /
    ``TWILIO_AUTH_TOKEN`` or ``TWILIO_API_KEY`` / ``TWILIO_API_SECRET``.
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
    ) -> None:
        user, secret, sid = _resolve_credentials(account_sid, auth_token, api_key, api_secret)
        self.account_sid = sid
        self._username = user
        root = resolve_base_url(base_url, "TWILIO_VIDEO_BASE_URL", DEFAULT_BASE_URL)
        token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
        dialect = TwilioDialect(root)
        super().__init__(
            dialect=dialect,
            headers={"Authorization": f"Basic {token}"},
            session=session,
            timeout=timeout,
            retry=retry,
            pool_size=pool_size,
        )
        self.compositions = Compositions(self._transport, dialect)

    def _identity(self) -> str:
        return f"user={self._username!r}"
