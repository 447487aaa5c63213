"""Twilio paging: limits, page counts, resuming, termination and the prefetching stream."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioresponses import aioresponses
from helpers import basic_auth, stray_tasks

from async_compositions import (
    AuthenticationError,
    Page,
    ResponseDecodeError,
    TwilioClient,
)
from async_compositions.emulator import Emulator
from async_compositions.twilio import Composition

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "s3cr3t-auth-token-0f9e8d7c6b5a"
ROOM = "RM" + "a1" * 16
OTHER_ROOM = "RM" + "b2" * 16
LIST_URL = "https://video.twilio.com/v1/Compositions"
GUARD = 5.0  # seconds; only stops a broken test from hanging, never asserted on


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(manual=True, seed=5, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as e:
        yield e


@pytest.fixture
async def client(emu: Emulator) -> AsyncIterator[TwilioClient]:
    async with emu.twilio_client(retry=None) as c:
        yield c


def seed(emu: Emulator, n: int, **kwargs: Any) -> list[str]:
    """``n`` compositions, their SIDs in listing order (newest first)."""
    return emu.seed_twilio(n, **kwargs)[::-1]


def pages(emu: Emulator) -> list[int | None]:
    """The page number of each request, in arrival order (None: not a listing)."""
    return [r.page for r in emu.requests]


@pytest.fixture
async def mocked() -> AsyncIterator[tuple[aioresponses, TwilioClient]]:
    with aioresponses() as m:
        async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, retry=None) as c:
            yield m, c


def sids(items: list[Composition] | Page[Composition]) -> list[str]:
    return [c.sid for c in items]


def expected(start: int, stop: int) -> list[str]:
    """SIDs for the canned (aioresponses) pages below."""
    return [f"CJ{i:032x}" for i in range(start, stop)]


def request_count(m: aioresponses) -> int:
    return sum(len(calls) for calls in m.requests.values())


def list_page(records: list[str], next_page_url: str | None, page: int = 0) -> dict[str, Any]:
    return {
        "compositions": [{"sid": s, "status": "completed"} for s in records],
        "meta": {
            "page": page,
            "page_size": 3,
            "first_page_url": f"{LIST_URL}?PageSize=3&Page=0",
            "previous_page_url": None,
            "url": f"{LIST_URL}?PageSize=3&Page={page}",
            "next_page_url": next_page_url,
            "key": "compositions",
        },
    }


async def settle() -> None:
    """Let finalizers and cancellations run: a few loop iterations, no wall-clock wait."""
    for _ in range(50):
        await asyncio.sleep(0)
        if not stray_tasks():
            return


async def assert_clean(emu: Emulator, requests: int) -> None:
    """No task left behind, no unclosed resource, and no request beyond ``requests``."""
    await settle()
    assert stray_tasks() == set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert len(emu.requests) == requests


# -- limits and page counts ------------------------------------------------------------------


async def test_stream_walks_every_page_one_request_each(
    emu: Emulator, client: TwilioClient
) -> None:
    listed = seed(emu, 8, room_sid=ROOM)
    seed(emu, 3, room_sid=OTHER_ROOM)
    items = [c async for c in client.compositions.stream(room_sid=ROOM, page_size=3)]
    assert sids(items) == listed
    assert pages(emu) == [0, 1, 2]
    first, *later = emu.requests
    assert first.query_string == f"RoomSid={ROOM}&PageSize=3"
    # Each later page is the previous page's next_page_url: filters and token carried on.
    assert [r.query["PageToken"] for r in later] == [f"PA{listed[2]}", f"PA{listed[5]}"]
    assert all(r.query["RoomSid"] == ROOM and r.query["PageSize"] == "3" for r in later)


@pytest.mark.parametrize(
    ("records", "limit", "page_size", "yielded", "pages"),
    [
        (150, 120, 50, 120, 3),  # limit inside the third page
        (150, 100, 50, 100, 2),  # limit on a page boundary: no third request
        (10, 4, 3, 4, 2),  # limit smaller than the total
        (9, 9, 3, 9, 3),  # limit equal to the total
        (7, 100, 3, 7, 3),  # limit larger than the total
        (7, 0, 3, 0, 0),  # nothing asked for, nothing sent
    ],
)
async def test_limit_caps_items_and_requests(
    emu: Emulator,
    client: TwilioClient,
    records: int,
    limit: int,
    page_size: int,
    yielded: int,
    pages: int,
) -> None:
    listed = seed(emu, records)
    items = [c async for c in client.compositions.stream(limit=limit, page_size=page_size)]
    assert sids(items) == listed[:yielded]
    await assert_clean(emu, pages)


@pytest.mark.parametrize(
    ("limit", "sent", "pages"), [(10, "10", 1), (100, "100", 1), (250, "100", 3)]
)
async def test_limit_without_page_size_sends_min_limit_100(
    emu: Emulator, client: TwilioClient, limit: int, sent: str, pages: int
) -> None:
    listed = seed(emu, 300)
    items = await client.compositions.list(limit=limit)
    assert sids(items) == listed[:limit]
    assert emu.requests[0].query_string == f"PageSize={sent}"
    assert len(emu.requests) == pages


async def test_no_limit_no_page_size_sends_no_page_size(
    emu: Emulator, client: TwilioClient
) -> None:
    listed = seed(emu, 60)
    items = await client.compositions.list()
    assert sids(items) == listed
    assert emu.requests[0].query_string == ""
    assert len(emu.requests) == 2  # the server's default page size is 50


async def test_list_is_eager(emu: Emulator, client: TwilioClient) -> None:
    listed = seed(emu, 7)
    items = await client.compositions.list(page_size=3, status="completed")
    assert isinstance(items, list)
    assert sids(items) == listed
    assert len(emu.requests) == 3
    await assert_clean(emu, 3)


# -- page() and resuming ----------------------------------------------------------------------


async def test_page_and_next_page(emu: Emulator, client: TwilioClient) -> None:
    listed = seed(emu, 5)
    first = await client.compositions.page(page_size=3)
    assert isinstance(first, Page)
    assert sids(first.items) == listed[:3]
    assert first.has_next is True
    assert first.next_page_url == (
        f"{emu.twilio_base_url}/Compositions?PageSize=3&Page=1&PageToken=PA{listed[2]}"
    )
    second = await first.next_page()
    assert second is not None
    assert sids(second.items) == listed[3:]
    assert second.has_next is False
    assert second.next_page_url is None
    assert await second.next_page() is None
    assert len(emu.requests) == 2


async def test_page_url_resumes_a_listing(emu: Emulator, client: TwilioClient) -> None:
    listed = seed(emu, 8)
    first = await client.compositions.page(page_size=3, status="completed")
    assert first.next_page_url is not None
    # A later run, another client: only the URL string was kept.
    async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=emu.twilio_base_url) as other:
        resumed = await other.compositions.page(page_url=first.next_page_url)
    assert sids(resumed.items) == listed[3:6]
    assert emu.requests[1].query_string == (
        f"Status=completed&PageSize=3&Page=1&PageToken=PA{listed[2]}"
    )
    relative = resumed.next_page_url.removeprefix(emu.url) if resumed.next_page_url else ""
    assert relative.startswith("/v1/Compositions?")
    last = await client.compositions.page(page_url=relative)
    assert sids(last.items) == listed[6:]
    assert not last.has_next and last.next_page_url is None
    # Resuming from the URL and following next_page() give the same page.
    followed = await first.next_page()
    assert followed is not None and followed.items == resumed.items
    assert emu.requests[3].url_path_qs == emu.requests[1].url_path_qs


@pytest.mark.parametrize(
    "page_url",
    [
        "https://evil.example.com/v1/Compositions?PageSize=3&Page=1&PageToken={token}",
        "https://video.twilio.com/v1/Compositions?PageSize=3&Page=1&PageToken={token}",
        "http://user:pass@{host}/v1/Compositions?PageSize=3&Page=1&PageToken={token}",
        "/proxy/v1/Compositions?PageSize=3&Page=1&PageToken={token}",
    ],
)
async def test_a_page_url_on_another_host_is_replayed_on_the_base_url(
    emu: Emulator, client: TwilioClient, page_url: str
) -> None:
    """The same rule next_page() applies: the query goes to the configured base URL only."""
    listed = seed(emu, 7)
    host = emu.url.split("://", 1)[1]
    token = f"PA{listed[2]}"
    page = await client.compositions.page(page_url=page_url.format(host=host, token=token))
    (request,) = emu.requests
    assert request.url_path_qs == f"/v1/Compositions?PageSize=3&Page=1&PageToken={token}"
    assert request.headers["Authorization"] == basic_auth(ACCOUNT_SID, AUTH_TOKEN)
    assert sids(page.items) == listed[3:6]


@pytest.mark.parametrize(
    "page_url",
    [
        "{origin}/v1/Rooms?PageSize=3&Page=1&PageToken=PT1",
        "{origin}/v1/Compositions?PageSize=3&Page Token=PT1",
        "{origin}/v1/Compositions?PageSize=3\r\nX-Evil: 1",
        "http://[::1/v1/Compositions?PageSize=3",
        "",
    ],
)
async def test_a_page_url_that_is_not_a_listing_is_refused_before_any_request(
    emu: Emulator, client: TwilioClient, page_url: str
) -> None:
    with pytest.raises(ValueError, match="page_url"):
        await client.compositions.page(page_url=page_url.format(origin=emu.url))
    assert emu.requests == []


async def test_every_next_page_url_next_page_follows_is_accepted_as_page_url(
    emu: Emulator, client: TwilioClient
) -> None:
    listed = seed(emu, 7)
    emu.public_origin = "https://proxy.example.com"
    first = await client.compositions.page(page_size=3)
    assert first.next_page_url is not None
    assert first.next_page_url.startswith("https://proxy.example.com/v1/Compositions?")
    followed = await first.next_page()
    resumed = await client.compositions.page(page_url=first.next_page_url)
    assert followed is not None
    assert sids(followed.items) == sids(resumed.items) == listed[3:6]
    _, second, third = emu.requests
    assert second.url_path_qs == third.url_path_qs


@pytest.mark.parametrize(
    "filters",
    [{"status": "completed"}, {"page_size": 3}, {"room_sid": "RM" + "1" * 32}],
)
async def test_page_url_with_filters_is_a_type_error(
    emu: Emulator, client: TwilioClient, filters: dict[str, Any]
) -> None:
    url = f"{emu.twilio_base_url}/Compositions?PageSize=3&Page=1&PageToken=PA1"
    with pytest.raises(TypeError, match="page_url"):
        await client.compositions.page(page_url=url, **filters)
    assert emu.requests == []


# -- termination ----------------------------------------------------------------------------


async def test_empty_page_with_next_url_continues(
    mocked: tuple[aioresponses, TwilioClient],
) -> None:
    m, client = mocked
    page2 = f"{LIST_URL}?PageSize=3&Page=1&PageToken=PT1"
    page3 = f"{LIST_URL}?PageSize=3&Page=2&PageToken=PT2"
    m.get(f"{LIST_URL}?PageSize=3", payload=list_page([], page2))
    m.get(page2, payload=list_page([], page3, page=1))
    m.get(page3, payload=list_page(expected(0, 2), None, page=2))
    items = [c async for c in client.compositions.stream(page_size=3)]
    assert sids(items) == expected(0, 2)
    assert request_count(m) == 3


async def test_empty_last_page_ends_the_stream(mocked: tuple[aioresponses, TwilioClient]) -> None:
    m, client = mocked
    m.get(f"{LIST_URL}?PageSize=3", payload=list_page([], None))
    assert await client.compositions.list(page_size=3) == []
    assert request_count(m) == 1


@pytest.mark.parametrize("loop_to", ["self", "first"])
async def test_repeated_next_page_url_raises(
    mocked: tuple[aioresponses, TwilioClient], loop_to: str
) -> None:
    m, client = mocked
    first = f"{LIST_URL}?PageSize=3"
    second = f"{LIST_URL}?PageSize=3&Page=1&PageToken=PT1"
    m.get(first, payload=list_page(expected(0, 3), second))
    m.get(second, payload=list_page(expected(3, 6), second if loop_to == "self" else first, 1))
    got: list[Composition] = []
    with pytest.raises(ResponseDecodeError, match="repeated"):
        async for c in client.compositions.stream(page_size=3):
            got.append(c)
    assert sids(got) == expected(0, 3)
    assert request_count(m) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"compositions": [{"sid": expected(0, 1)[0], "status": "completed"}]},
        {"compositions": [], "meta": None},
        {"meta": {"next_page_url": None, "key": "compositions"}},
        {"compositions": {}, "meta": {"next_page_url": None}},
        {"compositions": [], "meta": {"next_page_url": 42}},
        [],
    ],
)
async def test_malformed_list_response_raises(
    mocked: tuple[aioresponses, TwilioClient], body: Any
) -> None:
    m, client = mocked
    m.get(LIST_URL, payload=body)
    with pytest.raises(ResponseDecodeError):
        await client.compositions.list()
    assert request_count(m) == 1


async def test_record_repeated_across_a_page_boundary_is_yielded_once(
    mocked: tuple[aioresponses, TwilioClient],
) -> None:
    m, client = mocked
    second = f"{LIST_URL}?PageSize=3&Page=1&PageToken=PT1"
    # Between the two requests a record was deleted, so the third record moved onto page 2.
    m.get(f"{LIST_URL}?PageSize=3", payload=list_page(expected(0, 3), second))
    m.get(second, payload=list_page(expected(2, 5), None, 1))
    assert sids(await client.compositions.list(page_size=3)) == expected(0, 5)


# -- prefetch ----------------------------------------------------------------------------------


async def test_next_page_is_requested_while_the_current_one_is_consumed(
    emu: Emulator, client: TwilioClient
) -> None:
    listed = seed(emu, 9)
    got: list[str] = []
    async for c in client.compositions.stream(page_size=3):
        got.append(c.sid)
        if len(got) == 1:
            # Block mid-page 1 until the emulator has answered page 2's request.
            await emu.wait_for_responses(2, timeout=GUARD)
            await settle()
            # Exactly one page ahead: page 3 waits until the consumer reaches page 2.
            assert pages(emu) == [0, 1]
        if len(got) == 4:
            await emu.wait_for_requests(3, timeout=GUARD)
    assert got == listed
    await assert_clean(emu, 3)


async def test_break_cancels_the_prefetch(emu: Emulator, client: TwilioClient) -> None:
    seed(emu, 9)
    hold = emu.hold(page=1)
    async for _ in client.compositions.stream(page_size=3):
        await hold.wait_arrived(timeout=GUARD)
        break
    await assert_clean(emu, 2)
    hold.lift()
    await assert_clean(emu, 2)


async def test_aclosing_cancels_the_prefetch(emu: Emulator, client: TwilioClient) -> None:
    seed(emu, 9)
    hold = emu.hold(page=1)
    stream = client.compositions.stream(page_size=3)
    async with contextlib.aclosing(stream) as items:
        async for _ in items:
            await hold.wait_arrived(timeout=GUARD)
            break
    # aclose() has returned: the prefetch is already gone, without extra loop turns.
    assert stray_tasks() == set()
    hold.lift()
    await assert_clean(emu, 2)


@pytest.mark.parametrize("where", ["mid_page", "awaiting_next_page"])
async def test_cancelling_the_consumer_cancels_the_prefetch(
    emu: Emulator, client: TwilioClient, where: str
) -> None:
    listed = seed(emu, 9)
    hold = emu.hold(page=1)
    got: list[str] = []
    never = asyncio.Event()

    async def consume() -> None:
        async for c in client.compositions.stream(page_size=3):
            got.append(c.sid)
            if where == "mid_page":
                await never.wait()

    task = asyncio.create_task(consume())
    await hold.wait_held(timeout=GUARD)
    await settle()
    assert got == (listed[:1] if where == "mid_page" else listed[:3])
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_clean(emu, 2)
    hold.lift()
    await assert_clean(emu, 2)


async def test_asyncio_timeout_cancels_the_prefetch(emu: Emulator, client: TwilioClient) -> None:
    listed = seed(emu, 9)
    hold = emu.hold(page=1)
    got: list[str] = []
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(None) as deadline:
            async for c in client.compositions.stream(page_size=3):
                got.append(c.sid)
                if len(got) == 3:
                    await hold.wait_held(timeout=GUARD)
                    # Expire now: the stream is about to wait for the held page 2.
                    deadline.reschedule(loop.time())
    assert got == listed[:3]
    await assert_clean(emu, 2)
    hold.lift()
    await assert_clean(emu, 2)


async def test_error_on_next_page_surfaces_after_the_current_page(
    emu: Emulator, client: TwilioClient
) -> None:
    listed = seed(emu, 9)
    emu.inject("status", status=401, page=1)
    got: list[str] = []
    with pytest.raises(AuthenticationError) as info:
        async for c in client.compositions.stream(page_size=3):
            got.append(c.sid)
            if len(got) == 1:
                # The 401 for page 2 has arrived while page 1 is still being consumed.
                await emu.wait_for_responses(2, timeout=GUARD)
                await settle()
    assert got == listed[:3]
    assert info.value.status == 401 and info.value.request_id == emu.requests[1].request_id
    await assert_clean(emu, 2)


async def test_closing_the_client_cancels_an_abandoned_prefetch(
    emu: Emulator, client: TwilioClient
) -> None:
    listed = seed(emu, 9)
    hold = emu.hold(page=1)
    stream = client.compositions.stream(page_size=3)
    first = await anext(stream)
    assert first.sid == listed[0]
    await hold.wait_held(timeout=GUARD)
    (prefetch,) = stray_tasks()
    await client.aclose()
    assert prefetch.cancelled()
    assert stray_tasks() == set()
    hold.lift()
    await stream.aclose()
    await assert_clean(emu, 2)
