"""Retries: what is retried, how often, how long it waits, and what is never sent twice.

The policy's arithmetic runs against aioresponses; transport failures against the
emulator over real sockets. What a create may and may not resend is in
test_retry_safety.py, for both providers.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
from aioresponses import aioresponses
from helpers import unused_port

from async_compositions import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TwilioClient,
)
from async_compositions.emulator import Emulator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "s3cr3t-auth-token-0f9e8d7c6b5a"
ROOM_SID = "RM" + "1" * 32
BASE = "https://video.twilio.com/v1/Compositions"
SID = "CJ" + "0" * 32
ITEM = f"{BASE}/{SID}"
COMPOSITION = {"sid": SID, "status": "completed"}


class Delays:
    """Records the backoff ceilings asked of the jitter and the delays actually slept."""

    def __init__(self) -> None:
        self.ceilings: list[float] = []
        self.slept: list[float] = []

    def jitter(self, ceiling: float) -> float:
        self.ceilings.append(ceiling)
        return ceiling / 2


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> Delays:
    """Make retry waits instant while recording how long each would have been."""
    record = Delays()
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float, result: Any = None) -> Any:
        record.slept.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    return record


def policy(delays: Delays, **kwargs: Any) -> RetryPolicy:
    return RetryPolicy(**{"base_delay": 0.1, "max_delay": 1.0, "jitter": delays.jitter, **kwargs})


@pytest.fixture
async def mocked(delays: Delays) -> AsyncIterator[tuple[aioresponses, TwilioClient]]:
    with aioresponses() as m:
        async with TwilioClient(
            ACCOUNT_SID, AUTH_TOKEN, rate_limit=None, retry=policy(delays)
        ) as c:
            yield m, c


def sent(m: aioresponses) -> int:
    return sum(len(calls) for calls in m.requests.values())


def create(client: TwilioClient) -> Coroutine[Any, Any, Any]:
    return client.compositions.create(ROOM_SID, audio_sources=["*"])


# -- idempotent requests -----------------------------------------------------------------------


async def test_get_500_500_200_succeeds_in_three_requests(
    mocked: tuple[aioresponses, TwilioClient], delays: Delays
) -> None:
    m, client = mocked
    m.get(ITEM, status=500)
    m.get(ITEM, status=500)
    m.get(ITEM, payload=COMPOSITION)
    comp = await client.compositions.fetch(SID)
    assert comp.sid == SID
    assert sent(m) == 3
    # Full-jitter exponential backoff: ceilings double, the jitter picks inside them.
    assert delays.ceilings == [0.1, 0.2]
    assert delays.slept == [0.05, 0.1]


async def test_attempts_are_bounded(
    mocked: tuple[aioresponses, TwilioClient], delays: Delays
) -> None:
    m, client = mocked
    m.get(ITEM, status=503, repeat=True)
    with pytest.raises(ServerError) as info:
        await client.compositions.fetch(SID)
    assert info.value.status == 503
    assert sent(m) == 4  # RetryPolicy() default: four attempts in all
    assert delays.ceilings == [0.1, 0.2, 0.4]


async def test_backoff_is_capped_by_max_delay(delays: Delays) -> None:
    with aioresponses() as m:
        retry = policy(delays, max_attempts=6, base_delay=0.5, max_delay=1.5)
        async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, rate_limit=None, retry=retry) as client:
            m.get(ITEM, status=502, repeat=True)
            with pytest.raises(ServerError):
                await client.compositions.fetch(SID)
    assert delays.ceilings == [0.5, 1.0, 1.5, 1.5, 1.5]


async def test_delete_is_retried_on_503(
    mocked: tuple[aioresponses, TwilioClient], delays: Delays
) -> None:
    m, client = mocked
    m.delete(ITEM, status=503)
    m.delete(ITEM, status=204)
    await client.compositions.delete(SID)
    assert sent(m) == 2
    assert len(delays.slept) == 1


async def test_list_pages_are_retried(mocked: tuple[aioresponses, TwilioClient]) -> None:
    m, client = mocked
    page = {"compositions": [COMPOSITION], "meta": {"next_page_url": None}}
    m.get(BASE, status=429)
    m.get(BASE, payload=page)
    assert [c.sid for c in await client.compositions.list()] == [SID]
    assert sent(m) == 2


@pytest.mark.parametrize(("status", "cls"), [(400, BadRequestError), (404, NotFoundError)])
async def test_client_errors_are_not_retried(
    mocked: tuple[aioresponses, TwilioClient], delays: Delays, status: int, cls: type[Exception]
) -> None:
    m, client = mocked
    m.get(ITEM, status=status, repeat=True)
    with pytest.raises(cls):
        await client.compositions.fetch(SID)
    assert sent(m) == 1
    assert delays.slept == []


# -- Retry-After -------------------------------------------------------------------------------


async def test_retry_after_seconds_is_waited(
    mocked: tuple[aioresponses, TwilioClient], delays: Delays
) -> None:
    m, client = mocked
    m.get(ITEM, status=429, headers={"Retry-After": "2"})
    m.get(ITEM, payload=COMPOSITION)
    await client.compositions.fetch(SID)
    assert sent(m) == 2
    assert delays.slept == [2.0]
    assert delays.ceilings == []  # the server's delay replaces the backoff


async def test_retry_after_http_date_is_waited(
    mocked: tuple[aioresponses, TwilioClient], delays: Delays
) -> None:
    m, client = mocked
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    m.get(ITEM, status=503, headers={"Retry-After": when})
    m.get(ITEM, payload=COMPOSITION)
    await client.compositions.fetch(SID)
    assert sent(m) == 2
    (slept,) = delays.slept
    assert 28.0 <= slept <= 30.0  # the date has one-second resolution


async def test_retry_after_in_the_past_retries_at_once(
    mocked: tuple[aioresponses, TwilioClient], delays: Delays
) -> None:
    m, client = mocked
    m.get(ITEM, status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    m.get(ITEM, payload=COMPOSITION)
    await client.compositions.fetch(SID)
    assert delays.slept == [0.0]


async def test_unparseable_retry_after_falls_back_to_backoff(
    mocked: tuple[aioresponses, TwilioClient], delays: Delays
) -> None:
    m, client = mocked
    m.get(ITEM, status=429, headers={"Retry-After": "soon"})
    m.get(ITEM, payload=COMPOSITION)
    await client.compositions.fetch(SID)
    assert delays.ceilings == [0.1]
    assert delays.slept == [0.05]


@pytest.mark.parametrize("verb", ["fetch", "create"])
async def test_retry_after_over_the_cap_raises_at_once(delays: Delays, verb: str) -> None:
    with aioresponses() as m:
        retry = policy(delays, max_retry_after=5.0)
        async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, rate_limit=None, retry=retry) as client:
            m.get(ITEM, status=429, headers={"Retry-After": "120"}, repeat=True)
            m.post(BASE, status=429, headers={"Retry-After": "120"}, repeat=True)
            with pytest.raises(RateLimitError) as info:
                if verb == "fetch":
                    await client.compositions.fetch(SID)
                else:
                    await create(client)
    assert info.value.retry_after == 120.0
    assert info.value.status == 429
    assert sent(m) == 1
    assert delays.slept == []


async def test_rate_limit_error_keeps_retry_after_when_attempts_run_out(
    delays: Delays,
) -> None:
    with aioresponses() as m:
        async with TwilioClient(
            ACCOUNT_SID, AUTH_TOKEN, rate_limit=None, retry=policy(delays)
        ) as client:
            m.get(ITEM, status=429, headers={"Retry-After": "3"}, repeat=True)
            with pytest.raises(RateLimitError) as info:
                await client.compositions.fetch(SID)
    assert info.value.retry_after == 3.0
    assert sent(m) == 4
    assert delays.slept == [3.0, 3.0, 3.0]


# -- retries off ---------------------------------------------------------------------------------


@pytest.mark.parametrize("retry", [None, RetryPolicy(max_attempts=1), RetryPolicy.disabled()])
async def test_retries_disabled(delays: Delays, retry: RetryPolicy | None) -> None:
    with aioresponses() as m:
        async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, rate_limit=None, retry=retry) as client:
            m.get(ITEM, status=500, repeat=True)
            m.delete(ITEM, status=429, headers={"Retry-After": "1"}, repeat=True)
            with pytest.raises(ServerError):
                await client.compositions.fetch(SID)
            with pytest.raises(RateLimitError) as info:
                await client.compositions.delete(SID)
    assert sent(m) == 2
    assert delays.slept == []
    assert info.value.retry_after == 1.0


def test_default_policy_retries() -> None:
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN)
    assert client.retry == RetryPolicy()
    assert client.retry.max_attempts > 1
    assert (
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, rate_limit=None, retry=None).retry.max_attempts == 1
    )


# -- the log line per retry decision ---------------------------------------------------------


async def test_each_retry_is_logged_at_debug(
    mocked: tuple[aioresponses, TwilioClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_compositions")
    m, client = mocked
    m.get(ITEM, status=500)
    m.get(ITEM, status=429, headers={"Retry-After": "1.5"})
    m.get(ITEM, payload=COMPOSITION)
    await client.compositions.fetch(SID)
    records = [r for r in caplog.records if r.name == "async_compositions"]
    assert [r.levelno for r in records] == [logging.DEBUG, logging.DEBUG]
    assert [r.getMessage() for r in records] == [
        f"retrying GET {ITEM} after HTTP 500 (attempt 2 of 4) in 0.050s",
        f"retrying GET {ITEM} after HTTP 429 (attempt 3 of 4) in 1.500s",
    ]


async def test_no_log_without_retry(
    mocked: tuple[aioresponses, TwilioClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_compositions")
    m, client = mocked
    m.get(ITEM, payload=COMPOSITION)
    await client.compositions.fetch(SID)
    assert [r for r in caplog.records if r.name == "async_compositions"] == []


# -- transport failures (real sockets) -----------------------------------------------------------


@pytest.mark.parametrize("verb", ["fetch", "create"])
async def test_connection_refused_is_retried_then_raised(
    delays: Delays, caplog: pytest.LogCaptureFixture, verb: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_compositions")
    base = f"http://127.0.0.1:{unused_port()}/v1"
    retry = policy(delays, max_attempts=3)
    async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=base, retry=retry) as client:
        with pytest.raises(APIConnectionError) as info:
            if verb == "fetch":
                await client.compositions.fetch(SID)
            else:
                # Refused before anything was sent: even a create is safe to resend.
                await create(client)
    err = info.value
    assert type(err) is APIConnectionError
    assert err.before_send is True
    assert err.method == ("GET" if verb == "fetch" else "POST")
    assert len(delays.slept) == 2  # three attempts
    assert len([r for r in caplog.records if "APIConnectionError" in r.getMessage()]) == 2
    assert err.__cause__ is None and err.cause.startswith("ClientConnectorError")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(manual=True, seed=2, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as e:
        yield e


@pytest.mark.parametrize(("verb", "attempts"), [("fetch", 2), ("delete", 2), ("create", 1)])
async def test_timeout_becomes_api_timeout_error(
    emu: Emulator, delays: Delays, verb: str, attempts: int
) -> None:
    (sid,) = emu.seed_twilio(1)
    hold = emu.hold()  # every request waits until the emulator stops
    retry = policy(delays, max_attempts=2)
    async with TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=emu.twilio_base_url, retry=retry, timeout=0.1
    ) as client:
        with pytest.raises(APITimeoutError) as info:
            if verb == "fetch":
                await client.compositions.fetch(sid)
            elif verb == "delete":
                await client.compositions.delete(sid)
            else:
                await create(client)
    assert type(info.value) is APITimeoutError
    assert isinstance(info.value, APIConnectionError)
    assert info.value.before_send is False
    # A create that timed out may have happened: it is never sent a second time.
    assert len(emu.requests) == len(hold.arrived) == attempts
    assert emu.store.twilio[sid].status == "completed"  # none of them was handled


@pytest.mark.parametrize(("verb", "attempts"), [("fetch", 3), ("create", 1)])
async def test_dropped_connection_is_a_connection_error(
    emu: Emulator, delays: Delays, verb: str, attempts: int
) -> None:
    (sid,) = emu.seed_twilio(1)
    emu.inject("disconnect", times=10)
    retry = policy(delays, max_attempts=3)
    async with TwilioClient(
        ACCOUNT_SID, AUTH_TOKEN, base_url=emu.twilio_base_url, retry=retry
    ) as client:
        with pytest.raises(APIConnectionError) as info:
            if verb == "fetch":
                await client.compositions.fetch(sid)
            else:
                await create(client)
    assert type(info.value) is APIConnectionError
    # The server saw the request, so a create must not be resent.
    assert info.value.before_send is False
    assert len(delays.slept) == attempts - 1
    assert [r.fault for r in emu.requests] == ["disconnect"] * attempts
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert info.value.cause
