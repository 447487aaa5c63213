"""The account-wide rate governor, measured over the emulator's request log."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from helpers import basic_auth, stray_tasks

from async_compositions import (
    ClientStats,
    RateLimit,
    RateLimitError,
    RetryPolicy,
    TelnyxClient,
    TwilioClient,
)
from async_compositions.emulator import Emulator

FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.001)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=51, manual=True) as emulator:
        yield emulator


def arrivals(emu: Emulator, method: str = "GET") -> list[float]:
    return [r.arrived for r in emu.requests if r.method == method and r.path.startswith("/v")]


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of requests that arrived within ``window`` seconds of each other."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_the_governor_keeps_to_the_rate(emu: Emulator) -> None:
    sids = emu.seed_twilio(5)
    limit = RateLimit(reads=100, burst=5)
    async with emu.twilio_client(rate_limit=limit) as client:

        async def fetch(i: int) -> None:
            await client.compositions.fetch(sids[i % 5])

        await asyncio.gather(*(fetch(i) for i in range(60)))
        stats = client.stats
    times = arrivals(emu)
    assert len(times) == 60
    # Never more than the burst plus what the rate refills, in any stretch of time.
    assert most_in_any_window(times, 0.1) <= 5 + 100 * 0.1 + 1
    assert max(times) - min(times) >= (60 - 5) / 100 * 0.9
    assert stats.requests == 60 and stats.rate_limited == 0 and stats.waited > 0


async def test_with_the_emulator_enforcing_the_same_limit_no_429(emu: Emulator) -> None:
    async with Emulator(seed=52, manual=True, rate_limit=RateLimit(reads=200, burst=10)) as strict:
        sids = strict.seed_twilio(3)
        async with strict.twilio_client(rate_limit=RateLimit(reads=200, burst=10)) as client:
            await asyncio.gather(*(client.compositions.fetch(sids[i % 3]) for i in range(80)))
        assert strict.rate_limited == 0
        assert all(r.status == 200 for r in strict.requests)


async def test_without_the_governor_the_emulator_says_429(emu: Emulator) -> None:
    async with Emulator(seed=53, manual=True, rate_limit=RateLimit(reads=50, burst=2)) as strict:
        sids = strict.seed_twilio(1)
        async with strict.twilio_client(rate_limit=None, retry=RetryPolicy.disabled()) as c:
            results = await asyncio.gather(
                *(c.compositions.fetch(sids[0]) for _ in range(20)), return_exceptions=True
            )
            stats = c.stats
        refused = [r for r in results if isinstance(r, RateLimitError)]
        assert refused and strict.rate_limited == len(refused) == stats.rate_limited
        error = refused[0]
        assert (error.status, error.code) == (429, 20429)
        assert error.retry_after is not None and error.retry_after >= 1


async def test_the_emulator_refuses_in_each_providers_shape() -> None:
    async with Emulator(seed=54, manual=True, rate_limit=RateLimit(reads=1, writes=1)) as strict:
        (sid,) = strict.seed_twilio(1)
        (tid,) = strict.seed_telnyx(1)
        async with aiohttp.ClientSession() as http:
            auth = {
                "Authorization": basic_auth(strict.twilio_account_sid, strict.twilio_auth_token)
            }
            url = f"{strict.twilio_base_url}/Compositions/{sid}"
            assert (await http.get(url, headers=auth)).status == 200
            refused = await http.get(url, headers=auth)
            body = json.loads(await refused.read())
            assert refused.status == 429 and refused.headers["Retry-After"] == "1"
            assert body["code"] == 20429 and body["status"] == 429
            headers = {"Authorization": f"Bearer {strict.telnyx_api_key}"}
            url = f"{strict.telnyx_base_url}/room_compositions/{tid}"
            assert (await http.get(url, headers=headers)).status == 200  # its own budget
            refused = await http.get(url, headers=headers)
            body = json.loads(await refused.read())
            assert refused.status == 429 and refused.headers["Retry-After"] == "1"
            assert body["errors"][0]["code"] == "10011"


async def test_a_429_pauses_every_task_not_only_its_own(emu: Emulator) -> None:
    sids = emu.seed_twilio(4)
    limit = RateLimit(reads=50, burst=1)  # requests leave 20 ms apart
    emu.inject("rate_limit", retry_after="0.5", times=1)
    async with emu.twilio_client(rate_limit=limit, retry=FAST) as client:
        await asyncio.gather(*(client.compositions.fetch(sids[i % 4]) for i in range(6)))
        stats = client.stats
    log = [r for r in emu.requests if r.path.startswith("/v1")]
    (refused,) = [r for r in log if r.status == 429]
    later = [r.arrived for r in log if r.arrived > refused.arrived]
    # Requests not yet sent when the 429 came back waited until its Retry-After passed.
    assert later and min(later) - refused.arrived >= 0.45
    assert stats.rate_limited == 1 and stats.retries == 1


async def test_clients_sharing_a_rate_limit_pause_together(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1)
    (tid,) = emu.seed_telnyx(1)
    shared = RateLimit(reads=1000, writes=100)
    emu.inject("rate_limit", retry_after="0.5", times=1, path="/v1/*")
    async with (
        emu.twilio_client(rate_limit=shared, retry=FAST) as twilio,
        emu.telnyx_client(rate_limit=shared, retry=FAST) as telnyx,
    ):
        assert twilio.rate_limit is telnyx.rate_limit is shared
        await twilio.compositions.fetch(sid)  # gets the 429, waits, succeeds
        await telnyx.compositions.fetch(tid)
    refused = next(r for r in emu.requests if r.status == 429)
    telnyx_request = next(r for r in emu.requests if r.path.startswith("/v2"))
    assert telnyx_request.arrived - refused.arrived >= 0.45


async def test_waiting_requests_keep_their_order(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1)
    limit = RateLimit(reads=50, burst=1)
    order: list[int] = []
    async with emu.twilio_client(rate_limit=limit) as client:

        async def fetch(i: int) -> None:
            await client.compositions.fetch(sid, timeout=30)
            order.append(i)

        tasks = []
        for i in range(8):
            tasks.append(asyncio.ensure_future(fetch(i)))
            await asyncio.sleep(0)  # each task reaches the governor in turn
        await asyncio.gather(*tasks)
    assert order == list(range(8))


async def test_a_task_waiting_for_the_governor_can_be_cancelled(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1)
    limit = RateLimit(reads=2, burst=1)
    async with emu.twilio_client(rate_limit=limit) as client:
        await client.compositions.fetch(sid)  # spends the burst
        waiting = asyncio.ensure_future(client.compositions.fetch(sid))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert len(arrivals(emu)) == 1  # the cancelled one never went out
        await client.compositions.fetch(sid)  # the budget still works
    assert stray_tasks() == set()


async def test_writes_have_their_own_budget(emu: Emulator) -> None:
    sids = emu.seed_twilio(6)
    limit = RateLimit(reads=1000, writes=20, burst=1)
    async with emu.twilio_client(rate_limit=limit) as client:
        await asyncio.gather(*(client.compositions.delete(sid) for sid in sids))
        await asyncio.gather(*(client.compositions.fetch(sids[0]) for _ in range(6)))
    deletes = arrivals(emu, "DELETE")
    gets = arrivals(emu, "GET")
    assert max(deletes) - min(deletes) >= 5 / 20 * 0.9
    assert max(gets) - min(gets) < 0.2  # reads did not wait on the write budget


async def test_the_governor_logs_each_wait_at_debug(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    (sid,) = emu.seed_twilio(1)
    caplog.set_level(logging.DEBUG, logger="async_compositions")
    async with emu.twilio_client(rate_limit=RateLimit(reads=20, burst=1)) as client:
        await asyncio.gather(*(client.compositions.fetch(sid) for _ in range(3)))
    waits = [r.getMessage() for r in caplog.records if "rate limit:" in r.getMessage()]
    assert len(waits) == 2
    assert all("for the read budget" in w and "/Compositions/" in w for w in waits)
    assert all(emu.twilio_auth_token not in w for w in waits)


def test_defaults_and_checks() -> None:
    twilio = TwilioClient("AC" + "a" * 32, "token")
    assert twilio.rate_limit is not None
    assert (twilio.rate_limit.reads, twilio.rate_limit.writes) == (80, 20)
    assert TwilioClient("AC" + "a" * 32, "token").rate_limit is not twilio.rate_limit
    assert TwilioClient("AC" + "a" * 32, "token", rate_limit=None).rate_limit is None
    assert TelnyxClient("KEY1").rate_limit is None  # Telnyx publishes no figures
    assert twilio.stats == ClientStats(0, 0, 0, 0.0)
    with pytest.raises(TypeError, match="rate_limit must be a RateLimit"):
        TelnyxClient("KEY1", rate_limit=80)  # type: ignore[arg-type]
    for bad, error in [
        (0, ValueError),
        (-1, ValueError),
        ("80", TypeError),
        (float("inf"), ValueError),
    ]:
        with pytest.raises(error):
            RateLimit(reads=bad)
    with pytest.raises(ValueError, match="burst"):
        RateLimit(reads=5, burst=0)
    with pytest.raises(TypeError, match="rate_limit must be"):
        Emulator(rate_limit=(5, 5))  # type: ignore[arg-type]


async def test_media_downloads_do_not_spend_the_api_budget(emu: Emulator, tmp_path: Any) -> None:
    (sid,) = emu.seed_twilio(1)
    limit = RateLimit(reads=1, burst=2)  # the listing-free path: /Media lookup + the media
    async with emu.twilio_client(rate_limit=limit) as client:
        await client.compositions.download(sid, tmp_path)
        stats = client.stats
    assert stats.waited < 0.5 and stats.requests == 2  # the /Media request and the media GET


async def test_a_request_with_tokens_to_spare_reports_no_wait(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Waits are not timed on loop.time(), which moves in whole milliseconds on uvloop."""
    loop = asyncio.get_running_loop()
    ticks = itertools.count()
    try:
        # Each reading one millisecond on: the coarsest clock a loop may have.
        monkeypatch.setattr(loop, "time", lambda: next(ticks) / 1000)
    except AttributeError:
        pytest.skip(f"{type(loop).__name__}.time cannot be replaced")
    caplog.set_level(logging.DEBUG, logger="async_compositions")
    limit = RateLimit(reads=100, writes=100)
    waits = [await limit.acquire(kind, "GET /x") for kind in ("read", "write") * 3]
    assert max(waits) < 0.0005
    assert [r.getMessage() for r in caplog.records if r.name == "async_compositions"] == []
