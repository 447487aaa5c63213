"""Bad caller input raises ValueError or TypeError before any request is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from async_compositions import RetryPolicy, TwilioClient
from async_compositions.twilio import VideoRegion

CJ = "CJ" + "0123456789abcdef" * 2
RM = "RM" + "0123456789abcdef" * 2
COLLECTION = "https://video.twilio.com/v1/Compositions"

BAD_SIDS: list[tuple[object, type[Exception]]] = [
    (f"{CJ[:10]}/{CJ[11:]}", ValueError),  # a path separator
    (f"{CJ}/Media", ValueError),
    ("..", ValueError),
    (f"{CJ[:-2]}..", ValueError),
    (f"{CJ[:20]} {CJ[21:]}", ValueError),  # whitespace
    (f" {CJ}", ValueError),
    (f"{CJ}\n", ValueError),
    ("RM" + CJ[2:], ValueError),  # wrong prefix
    ("cj" + CJ[2:], ValueError),
    (CJ[:-1], ValueError),  # wrong length
    (CJ + "0", ValueError),
    ("CJ" + "g" * 32, ValueError),  # not hex
    ("", ValueError),
    (None, TypeError),  # not a str
    (123, TypeError),
    (CJ.encode(), TypeError),
]


@pytest.fixture
async def mocked() -> AsyncIterator[tuple[aioresponses, TwilioClient]]:
    with aioresponses() as m:
        async with TwilioClient("AC" + "a" * 32, "token") as c:
            yield m, c
        # The point of every test here: nothing reached the network.
        assert m.requests == {}


async def _drain(make: Callable[[], Any]) -> None:
    """Build and run a verb; ``stream()`` may raise when called or when first iterated."""
    result = make()
    if isinstance(result, Awaitable):
        await result
    else:
        async for _ in result:
            pass


async def check(
    mocked: tuple[aioresponses, TwilioClient],
    exc: type[Exception],
    make: Callable[[TwilioClient], Any],
    match: str | None = None,
) -> None:
    _, client = mocked
    with pytest.raises(exc, match=match):
        await _drain(lambda: make(client))


# -- SIDs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sid", "exc"), BAD_SIDS)
async def test_bad_composition_sid(
    mocked: tuple[aioresponses, TwilioClient], sid: Any, exc: type[Exception]
) -> None:
    await check(mocked, exc, lambda c: c.compositions.fetch(sid))
    await check(mocked, exc, lambda c: c.compositions.delete(sid))


@pytest.mark.parametrize(("sid", "exc"), [("CJ" + RM[2:], ValueError), *BAD_SIDS[:6]])
async def test_bad_room_sid(
    mocked: tuple[aioresponses, TwilioClient], sid: Any, exc: type[Exception]
) -> None:
    await check(mocked, exc, lambda c: c.compositions.create(sid, audio_sources=["*"]))
    await check(mocked, exc, lambda c: c.compositions.page(room_sid=sid))
    await check(mocked, exc, lambda c: c.compositions.stream(room_sid=sid))
    await check(mocked, exc, lambda c: c.compositions.list(room_sid=sid))


# -- listing arguments ---------------------------------------------------------------------------


LISTERS: dict[str, Callable[..., Any]] = {
    "page": lambda c, **kw: c.compositions.page(**kw),
    "stream": lambda c, **kw: c.compositions.stream(**kw),
    "list": lambda c, **kw: c.compositions.list(**kw),
}


@pytest.mark.parametrize("verb", sorted(LISTERS))
@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"page_size": 0}, ValueError),
        ({"page_size": 101}, ValueError),
        ({"page_size": -5}, ValueError),
        ({"page_size": "50"}, TypeError),
        ({"page_size": True}, TypeError),
        ({"page_size": 2.0}, TypeError),
        ({"date_created_after": datetime(2024, 1, 2)}, ValueError),  # naive
        ({"date_created_before": datetime(2024, 1, 2)}, ValueError),
        ({"date_created_after": "2024-01-02T00:00:00Z"}, TypeError),
        ({"date_created_after": date(2024, 1, 2)}, TypeError),
        ({"date_created_before": 1704153600}, TypeError),
        ({"status": "archived"}, ValueError),  # unknown status string
        ({"status": "Completed"}, ValueError),
        ({"status": ""}, ValueError),
        ({"status": 3}, TypeError),
    ],
)
async def test_bad_listing_arguments(
    mocked: tuple[aioresponses, TwilioClient],
    verb: str,
    kwargs: dict[str, Any],
    exc: type[Exception],
) -> None:
    await check(mocked, exc, lambda c: LISTERS[verb](c, **kwargs))


@pytest.mark.parametrize("verb", ["stream", "list"])
@pytest.mark.parametrize(("limit", "exc"), [(-1, ValueError), ("10", TypeError), (1.5, TypeError)])
async def test_bad_limit(
    mocked: tuple[aioresponses, TwilioClient], verb: str, limit: Any, exc: type[Exception]
) -> None:
    await check(mocked, exc, lambda c: LISTERS[verb](c, limit=limit))


@pytest.mark.parametrize(("prefetch", "exc"), [(2, ValueError), (0, ValueError), ("1", TypeError)])
async def test_prefetch_beyond_one_is_refused(
    mocked: tuple[aioresponses, TwilioClient], prefetch: Any, exc: type[Exception]
) -> None:
    # Twilio pages only by next-page link: page N+2's URL is unknown until N+1 arrives.
    await check(mocked, exc, lambda c: c.compositions.stream(prefetch=prefetch), "prefetch")


@pytest.mark.parametrize("page_url", [123, b"https://video.twilio.com/v1/Compositions"])
async def test_page_url_must_be_a_string(
    mocked: tuple[aioresponses, TwilioClient], page_url: Any
) -> None:
    await check(mocked, TypeError, lambda c: c.compositions.page(page_url=page_url))


# -- create arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({}, ValueError),  # neither video_layout nor audio_sources
        ({"audio_sources": "*"}, TypeError),  # a bare string, not a list
        ({"audio_sources": b"*"}, TypeError),
        ({"audio_sources": [1]}, TypeError),
        ({"audio_sources": [""]}, ValueError),
        ({"audio_sources": ["*"], "audio_sources_excluded": "bot*"}, TypeError),
        ({"audio_sources": ["*"], "resolution": "1280*720"}, ValueError),
        ({"audio_sources": ["*"], "resolution": "0x0"}, ValueError),
        ({"audio_sources": ["*"], "resolution": "2000x2000"}, ValueError),
        ({"audio_sources": ["*"], "resolution": "1280x1280"}, ValueError),  # > 921,600 px
        ({"audio_sources": ["*"], "resolution": "8x8"}, ValueError),
        ({"audio_sources": ["*"], "resolution": "1280x720 "}, ValueError),
        ({"audio_sources": ["*"], "resolution": 1280}, TypeError),
        ({"audio_sources": ["*"], "format": "mov"}, ValueError),
        ({"audio_sources": ["*"], "format": "MP4"}, ValueError),
        ({"audio_sources": ["*"], "status_callback": "example.com/cb"}, ValueError),
        ({"audio_sources": ["*"], "status_callback": "ftp://example.com/cb"}, ValueError),
        ({"audio_sources": ["*"], "status_callback": "/relative"}, ValueError),
        ({"audio_sources": ["*"], "status_callback_method": "PUT"}, ValueError),
        ({"audio_sources": ["*"], "trim": "false"}, TypeError),
        ({"audio_sources": ["*"], "trim": 0}, TypeError),
        ({"video_layout": {}}, ValueError),  # no region
        ({"video_layout": [{"video_sources": ["*"]}]}, TypeError),
        ({"video_layout": {"grid": {}}}, ValueError),  # no video_sources
        ({"video_layout": {"grid": {"video_sources": []}}}, ValueError),
        ({"video_layout": {"grid": {"video_sources": "*"}}}, TypeError),
        ({"video_layout": {"grid": {"video_sources": ["*"], "colour": "red"}}}, ValueError),
        ({"video_layout": {"grid": VideoRegion()}}, ValueError),
        ({"video_layout": {"grid": "all"}}, TypeError),
        ({"video_layout": {"": {"video_sources": ["*"]}}}, TypeError),
    ],
)
async def test_bad_create_arguments(
    mocked: tuple[aioresponses, TwilioClient], kwargs: dict[str, Any], exc: type[Exception]
) -> None:
    await check(mocked, exc, lambda c: c.compositions.create(RM, **kwargs))


# -- per-call and constructor arguments ----------------------------------------------------------


@pytest.mark.parametrize(("timeout", "exc"), [(0, ValueError), (-1, ValueError), ("5", TypeError)])
async def test_bad_per_call_timeout(
    mocked: tuple[aioresponses, TwilioClient], timeout: Any, exc: type[Exception]
) -> None:
    await check(mocked, exc, lambda c: c.compositions.fetch(CJ, timeout=timeout))
    await check(mocked, exc, lambda c: c.compositions.list(timeout=timeout))


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"timeout": -1}, ValueError),
        ({"timeout": "30"}, TypeError),
        ({"retry": 3}, TypeError),
        ({"retry": "yes"}, TypeError),
        ({"pool_size": -1}, ValueError),
        ({"session": object()}, TypeError),
        ({"base_url": "not a url"}, ValueError),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, Any], exc: type[Exception]) -> None:
    with pytest.raises(exc):
        TwilioClient("AC" + "a" * 32, "token", **kwargs)


def test_bad_retry_policy_values() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=0)


@pytest.mark.parametrize("resolution", ["16x16", "1280x720", "720x1280", "960x960"])
async def test_resolutions_at_the_limits_are_sent(resolution: str) -> None:
    """The limits above are exact: the values just inside them go out."""
    with aioresponses() as m:
        m.post(COLLECTION, status=201, payload={"sid": CJ, "status": "enqueued"})
        async with TwilioClient("AC" + "a" * 32, "token") as client:
            await client.compositions.create(RM, audio_sources=["*"], resolution=resolution)
        (call,) = m.requests[("POST", URL(COLLECTION))]
    assert call.kwargs["data"] == f"RoomSid={RM}&AudioSources=%2A&Resolution={resolution}".encode()


@pytest.mark.parametrize("page_size", [1, 100])
async def test_page_sizes_at_the_limits_are_sent(page_size: int) -> None:
    with aioresponses() as m:
        url = f"{COLLECTION}?PageSize={page_size}"
        m.get(url, payload={"compositions": [], "meta": {"next_page_url": None}})
        async with TwilioClient("AC" + "a" * 32, "token") as client:
            page = await client.compositions.page(page_size=page_size)
        assert page.items == []
        assert len(m.requests[("GET", URL(url))]) == 1


def test_prefetch_error_says_why_twilio_pages_one_at_a_time() -> None:
    client = TwilioClient("AC" + "a" * 32, "token")
    with pytest.raises(ValueError, match="each page names the next one"):
        client.compositions.stream(prefetch=3)
