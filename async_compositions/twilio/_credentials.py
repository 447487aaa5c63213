"""Where a TwilioClient's credentials come from: arguments first, then the environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import attrs

__all__ = ["TwilioCredentials", "resolve_credentials"]

_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_API_KEY = re.compile(r"SK[0-9a-fA-F]{32}")
# A secret travels inside a Basic header: printable ASCII, no spaces.
_SECRET = re.compile(r"[\x21-\x7e]+")

_HOW = (
    "pass account_sid and auth_token (or api_key and api_secret), or set "
    "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)"
)


@attrs.frozen(slots=True)
class TwilioCredentials:
    """The Basic-auth pair a client sends and the account it acts for."""

    username: str
    password: str = attrs.field(repr=False)
    account_sid: str | None


def _argument(value: object, what: str) -> str | None:
    """A credential argument: None, or a non-empty str (its value is never echoed)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def _checked(value: str, pattern: re.Pattern[str], what: str, shape: str) -> str:
    # The value is not shown: a swapped argument may be a secret.
    if not pattern.fullmatch(value):
        raise ValueError(f"{what} must be {shape}")
    return value


def _sid(value: str, what: str) -> str:
    return _checked(value, _ACCOUNT_SID, what, "'AC' followed by 32 hex digits")


def _key(value: str, what: str) -> str:
    return _checked(value, _API_KEY, what, "'SK' followed by 32 hex digits")


def _secret(value: str, what: str) -> str:
    if not _SECRET.fullmatch(value):
        raise ValueError(f"{what} must be printable characters without spaces")
    return value


def _env_pair(env: Mapping[str, str], first: str, second: str) -> tuple[str, str] | None:
    """Both variables of a pair, None when neither is set; half a pair is an error."""
    a, b = env.get(first) or None, env.get(second) or None
    if a is None and b is None:
        return None
    if a is None or b is None:
        missing = first if a is None else second
        present = second if a is None else first
        raise ValueError(f"incomplete Twilio credentials: {present} is set but {missing} is not")
    return a, b


def resolve_credentials(
    account_sid: object = None,
    auth_token: object = None,
    api_key: object = None,
    api_secret: object = None,
    *,
    env: Mapping[str, str] | None = None,
) -> TwilioCredentials:
    """Credentials from the arguments, completed from the environment (README table)."""
    env = os.environ if env is None else env
    sid = _argument(account_sid, "account_sid")
    token = _argument(auth_token, "auth_token")
    key = _argument(api_key, "api_key")
    secret = _argument(api_secret, "api_secret")
    if sid is not None:
        sid = _sid(sid, "account_sid")
    env_sid = env.get("TWILIO_ACCOUNT_SID") or None

    if key is not None or secret is not None:
        if token is not None:
            raise ValueError(
                "conflicting Twilio credentials: pass auth_token or api_key and api_secret, "
                "not both"
            )
        if key is None or secret is None:
            raise ValueError(
                "incomplete Twilio credentials: api_key and api_secret must be given together"
            )
        account = sid if sid is not None else env_sid
        return TwilioCredentials(
            _key(key, "api_key"),
            _secret(secret, "api_secret"),
            None if account is None else _sid(account, "TWILIO_ACCOUNT_SID"),
        )
    if token is not None:
        if sid is None:
            if env_sid is None:
                raise ValueError(
                    "incomplete Twilio credentials: auth_token needs account_sid "
                    "(or TWILIO_ACCOUNT_SID)"
                )
            sid = _sid(env_sid, "TWILIO_ACCOUNT_SID")
        return TwilioCredentials(sid, _secret(token, "auth_token"), sid)

    env_key = _env_pair(env, "TWILIO_API_KEY", "TWILIO_API_SECRET")
    if env_key is not None:
        account = sid if sid is not None else env_sid
        return TwilioCredentials(
            _key(env_key[0], "TWILIO_API_KEY"),
            _secret(env_key[1], "TWILIO_API_SECRET"),
            None if account is None else _sid(account, "TWILIO_ACCOUNT_SID"),
        )
    env_token = env.get("TWILIO_AUTH_TOKEN") or None
    if sid is not None:
        if env_token is None:
            raise ValueError(
                "incomplete Twilio credentials: account_sid needs auth_token (or api_key and "
                "api_secret), or TWILIO_AUTH_TOKEN (or TWILIO_API_KEY and TWILIO_API_SECRET)"
            )
        if env_sid is not None and env_sid != sid:
            # An auth token belongs to one account: never pair it with another.
            raise ValueError(
                "conflicting Twilio credentials: TWILIO_AUTH_TOKEN belongs to "
                "TWILIO_ACCOUNT_SID, not to the account_sid given; pass auth_token"
            )
        return TwilioCredentials(sid, _secret(env_token, "TWILIO_AUTH_TOKEN"), sid)
    if env_sid is not None and env_token is not None:
        sid = _sid(env_sid, "TWILIO_ACCOUNT_SID")
        return TwilioCredentials(sid, _secret(env_token, "TWILIO_AUTH_TOKEN"), sid)
    if env_token is not None:
        raise ValueError(
            "incomplete Twilio credentials: TWILIO_AUTH_TOKEN is set but TWILIO_ACCOUNT_SID is not"
        )
    if env_sid is not None:
        raise ValueError(
            "incomplete Twilio credentials: TWILIO_ACCOUNT_SID is set but neither "
            "TWILIO_AUTH_TOKEN nor TWILIO_API_KEY and TWILIO_API_SECRET are"
        )
    raise ValueError(f"no Twilio credentials: {_HOW}")
