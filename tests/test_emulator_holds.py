"""Holds, requests in flight, and waiting on the request log instead of sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from async_compositions import APITimeoutError
from async_compositions.emulator import Emulator, Hold

SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"
LISTING = "/v2/room_compositions"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=8, manual=True) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, emu: Emulator, query: str = "") -> int:
    """GET the Telnyx listing; return the status."""
    url = f"{emu.url}{LISTING}{query}"
    headers = {"Authorization": f"Bearer {emu.telnyx_api_key}"}
    async with http.get(url, headers=headers) as response:
        await response.read()
        return response.status


async def test_a_held_request_is_logged_and_in_flight_but_not_handled(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.seed_telnyx(3)
    hold = emu.hold(method="get", path="/v2/*")
    assert isinstance(hold, Hold) and hold.method == "GET" and emu.holds == [hold]
    task = asyncio.create_task(get(http, emu))
    (held,) = await hold.wait_held(1)
    assert emu.requests == [held] and held.status is None and not held.finished
    assert (emu.in_flight, emu.max_in_flight) == (1, 1)
    emu.inject("status", status=503)  # taken when the request goes on, not when it arrived
    assert hold.release() == 1
    assert await task == 503
    assert held.finished and held.status == 503 and held.fault == "status"
    assert (emu.in_flight, emu.max_in_flight, hold.held, hold.arrived) == (0, 1, [], [held])
    # The hold still stops later requests until it is lifted.
    second = asyncio.create_task(get(http, emu))
    await hold.wait_arrived(2)
    assert hold.lift() == 1 and not hold.active and emu.holds == []
    assert await second == 200
    assert await get(http, emu) == 200 and len(hold.arrived) == 2


async def test_release_picks_requests_by_page_or_by_count(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.seed_telnyx(10)
    with emu.hold(path=LISTING) as hold:
        tasks = [
            asyncio.create_task(get(http, emu, q))
            for q in ("", "?page[number]=2", "?page[number]=3", "?page[number]=4")
        ]
        held = await hold.wait_held(4)
        assert sorted(r.page or 0 for r in held) == [1, 2, 3, 4]
        assert hold.release(page=3) == 1
        await emu.wait_for_responses(1)
        assert [r.page for r in emu.requests if r.finished] == [3]
        assert sorted(r.page or 0 for r in hold.held) == [1, 2, 4]
        assert hold.release(page=9) == 0
        assert hold.release(count=2) == 2  # the two oldest
        await emu.wait_for_responses(3)
        (last,) = hold.held
    # Leaving the block lifted the hold: the last one is answered too.
    assert await asyncio.gather(*tasks) == [200] * 4
    assert last.finished and emu.holds == []


async def test_page_and_times_limit_what_a_hold_stops(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    page_two = emu.hold(page=2)
    once = emu.hold(method="GET", path=LISTING, times=1)
    first = asyncio.create_task(get(http, emu))
    await once.wait_held(1)
    assert not once.active  # used up: the next request passes
    assert await get(http, emu) == 200
    paged = asyncio.create_task(get(http, emu, "?page[number]=2"))
    (held,) = await page_two.wait_held(1)
    assert held.page == 2 and page_two.matches("GET", LISTING, 2)
    assert not page_two.matches("GET", LISTING, 1) and not page_two.matches("POST", LISTING)
    emu.lift_holds()
    assert await first == 200 and await paged == 200
    assert emu.holds == []


async def test_holds_pick_twilio_pages_counted_from_zero(emu: Emulator) -> None:
    emu.seed_twilio(5)
    hold = emu.hold(page=1)
    async with emu.twilio_client(retry=None) as client:
        task = asyncio.create_task(client.compositions.list(page_size=2))
        (second,) = await hold.wait_held(1)
        assert second.query["Page"] == "1" and second.query["PageToken"].startswith("PA")
        assert [r.page for r in emu.requests] == [0, 1]
        hold.lift()
        assert len(await task) == 5
    assert [r.page for r in emu.requests] == [0, 1, 2]


async def test_a_client_giving_up_leaves_the_hold(emu: Emulator) -> None:
    hold = emu.hold(method="POST")
    async with emu.telnyx_client(retry=None, timeout=0.2) as client:
        with pytest.raises(APITimeoutError):
            await client.compositions.create(session_id=SESSION)
    await emu.wait_until(lambda: emu.in_flight == 0)
    (gone,) = hold.arrived
    assert hold.held == [] and gone.finished and gone.status is None
    assert emu.store.telnyx == {}  # never handled
    assert hold.active  # and the hold still stops the next one


async def test_stopping_the_emulator_answers_held_requests(http: aiohttp.ClientSession) -> None:
    emu = Emulator(manual=True)
    await emu.start()
    hold = emu.hold()
    task = asyncio.create_task(get(http, emu))
    await hold.wait_held(1)
    await emu.stop()
    assert await task == 200 and not hold.active


async def test_max_in_flight_counts_concurrency_and_restarts_with_the_log(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    hold = emu.hold()
    tasks = [asyncio.create_task(get(http, emu)) for _ in range(3)]
    await hold.wait_held(3)
    assert (emu.in_flight, emu.max_in_flight) == (3, 3)
    hold.release(count=2)
    await emu.wait_for_responses(2)
    emu.clear_requests()
    assert (emu.in_flight, emu.max_in_flight, emu.requests) == (1, 1, [])
    hold.lift()
    await asyncio.gather(*tasks)
    assert (emu.in_flight, emu.max_in_flight) == (0, 1)


async def test_waits_return_the_log_and_time_out_as_a_guard(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    task = asyncio.create_task(get(http, emu))
    (arrived,) = await emu.wait_for_requests(1)
    log = await emu.wait_for_responses(1)
    assert log == [arrived] and arrived.finished and await task == 200
    with pytest.raises(TimeoutError):
        await emu.wait_for_requests(2, timeout=0.01)
    with pytest.raises(TimeoutError):
        await emu.hold().wait_arrived(timeout=0.01)
    await emu.wait_until(lambda: True, timeout=0)  # already true: no wait at all


def test_hold_arguments_are_checked() -> None:
    emu = Emulator()
    with pytest.raises(ValueError, match="times"):
        emu.hold(times=0)
    with pytest.raises(ValueError, match="page"):
        emu.hold(page=-1)
    with pytest.raises(ValueError, match="count"):
        emu.hold().release(count=-1)
    assert "active" in repr(emu.hold(method="GET", path="/v1/*"))
