"""What TelnyxClient puts on the wire, compared byte for byte with the real telnyx-python SDK.

Both clients talk to the same Emulator on 127.0.0.1, whose request log keeps each request
target (path and still-encoded query) and body exactly as they arrived. The expected bytes
are the ones tests/test_telnyx_dialect.py hard-codes as "what telnyx-python sends"; here the
SDK itself has to produce them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
import telnyx
from telnyx.types import room_composition_list_params

from async_compositions import NotFoundError, TelnyxClient
from async_compositions.emulator import Emulator, RecordedRequest
from async_compositions.telnyx import VideoRegion

API_KEY = "KEYtest0123456789_secret"
PREFIX = "/v2/room_compositions"

SESSION = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
SOURCE = "7b61621f-62e0-4aad-ab11-9fd19e272e73"
# telnyx-python's own API-test values, as in test_telnyx_dialect.py.
CREATE_KWARGS: dict[str, Any] = {
    "session_id": SESSION,
    "video_layout": {
        "foo": {
            "height": 360,
            "max_columns": 3,
            "max_rows": 3,
            "video_sources": [SOURCE],
            "width": 480,
            "x_pos": 100,
            "y_pos": 100,
            "z_pos": 1,
        }
    },
    "resolution": "800x600",
    "format": "mp4",
    "webhook_event_url": "https://example.com",
    "webhook_event_failover_url": "https://failover.example.com",
    "webhook_timeout_secs": 25,
}
SDK_CREATE_BODY = (
    b'{"format":"mp4","resolution":"800x600",'
    b'"session_id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777b0",'
    b'"video_layout":{"foo":{"height":360,"max_columns":3,"max_rows":3,'
    b'"video_sources":["7b61621f-62e0-4aad-ab11-9fd19e272e73"],'
    b'"width":480,"x_pos":100,"y_pos":100,"z_pos":1}},'
    b'"webhook_event_failover_url":"https://failover.example.com",'
    b'"webhook_event_url":"https://example.com","webhook_timeout_secs":25}'
)

LIST_SESSION = "92e7d459-bcc5-4386-9f5f-6dd14a82588d"
# The same filters in each client's own vocabulary (dates as date objects and as a string).
OUR_FILTERS: dict[str, Any] = {
    "status": "completed",
    "session_id": LIST_SESSION,
    "date_created_on": date(2024, 1, 2),
    "date_created_after": date(2024, 1, 2),
    "date_created_before": "2024-02-01",
}
SDK_FILTER: room_composition_list_params.Filter = {
    "date_created_at": {"eq": date(2024, 1, 2), "gte": date(2024, 1, 2), "lte": "2024-02-01"},
    "session_id": LIST_SESSION,
    "status": "completed",
}
SDK_FILTER_QUERY = (
    "filter%5Bdate_created_at%5D%5Beq%5D=2024-01-02"
    "&filter%5Bdate_created_at%5D%5Bgte%5D=2024-01-02"
    "&filter%5Bdate_created_at%5D%5Blte%5D=2024-02-01"
    "&filter%5Bsession_id%5D=92e7d459-bcc5-4386-9f5f-6dd14a82588d"
    "&filter%5Bstatus%5D=completed"
)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(manual=True, seed=17, telnyx_api_key=API_KEY) as emulator:
        yield emulator


@pytest.fixture
def newest_first(emu: Emulator) -> list[str]:
    """Five records matching OUR_FILTERS: with page[size]=2 there are three pages."""
    start = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)
    return emu.seed_telnyx(5, session_id=LIST_SESSION, start=start)[::-1]


@pytest.fixture
async def ours(emu: Emulator, newest_first: list[str]) -> AsyncIterator[TelnyxClient]:
    async with TelnyxClient(API_KEY, base_url=emu.telnyx_base_url, retry=None) as client:
        yield client


@asynccontextmanager
async def official_sdk(emu: Emulator) -> AsyncIterator[telnyx.AsyncTelnyx]:
    """telnyx-python's async client pointed at the emulator, with no retries.

    Its own default httpx client, except that proxy settings from the environment are
    ignored, so nothing can route these loopback requests elsewhere.
    """
    http = telnyx.DefaultAsyncHttpxClient(trust_env=False)
    async with telnyx.AsyncTelnyx(
        api_key=API_KEY, base_url=emu.telnyx_base_url, max_retries=0, http_client=http
    ) as sdk:
        yield sdk


def pairs(request: RecordedRequest) -> list[tuple[str, str]]:
    return sorted(request.query.items())


async def test_create_request_equals_what_telnyx_python_sends(
    emu: Emulator, ours: TelnyxClient
) -> None:
    async with official_sdk(emu) as sdk:
        created = await sdk.room_compositions.create(**CREATE_KWARGS)
    mine = await ours.compositions.create(**CREATE_KWARGS)
    theirs_req, ours_req = emu.requests
    assert (theirs_req.method, theirs_req.url_path_qs) == ("POST", PREFIX)
    assert theirs_req.headers["Content-Type"] == "application/json"
    assert theirs_req.body == SDK_CREATE_BODY
    assert (ours_req.method, ours_req.url_path_qs) == (theirs_req.method, theirs_req.url_path_qs)
    assert ours_req.headers["Content-Type"] == theirs_req.headers["Content-Type"]
    assert ours_req.body == theirs_req.body
    assert ours_req.headers["Authorization"] == theirs_req.headers["Authorization"]
    assert created.data is not None and created.data.session_id == SESSION
    assert mine.session_id == SESSION


async def test_list_request_targets_equal_what_telnyx_python_sends(
    emu: Emulator, ours: TelnyxClient
) -> None:
    async with official_sdk(emu) as sdk:
        first = await sdk.room_compositions.list(filter=SDK_FILTER, page_size=2)
        assert first.has_next_page()
        await first.get_next_page()
    page = await ours.compositions.page(**OUR_FILTERS, page_size=2)
    assert await page.next_page() is not None
    await ours.compositions.page(**OUR_FILTERS, page_size=2, page_number=2)
    sdk_first, sdk_second, ours_first, ours_next, ours_numbered = emu.requests
    assert sdk_first.url_path_qs == f"{PREFIX}?{SDK_FILTER_QUERY}&page%5Bsize%5D=2"
    assert sdk_second.url_path_qs == f"{sdk_first.url_path_qs}&page%5Bnumber%5D=2"
    assert ours_first.url_path_qs == sdk_first.url_path_qs
    # Following a page and asking for page 2 outright send the SDK's second request.
    assert ours_next.url_path_qs == sdk_second.url_path_qs
    assert ours_numbered.url_path_qs == sdk_second.url_path_qs
    for request in emu.requests:
        assert (request.method, request.body) == ("GET", b"")
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_explicit_page_number_sends_the_sdks_parameters_in_its_paging_order(
    emu: Emulator, ours: TelnyxClient
) -> None:
    async with official_sdk(emu) as sdk:
        await sdk.room_compositions.list(filter=SDK_FILTER, page_number=2, page_size=2)
    await ours.compositions.page(**OUR_FILTERS, page_size=2, page_number=2)
    theirs_req, ours_req = emu.requests
    # Called with page_number, the SDK puts it before page[size] (its keyword order); when
    # it follows a page it appends it, as we always do. The parameters are the same.
    assert theirs_req.url_path_qs == (
        f"{PREFIX}?{SDK_FILTER_QUERY}&page%5Bnumber%5D=2&page%5Bsize%5D=2"
    )
    assert (
        ours_req.url_path_qs == f"{PREFIX}?{SDK_FILTER_QUERY}&page%5Bsize%5D=2&page%5Bnumber%5D=2"
    )
    assert pairs(ours_req) == pairs(theirs_req)


async def test_list_without_filters_equals_what_telnyx_python_sends(
    emu: Emulator, ours: TelnyxClient
) -> None:
    async with official_sdk(emu) as sdk:
        await sdk.room_compositions.list()
    await ours.compositions.page()
    theirs_req, ours_req = emu.requests
    assert theirs_req.url_path_qs == PREFIX
    assert ours_req.url_path_qs == theirs_req.url_path_qs


async def test_fetch_and_delete_equal_what_telnyx_python_sends(
    emu: Emulator, ours: TelnyxClient, newest_first: list[str]
) -> None:
    target = newest_first[3]
    record = emu.store.telnyx[target]
    async with official_sdk(emu) as sdk:
        fetched = await sdk.room_compositions.retrieve(target)
        await ours.compositions.fetch(target)
        await sdk.room_compositions.delete(target)
        assert target not in emu.store.telnyx
        emu.store.telnyx[target] = record  # undelete it
        await ours.compositions.delete(target)
    sdk_get, ours_get, sdk_delete, ours_delete = emu.requests
    assert (sdk_get.method, sdk_get.url_path_qs) == ("GET", f"{PREFIX}/{target}")
    assert (sdk_delete.method, sdk_delete.url_path_qs) == ("DELETE", f"{PREFIX}/{target}")
    for theirs_req, ours_req in ((sdk_get, ours_get), (sdk_delete, ours_delete)):
        assert (ours_req.method, ours_req.url_path_qs) == (
            theirs_req.method,
            theirs_req.url_path_qs,
        )
        assert ours_req.body == theirs_req.body == b""
        assert ours_req.headers["Authorization"] == theirs_req.headers["Authorization"]
    assert fetched.data is not None and fetched.data.id == target
    assert target not in emu.store.telnyx
    assert [r.status for r in emu.requests] == [200, 200, 204, 204]


# -- our requests, byte for byte ------------------------------------------------------------


async def test_list_request_target_bytes_and_bearer(
    emu: Emulator, ours: TelnyxClient, newest_first: list[str]
) -> None:
    items = await ours.compositions.list(
        status="completed",
        session_id=LIST_SESSION,
        date_created_on=date(2024, 1, 2),
        date_created_after=date(2024, 1, 1),
        date_created_before=date(2024, 1, 31),
        page_size=2,
    )
    assert [c.id for c in items] == newest_first
    first, second, third = emu.requests
    filters = (
        f"{PREFIX}?filter%5Bdate_created_at%5D%5Beq%5D=2024-01-02"
        "&filter%5Bdate_created_at%5D%5Bgte%5D=2024-01-01"
        "&filter%5Bdate_created_at%5D%5Blte%5D=2024-01-31"
        f"&filter%5Bsession_id%5D={LIST_SESSION}&filter%5Bstatus%5D=completed&page%5Bsize%5D=2"
    )
    assert first.url_path_qs == filters
    assert second.url_path_qs == f"{filters}&page%5Bnumber%5D=2"
    assert third.url_path_qs == f"{filters}&page%5Bnumber%5D=3"
    for request in emu.requests:
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        assert request.headers["Accept"] == "application/json"


async def test_create_fetch_delete_on_the_wire(emu: Emulator, ours: TelnyxClient) -> None:
    session = "8f728d7b-00e2-4c59-8c27-f564b828df87"
    created = await ours.compositions.create(
        session_id=session,
        format="mp4",
        resolution="640x480",
        video_layout={"grid": VideoRegion(width=640, height=480, max_columns=2)},
        webhook_event_url="https://hooks.example.com/telnyx",
    )
    fetched = await ours.compositions.fetch(created.id)
    await ours.room_compositions.delete(created.id)
    with pytest.raises(NotFoundError) as info:
        await ours.compositions.fetch(created.id)
    assert fetched == created
    assert created.resolution == "640x480"
    # The emulator echoes the region with Telnyx's defaults for the positions filled in.
    assert created.video_layout == {
        "grid": VideoRegion(x_pos=0, y_pos=0, z_pos=0, width=640, height=480, max_columns=2)
    }
    post, get, delete, missing = emu.requests
    assert (post.method, post.url_path_qs) == ("POST", PREFIX)
    assert post.headers["Content-Type"] == "application/json"
    assert post.body == (
        b'{"format":"mp4","resolution":"640x480",'
        b'"session_id":"8f728d7b-00e2-4c59-8c27-f564b828df87",'
        b'"video_layout":{"grid":{"height":480,"max_columns":2,"width":640}},'
        b'"webhook_event_url":"https://hooks.example.com/telnyx"}'
    )
    assert (get.method, get.url_path_qs) == ("GET", f"{PREFIX}/{created.id}")
    assert (delete.method, delete.url_path_qs) == ("DELETE", f"{PREFIX}/{created.id}")
    assert delete.body == b""
    assert missing.method == "GET"
    assert info.value.code == "10005"
    assert info.value.request_id == missing.request_id


async def test_create_wire_format(emu: Emulator, ours: TelnyxClient) -> None:
    await ours.compositions.create(
        session_id=SESSION,
        video_layout={
            "main": {"video_sources": ["*"], "z_pos": 1, "width": 640},
            "pip": {"x_pos": 10, "video_sources": ["b2a5e6d2-0000-4000-8000-000000000001"]},
        },
        resolution="1280x720",
        format="mp4",
        webhook_event_url="https://example.com/hooks/telnyx",
        webhook_event_failover_url="https://backup.example.com/hooks",
        webhook_timeout_secs=25,
    )
    (post,) = emu.requests
    assert post.method == "POST" and post.url_path_qs == PREFIX
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Authorization"] == f"Bearer {API_KEY}"
    assert post.headers["Accept"] == "application/json"
    assert post.headers["User-Agent"].startswith("async-compositions/")
    # Dict regions keep their keys in the caller's order; the top level is sorted.
    assert post.body == (
        b'{"format":"mp4","resolution":"1280x720","session_id":"' + SESSION.encode() + b'",'
        b'"video_layout":{"main":{"video_sources":["*"],"z_pos":1,"width":640},'
        b'"pip":{"x_pos":10,"video_sources":["b2a5e6d2-0000-4000-8000-000000000001"]}},'
        b'"webhook_event_failover_url":"https://backup.example.com/hooks",'
        b'"webhook_event_url":"https://example.com/hooks/telnyx","webhook_timeout_secs":25}'
    )
