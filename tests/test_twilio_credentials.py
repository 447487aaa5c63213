"""Where TwilioClient takes its credentials from: every row of the README's table."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from async_compositions import TwilioClient
from async_compositions.emulator import Emulator
from async_compositions.twilio._credentials import TwilioCredentials, resolve_credentials

SID = "AC" + "0123456789abcdef" * 2
OTHER_SID = "AC" + "f" * 32
TOKEN = "s3cr3t-auth-token-0f9e8d7c6b5a"
KEY = "SK" + "fedcba9876543210" * 2
SECRET = "s3cr3t-api-secret-1a2b3c4d5e6f"
SECRETS = (TOKEN, SECRET)

ENV_NAMES = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
    "TWILIO_VIDEO_BASE_URL",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# Each row: arguments, environment, then (username, password, account_sid).
RESOLVED: list[tuple[dict[str, Any], dict[str, str], tuple[str, str, str | None]]] = [
    # 1. Account SID and Auth Token as arguments; the environment is not read.
    ({"account_sid": SID, "auth_token": TOKEN}, {}, (SID, TOKEN, SID)),
    (
        {"account_sid": SID, "auth_token": TOKEN},
        {"TWILIO_API_KEY": KEY, "TWILIO_API_SECRET": SECRET, "TWILIO_ACCOUNT_SID": OTHER_SID},
        (SID, TOKEN, SID),
    ),
    # 2. API key and secret as arguments; the account from account_sid, else the environment.
    ({"api_key": KEY, "api_secret": SECRET}, {}, (KEY, SECRET, None)),
    ({"api_key": KEY, "api_secret": SECRET, "account_sid": SID}, {}, (KEY, SECRET, SID)),
    ({"api_key": KEY, "api_secret": SECRET}, {"TWILIO_ACCOUNT_SID": SID}, (KEY, SECRET, SID)),
    (
        {"api_key": KEY, "api_secret": SECRET, "account_sid": SID},
        {"TWILIO_ACCOUNT_SID": OTHER_SID, "TWILIO_AUTH_TOKEN": TOKEN},
        (KEY, SECRET, SID),
    ),
    # 3. Only account_sid: the key pair from the environment, else its auth token.
    (
        {"account_sid": SID},
        {"TWILIO_API_KEY": KEY, "TWILIO_API_SECRET": SECRET},
        (KEY, SECRET, SID),
    ),
    (
        {"account_sid": SID},
        {"TWILIO_API_KEY": KEY, "TWILIO_API_SECRET": SECRET, "TWILIO_ACCOUNT_SID": OTHER_SID},
        (KEY, SECRET, SID),
    ),
    (
        {"account_sid": SID},
        {"TWILIO_API_KEY": KEY, "TWILIO_API_SECRET": SECRET, "TWILIO_AUTH_TOKEN": TOKEN},
        (KEY, SECRET, SID),
    ),
    ({"account_sid": SID}, {"TWILIO_AUTH_TOKEN": TOKEN}, (SID, TOKEN, SID)),
    (
        {"account_sid": SID},
        {"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": SID},
        (SID, TOKEN, SID),
    ),
    # 4. Only auth_token: the account from the environment.
    ({"auth_token": TOKEN}, {"TWILIO_ACCOUNT_SID": SID}, (SID, TOKEN, SID)),
    # 5. No arguments: the key pair wins over the auth token.
    (
        {},
        {"TWILIO_API_KEY": KEY, "TWILIO_API_SECRET": SECRET},
        (KEY, SECRET, None),
    ),
    (
        {},
        {
            "TWILIO_API_KEY": KEY,
            "TWILIO_API_SECRET": SECRET,
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": TOKEN,
        },
        (KEY, SECRET, SID),
    ),
    ({}, {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN}, (SID, TOKEN, SID)),
    # An empty variable counts as unset.
    (
        {},
        {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_API_KEY": ""},
        (SID, TOKEN, SID),
    ),
]


@pytest.mark.parametrize(("kwargs", "env", "expected"), RESOLVED)
def test_resolution_order(
    kwargs: dict[str, Any], env: dict[str, str], expected: tuple[str, str, str | None]
) -> None:
    assert resolve_credentials(**kwargs, env=env) == TwilioCredentials(*expected)


REFUSED: list[tuple[dict[str, Any], dict[str, str], str]] = [
    ({}, {}, "no Twilio credentials"),
    ({"api_key": KEY}, {}, "api_key and api_secret must be given together"),
    ({"api_secret": SECRET}, {"TWILIO_API_KEY": KEY}, "must be given together"),
    ({"auth_token": TOKEN, "api_key": KEY, "api_secret": SECRET}, {}, "not both"),
    ({"auth_token": TOKEN}, {}, "auth_token needs account_sid"),
    ({"account_sid": SID}, {}, "account_sid needs auth_token"),
    (
        {"account_sid": SID},
        {"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": OTHER_SID},
        "TWILIO_AUTH_TOKEN belongs to TWILIO_ACCOUNT_SID",
    ),
    ({"account_sid": SID}, {"TWILIO_API_KEY": KEY}, "TWILIO_API_SECRET is not"),
    ({}, {"TWILIO_API_SECRET": SECRET, "TWILIO_ACCOUNT_SID": SID}, "TWILIO_API_KEY is not"),
    ({}, {"TWILIO_AUTH_TOKEN": TOKEN}, "TWILIO_ACCOUNT_SID is not"),
    ({}, {"TWILIO_ACCOUNT_SID": SID}, "neither TWILIO_AUTH_TOKEN nor TWILIO_API_KEY"),
    ({"account_sid": SID, "auth_token": ""}, {}, "auth_token must not be empty"),
    ({"account_sid": "", "auth_token": TOKEN}, {}, "account_sid must not be empty"),
    # Malformed values, named without being echoed (a swapped argument may be a secret).
    ({"account_sid": TOKEN, "auth_token": SID}, {}, "account_sid must be 'AC'"),
    ({"api_key": SECRET, "api_secret": KEY}, {}, "api_key must be 'SK'"),
    ({}, {"TWILIO_ACCOUNT_SID": "ACnope", "TWILIO_AUTH_TOKEN": TOKEN}, "TWILIO_ACCOUNT_SID must"),
    ({"account_sid": SID, "auth_token": "two words"}, {}, "auth_token must be printable"),
    ({"account_sid": SID, "auth_token": "tok\r\nX-Evil: 1"}, {}, "auth_token must be printable"),
]


@pytest.mark.parametrize(("kwargs", "env", "message"), REFUSED)
def test_refused_combinations(kwargs: dict[str, Any], env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        resolve_credentials(**kwargs, env=env)
    text = str(info.value)
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"account_sid": 5, "auth_token": TOKEN},
        {"account_sid": SID, "auth_token": 5},
        {"account_sid": SID, "auth_token": b"token"},
        {"api_key": KEY, "api_secret": ["x"]},
        {"api_key": object(), "api_secret": SECRET},
    ],
)
def test_wrong_types_are_type_errors(clean_env: pytest.MonkeyPatch, kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        TwilioClient(**kwargs)


def test_positional_int_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(TypeError, match="account_sid must be a str, not int"):
        TwilioClient(5, "token")  # type: ignore[arg-type]


def test_the_client_reads_the_real_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TWILIO_API_KEY", KEY)
    clean_env.setenv("TWILIO_API_SECRET", SECRET)
    client = TwilioClient(account_sid=SID)
    assert client.account_sid == SID
    assert SECRET not in repr(client)
    assert KEY in repr(client)  # the key SID names the client; it is not a secret


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=17) as emulator:
        yield emulator


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_account_sid_argument_with_api_key_in_env_authenticates(
    emu: Emulator, clean_env: pytest.MonkeyPatch
) -> None:
    """The reported case: account_sid given, key and secret only in the environment."""
    clean_env.setenv("TWILIO_API_KEY", emu.twilio_api_key_sid)
    clean_env.setenv("TWILIO_API_SECRET", emu.twilio_api_key_secret)
    (sid,) = emu.seed_twilio(1)
    async with TwilioClient(
        account_sid=emu.twilio_account_sid, base_url=emu.twilio_base_url
    ) as client:
        fetched = await client.compositions.fetch(sid)
    assert fetched.sid == sid
    assert client.account_sid == emu.twilio_account_sid
    (request,) = emu.requests
    assert request.headers["Authorization"] == _basic(
        emu.twilio_api_key_sid, emu.twilio_api_key_secret
    )


async def test_account_sid_argument_with_token_in_env_authenticates(
    emu: Emulator, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("TWILIO_AUTH_TOKEN", emu.twilio_auth_token)
    (sid,) = emu.seed_twilio(1)
    async with TwilioClient(emu.twilio_account_sid, base_url=emu.twilio_base_url) as client:
        await client.compositions.fetch(sid)
    (request,) = emu.requests
    assert request.headers["Authorization"] == _basic(emu.twilio_account_sid, emu.twilio_auth_token)
