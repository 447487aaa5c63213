"""What TelnyxClient puts on the wire, compared byte for byte with the real telnyx-python SDK.

Both clients talk to the same TelnyxServer on 127.0.0.1, which records each request target
(path and still-encoded query) and body exactly as they arrived. The expected bytes are the
ones tests/test_telnyx_dialect.py hard-codes as "what telnyx-python sends"; here the SDK
itself has to produce them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import pytest
import telnyx
from multidict import MultiDict
from telnyx.types import room_composition_list_params
from telnyx_server import API_KEY, PREFIX, LoggedRequest, TelnyxServer, make_record, record_id

from async_compositions import TelnyxClient

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
async def server() -> AsyncIterator[TelnyxServer]:
    # Five matching records: with page[size]=2 there are three pages, so the SDK pages on.
    async with TelnyxServer([make_record(n, session_id=LIST_SESSION) for n in range(5)]) as srv:
        yield srv


@pytest.fixture
async def ours(server: TelnyxServer) -> AsyncIterator[TelnyxClient]:
    async with TelnyxClient(API_KEY, base_url=server.base_url, retry=None) as client:
        yield client


@asynccontextmanager
async def official_sdk(server: TelnyxServer) -> AsyncIterator[telnyx.AsyncTelnyx]:
    """telnyx-python's async client pointed at the test server, with no retries.

    Its own default httpx client, except that proxy settings from the environment are
    ignored, so nothing can route these loopback requests elsewhere.
    """
    http = telnyx.DefaultAsyncHttpxClient(trust_env=False)
    async with telnyx.AsyncTelnyx(
        api_key=API_KEY, base_url=server.base_url, max_retries=0, http_client=http
    ) as sdk:
        yield sdk


def pairs(request: LoggedRequest) -> list[tuple[str, str]]:
    return sorted(MultiDict(request.query).items())


async def test_create_request_equals_what_telnyx_python_sends(
    server: TelnyxServer, ours: TelnyxClient
) -> None:
    async with official_sdk(server) as sdk:
        created = await sdk.room_compositions.create(**CREATE_KWARGS)
    mine = await ours.compositions.create(**CREATE_KWARGS)
    theirs_req, ours_req = server.requests
    assert (theirs_req.method, theirs_req.raw_target) == ("POST", PREFIX)
    assert theirs_req.headers["Content-Type"] == "application/json"
    assert theirs_req.body == SDK_CREATE_BODY
    assert (ours_req.method, ours_req.raw_target) == (theirs_req.method, theirs_req.raw_target)
    assert ours_req.headers["Content-Type"] == theirs_req.headers["Content-Type"]
    assert ours_req.body == theirs_req.body
    assert ours_req.headers["Authorization"] == theirs_req.headers["Authorization"]
    assert created.data is not None and created.data.session_id == SESSION
    assert mine.session_id == SESSION


async def test_list_request_targets_equal_what_telnyx_python_sends(
    server: TelnyxServer, ours: TelnyxClient
) -> None:
    async with official_sdk(server) as sdk:
        first = await sdk.room_compositions.list(filter=SDK_FILTER, page_size=2)
        assert first.has_next_page()
        await first.get_next_page()
    page = await ours.compositions.page(**OUR_FILTERS, page_size=2)
    assert await page.next_page() is not None
    await ours.compositions.page(**OUR_FILTERS, page_size=2, page_number=2)
    sdk_first, sdk_second, ours_first, ours_next, ours_numbered = server.requests
    assert sdk_first.raw_target == f"{PREFIX}?{SDK_FILTER_QUERY}&page%5Bsize%5D=2"
    assert sdk_second.raw_target == f"{sdk_first.raw_target}&page%5Bnumber%5D=2"
    assert ours_first.raw_target == sdk_first.raw_target
    # Following a page and asking for page 2 outright send the SDK's second request.
    assert ours_next.raw_target == sdk_second.raw_target
    assert ours_numbered.raw_target == sdk_second.raw_target
    for request in server.requests:
        assert (request.method, request.body) == ("GET", b"")
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"


async def test_explicit_page_number_sends_the_sdks_parameters_in_its_paging_order(
    server: TelnyxServer, ours: TelnyxClient
) -> None:
    async with official_sdk(server) as sdk:
        await sdk.room_compositions.list(filter=SDK_FILTER, page_number=2, page_size=2)
    await ours.compositions.page(**OUR_FILTERS, page_size=2, page_number=2)
    theirs_req, ours_req = server.requests
    # Called with page_number, the SDK puts it before page[size] (its keyword order); when
    # it follows a page it appends it, as we always do. The parameters are the same.
    assert theirs_req.raw_target == (
        f"{PREFIX}?{SDK_FILTER_QUERY}&page%5Bnumber%5D=2&page%5Bsize%5D=2"
    )
    assert ours_req.raw_target == f"{PREFIX}?{SDK_FILTER_QUERY}&page%5Bsize%5D=2&page%5Bnumber%5D=2"
    assert pairs(ours_req) == pairs(theirs_req)


async def test_list_without_filters_equals_what_telnyx_python_sends(
    server: TelnyxServer, ours: TelnyxClient
) -> None:
    async with official_sdk(server) as sdk:
        await sdk.room_compositions.list()
    await ours.compositions.page()
    theirs_req, ours_req = server.requests
    assert theirs_req.raw_target == PREFIX
    assert ours_req.raw_target == theirs_req.raw_target


async def test_fetch_and_delete_equal_what_telnyx_python_sends(
    server: TelnyxServer, ours: TelnyxClient
) -> None:
    target = record_id(3)
    async with official_sdk(server) as sdk:
        fetched = await sdk.room_compositions.retrieve(target)
        await ours.compositions.fetch(target)
        await sdk.room_compositions.delete(target)
        server.records.append(make_record(3, session_id=LIST_SESSION))  # undelete it
        await ours.compositions.delete(target)
    sdk_get, ours_get, sdk_delete, ours_delete = server.requests
    assert (sdk_get.method, sdk_get.raw_target) == ("GET", f"{PREFIX}/{target}")
    assert (sdk_delete.method, sdk_delete.raw_target) == ("DELETE", f"{PREFIX}/{target}")
    for theirs_req, ours_req in ((sdk_get, ours_get), (sdk_delete, ours_delete)):
        assert (ours_req.method, ours_req.raw_target) == (theirs_req.method, theirs_req.raw_target)
        assert ours_req.body == theirs_req.body == b""
        assert ours_req.headers["Authorization"] == theirs_req.headers["Authorization"]
    assert fetched.data is not None and fetched.data.id == target
    assert target not in {r["id"] for r in server.records}
