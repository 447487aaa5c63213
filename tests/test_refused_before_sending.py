"""Bad input raises ValueError or TypeError before anything is sent, on every verb."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses

from async_compositions import RetryPolicy, TelnyxClient, TwilioClient
from async_compositions.twilio import VideoRegion

SID = "CJ" + "a" * 32
ROOM = "RM" + "b" * 32
ID = "7103dc53-ee59-4b54-a58b-c77d99ceb037"
SESSION = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
HUGE = 10**400  # an int no float can hold
UTC_MINUS_5 = timezone(timedelta(hours=-5))


@pytest.fixture
def mocked() -> Any:
    # No route is registered: a request that went out would fail as a connection error.
    with aioresponses() as m:
        yield m


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioClient]:
    async with TwilioClient("AC" + "c" * 32, "token", retry=RetryPolicy.disabled()) as c:
        yield c


@pytest.fixture
async def telnyx() -> AsyncIterator[TelnyxClient]:
    async with TelnyxClient("KEY123", retry=RetryPolicy.disabled()) as c:
        yield c


def _verbs(client: Any, id: str, create: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """Each verb, as a function of extra keyword arguments."""
    res = client.compositions

    async def drain(**kw: Any) -> None:
        async for _ in res.stream(**kw):
            pass

    return {
        "create": lambda **kw: res.create(**create, **kw),
        "fetch": lambda **kw: res.fetch(id, **kw),
        "delete": lambda **kw: res.delete(id, **kw),
        "page": lambda **kw: res.page(**kw),
        "stream": drain,
        "list": lambda **kw: res.list(**kw),
        "media_url": lambda **kw: res.media_url(id, **kw),
        "download": lambda **kw: res.download(id, "/tmp", **kw),
    }


VERBS = ["create", "fetch", "delete", "page", "stream", "list", "media_url", "download"]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("timeout", [HUGE, math.inf, -1, 0, math.nan])
async def test_an_unusable_timeout_on_any_verb(
    twilio: TwilioClient, telnyx: TelnyxClient, mocked: Any, verb: str, timeout: Any
) -> None:
    for call in (
        _verbs(twilio, SID, {"room_sid": ROOM, "audio_sources": ["*"]})[verb],
        _verbs(telnyx, ID, {"session_id": SESSION})[verb],
    ):
        with pytest.raises(ValueError, match="timeout"):
            await call(timeout=timeout)
    assert mocked.requests == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": HUGE}, "timeout must be a finite number"),
        ({"poll_interval": HUGE}, "poll_interval must be a finite number"),
        ({"timeout": math.inf}, "timeout must be > 0 and finite"),
        ({"poll_interval": 0}, "poll_interval must be > 0"),
    ],
)
async def test_wait_refuses_unusable_seconds(
    twilio: TwilioClient, telnyx: TelnyxClient, mocked: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await twilio.compositions.wait(SID, **kwargs)
    with pytest.raises(ValueError, match=message):
        await telnyx.compositions.wait(ID, **kwargs)
    assert mocked.requests == {}


@pytest.mark.parametrize("field", ["date_created_after", "date_created_before"])
async def test_a_datetime_that_overflows_in_utc(
    twilio: TwilioClient, mocked: Any, field: str
) -> None:
    late = datetime.max.replace(tzinfo=UTC_MINUS_5)
    with pytest.raises(ValueError, match="outside the datetime range"):
        await twilio.compositions.page(**{field: late})
    with pytest.raises(ValueError, match="outside the datetime range"):
        twilio.compositions.stream(**{field: late})
    assert mocked.requests == {}


# -- download checks everything before asking for the media URL ------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"progress": 5}, TypeError, "progress must be a callable"),
        ({"progress": "print"}, TypeError, "progress must be a callable"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
        ({"chunk_size": 2.5}, TypeError, "chunk_size"),
        ({"timeout": -3}, ValueError, "timeout"),
        ({"timeout": "10"}, TypeError, "timeout"),
    ],
)
async def test_download_checks_its_arguments_first(
    twilio: TwilioClient,
    telnyx: TelnyxClient,
    mocked: Any,
    tmp_path: Path,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        await twilio.compositions.download(SID, tmp_path, **kwargs)
    with pytest.raises(error, match=message):
        await telnyx.compositions.download(ID, tmp_path, **kwargs)
    assert mocked.requests == {}


@pytest.mark.parametrize("dest", ["missing/out.mp4", "missing/", 42, b"out.mp4", None])
async def test_download_checks_its_destination_first(
    twilio: TwilioClient, telnyx: TelnyxClient, mocked: Any, tmp_path: Path, dest: Any
) -> None:
    if isinstance(dest, str):
        dest = str(tmp_path / dest) + ("/" if dest.endswith("/") else "")
    error = FileNotFoundError if isinstance(dest, str) else TypeError
    with pytest.raises(error):
        await twilio.compositions.download(SID, dest)
    with pytest.raises(error):
        await telnyx.compositions.download(ID, dest)
    assert mocked.requests == {}


# -- layouts: every region property against the documented type and range --------------------


@pytest.mark.parametrize(
    ("region", "error", "message"),
    [
        ({"width": "wide"}, TypeError, r"\.width must be an int"),
        ({"x_pos": math.nan}, TypeError, r"\.x_pos must be an int"),
        ({"y_pos": 1.5}, TypeError, r"\.y_pos must be an int"),
        ({"z_pos": 100}, ValueError, r"\.z_pos must be between -99 and 99"),
        ({"x_pos": -1}, ValueError, r"\.x_pos must be between 0"),
        ({"width": 8}, ValueError, r"\.width must be between 16 and 1280"),
        ({"height": 4000}, ValueError, r"\.height must be between 16 and 1280"),
        ({"max_columns": 0}, ValueError, r"\.max_columns must be between 1 and 1000"),
        ({"max_rows": True}, TypeError, r"\.max_rows must be an int"),
        ({"reuse": "sometimes"}, ValueError, r"\.reuse must be one of"),
        ({"cells_excluded": [-1]}, ValueError, r"cells_excluded items must be between 0"),
        ({"cells_excluded": 3}, TypeError, r"cells_excluded must be a list"),
        ({"video_sources_excluded": "RT1"}, TypeError, r"video_sources_excluded must be a list"),
        ({"video_sources": []}, ValueError, "needs a non-empty video_sources"),
        ({"video_sources": [1]}, TypeError, r"video_sources items must be str"),
        ({"colour": "red"}, ValueError, "unknown properties: colour"),
    ],
)
async def test_twilio_region_properties(
    twilio: TwilioClient, mocked: Any, region: dict[str, Any], error: type, message: str
) -> None:
    layout = {"main": {"video_sources": ["*"], **region}}
    with pytest.raises(error, match=message):
        await twilio.compositions.create(ROOM, video_layout=layout)
    assert mocked.requests == {}


async def test_twilio_region_objects_are_checked_too(twilio: TwilioClient, mocked: Any) -> None:
    with pytest.raises(ValueError, match="z_pos"):
        await twilio.compositions.create(
            ROOM, video_layout={"main": VideoRegion(video_sources=["*"], z_pos=500)}
        )
    with pytest.raises(TypeError, match="x_pos"):
        await twilio.compositions.create(
            ROOM,
            video_layout={"main": VideoRegion(video_sources=["*"], x_pos=math.inf)},  # type: ignore[arg-type]
        )
    assert mocked.requests == {}


@pytest.mark.parametrize(
    ("region", "error", "message"),
    [
        ({"x_pos": math.nan}, TypeError, r"\.x_pos must be an int"),
        ({"width": "wide"}, TypeError, r"\.width must be an int"),
        ({"z_pos": -100}, ValueError, r"\.z_pos must be between -99 and 99"),
        ({"height": 15}, ValueError, r"\.height must be between 16"),
        ({"max_rows": 1001}, ValueError, r"\.max_rows must be between 1 and 1000"),
        ({"video_sources": "*"}, TypeError, r"video_sources must be a list"),
        ({"reuse": "none"}, ValueError, "unknown properties: reuse"),
    ],
)
async def test_telnyx_region_properties(
    telnyx: TelnyxClient, mocked: Any, region: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        await telnyx.compositions.create(session_id=SESSION, video_layout={"main": region})
    assert mocked.requests == {}


# -- URLs a caller passes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://exa mple.com/",
        "https://example.com/cb?a=1 2",
        "https://example.com/\r\nX-Evil: 1",
        "http://[::1/cb",
        "ftp://example.com/cb",
        "/relative/cb",
    ],
)
async def test_callback_urls_must_be_absolute_http_without_spaces(
    twilio: TwilioClient, telnyx: TelnyxClient, mocked: Any, url: str
) -> None:
    with pytest.raises(ValueError, match="status_callback"):
        await twilio.compositions.create(ROOM, audio_sources=["*"], status_callback=url)
    with pytest.raises(ValueError, match="webhook_event_url"):
        await telnyx.compositions.create(session_id=SESSION, webhook_event_url=url)
    with pytest.raises(ValueError, match="webhook_event_failover_url"):
        await telnyx.compositions.create(session_id=SESSION, webhook_event_failover_url=url)
    assert mocked.requests == {}
