"""TelnyxClient through aioresponses: headers, bodies, retries, errors, input checks."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from async_compositions import (
    AuthenticationError,
    BadRequestError,
    CompositionStatus,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TelnyxClient,
    UnprocessableEntityError,
)
from async_compositions.telnyx import RoomComposition, RoomCompositions, VideoRegion

KEY = "KEY0123456789abcdefSECRET"
BASE = "https://api.telnyx.com/v2"
LIST_URL = f"{BASE}/room_compositions"
ID = "7103dc53-ee59-4b54-a58b-c77d99ceb037"
SESSION = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
ITEM_URL = f"{LIST_URL}/{ID}"
RECORD = {"id": ID, "status": "enqueued", "session_id": SESSION, "record_type": "composition"}
# Any request to the list endpoint, whatever its query.
ANY_LIST = re.compile(r"^https://api\.telnyx\.com/v2/room_compositions(\?.*)?$")
NO_WAIT = RetryPolicy(jitter=lambda _: 0.0)


@pytest.fixture
async def client() -> AsyncIterator[TelnyxClient]:
    async with TelnyxClient(KEY, retry=NO_WAIT) as c:
        yield c


@pytest.fixture
def mocked() -> Any:
    with aioresponses() as m:
        yield m


def calls(m: Any, method: str, url: str) -> list[Any]:
    return list(m.requests.get((method, URL(url)), []))


def total_calls(m: Any) -> int:
    return sum(len(v) for v in m.requests.values())


# -- construction ---------------------------------------------------------------------------


async def test_defaults_and_alias() -> None:
    async with TelnyxClient(KEY) as client:
        assert str(client.base_url) == BASE
        assert client.room_compositions is client.compositions
        assert isinstance(client.compositions, RoomCompositions)


async def test_key_and_base_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, mocked: Any
) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", "ENVKEY123")
    monkeypatch.setenv("TELNYX_BASE_URL", "https://telnyx.test/v2/")
    mocked.get(f"https://telnyx.test/v2/room_compositions/{ID}", payload={"data": RECORD})
    async with TelnyxClient() as client:
        assert str(client.base_url) == "https://telnyx.test/v2"
        await client.compositions.fetch(ID)
    (call,) = calls(mocked, "GET", f"https://telnyx.test/v2/room_compositions/{ID}")
    assert call.kwargs["headers"]["Authorization"] == "Bearer ENVKEY123"


def test_missing_key_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELNYX_API_KEY", raising=False)
    with pytest.raises(ValueError, match="TELNYX_API_KEY"):
        TelnyxClient()


@pytest.mark.parametrize("bad", ["", "two words", "line\nbreak", "tab\there"])
def test_malformed_key_rejected_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        TelnyxClient(bad)
    if bad:
        assert bad not in str(info.value)


def test_key_must_be_a_string() -> None:
    with pytest.raises(TypeError):
        TelnyxClient(b"bytes-key")  # type: ignore[arg-type]


def test_base_url_must_be_absolute() -> None:
    with pytest.raises(ValueError):
        TelnyxClient(KEY, base_url="api.telnyx.com/v2")


async def test_key_not_in_repr() -> None:
    client = TelnyxClient(KEY)
    assert KEY not in repr(client)
    assert KEY not in repr(client.compositions)
    assert repr(client) == "<TelnyxClient base_url='https://api.telnyx.com/v2' open>"
    await client.aclose()
    assert repr(client).endswith("closed>")


# -- verbs ----------------------------------------------------------------------------------


async def test_fetch_sends_bearer_and_decodes(client: TelnyxClient, mocked: Any) -> None:
    mocked.get(ITEM_URL, payload={"data": RECORD})
    comp = await client.compositions.fetch(ID)
    assert isinstance(comp, RoomComposition)
    assert (comp.id, comp.status, comp.session_id) == (ID, CompositionStatus.ENQUEUED, SESSION)
    (call,) = calls(mocked, "GET", ITEM_URL)
    headers = call.kwargs["headers"]
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["Accept"] == "application/json"
    assert call.kwargs["data"] is None


async def test_create_sends_json_and_accepts_202(client: TelnyxClient, mocked: Any) -> None:
    mocked.post(LIST_URL, status=202, payload={"data": RECORD})
    comp = await client.room_compositions.create(
        session_id=SESSION,
        resolution="800x600",
        video_layout={"first": VideoRegion(width=800, height=600, video_sources=["*"])},
        webhook_timeout_secs=0,
    )
    assert comp.id == ID
    (call,) = calls(mocked, "POST", LIST_URL)
    assert call.kwargs["headers"]["Content-Type"] == "application/json"
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {KEY}"
    assert call.kwargs["data"] == (
        b'{"resolution":"800x600","session_id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777b0",'
        b'"video_layout":{"first":{"height":600,"video_sources":["*"],"width":800}},'
        b'"webhook_timeout_secs":0}'
    )


async def test_create_accepts_another_success_status(client: TelnyxClient, mocked: Any) -> None:
    # 202 is documented; a 201 must not become an error a caller would answer by creating again.
    mocked.post(LIST_URL, status=201, payload={"data": RECORD})
    comp = await client.compositions.create(session_id=SESSION)
    assert comp.id == ID
    assert len(calls(mocked, "POST", LIST_URL)) == 1


async def test_delete_returns_none_on_204(client: TelnyxClient, mocked: Any) -> None:
    mocked.delete(ITEM_URL, status=204)
    await client.compositions.delete(ID)
    (call,) = calls(mocked, "DELETE", ITEM_URL)
    assert call.kwargs["headers"]["Authorization"] == f"Bearer {KEY}"


async def test_page_by_number_sends_both_page_keys(client: TelnyxClient, mocked: Any) -> None:
    body = {
        "data": [RECORD],
        "meta": {"page_number": 3, "page_size": 5, "total_pages": 4, "total_results": 17},
    }
    mocked.get(ANY_LIST, payload=body)
    page = await client.compositions.page(
        status="completed", date_created_after=date(2024, 5, 1), page_size=5, page_number=3
    )
    assert page.page_number == 3
    assert page.next_page_number == 4
    assert [c.id for c in page.items] == [ID]
    # aioresponses re-sorts the query it logs; the exact bytes are checked against the
    # real server in test_telnyx_stream.py.
    ((_, url),) = mocked.requests.keys()
    assert dict(url.query) == {
        "filter[date_created_at][gte]": "2024-05-01",
        "filter[status]": "completed",
        "page[size]": "5",
        "page[number]": "3",
    }


async def test_page_next_page_fetches_the_following_number(
    client: TelnyxClient, mocked: Any
) -> None:
    meta = {"page_size": 1, "total_pages": 2, "total_results": 2}
    mocked.get(ANY_LIST, payload={"data": [RECORD], "meta": {"page_number": 1, **meta}})
    other = {**RECORD, "id": SESSION}
    mocked.get(ANY_LIST, payload={"data": [other], "meta": {"page_number": 2, **meta}})
    first = await client.compositions.page(page_size=1)
    second = await first.next_page()
    assert second is not None
    assert [c.id for c in second.items] == [SESSION]
    assert await second.next_page() is None
    assert [dict(u.query) for _, u in mocked.requests] == [
        {"page[size]": "1"},
        {"page[size]": "1", "page[number]": "2"},
    ]


# -- retries --------------------------------------------------------------------------------


async def test_get_retries_5xx_until_success(client: TelnyxClient, mocked: Any) -> None:
    mocked.get(ITEM_URL, status=500, body="oops")
    mocked.get(ITEM_URL, status=500, body="oops")
    mocked.get(ITEM_URL, payload={"data": RECORD})
    comp = await client.compositions.fetch(ID)
    assert comp.id == ID
    assert len(calls(mocked, "GET", ITEM_URL)) == 3


async def test_delete_retries_503(client: TelnyxClient, mocked: Any) -> None:
    mocked.delete(ITEM_URL, status=503)
    mocked.delete(ITEM_URL, status=204)
    await client.compositions.delete(ID)
    assert len(calls(mocked, "DELETE", ITEM_URL)) == 2


async def test_rate_limit_past_the_cap_is_raised_with_retry_after(mocked: Any) -> None:
    mocked.get(ITEM_URL, status=429, body="", headers={"Retry-After": "3600"})
    async with TelnyxClient(KEY, retry=RetryPolicy(max_retry_after=5)) as client:
        with pytest.raises(RateLimitError) as info:
            await client.compositions.fetch(ID)
    assert info.value.retry_after == 3600
    assert len(calls(mocked, "GET", ITEM_URL)) == 1


# -- errors ---------------------------------------------------------------------------------


async def test_unprocessable_create(client: TelnyxClient, mocked: Any) -> None:
    body = {
        "errors": [
            {
                "code": "10015",
                "title": "Bad Request",
                "detail": "Invalid session.",
                "source": {"pointer": "/session_id"},
            }
        ]
    }
    mocked.post(LIST_URL, status=422, payload=body, headers={"x-request-id": "req-42"})
    with pytest.raises(UnprocessableEntityError) as info:
        await client.compositions.create(session_id=SESSION)
    error = info.value
    assert (error.status, error.code, error.request_id) == (422, "10015", "req-42")
    assert error.errors == body["errors"]
    assert error.body == json.dumps(body)
    assert "Invalid session. (pointer /session_id)" in str(error)


async def test_not_found_bare_error_object(client: TelnyxClient, mocked: Any) -> None:
    body = {"code": "10005", "title": "Resource not found", "detail": "No such composition."}
    mocked.get(ITEM_URL, status=404, payload=body, headers={"X-Request-Id": "r-404"})
    with pytest.raises(NotFoundError) as info:
        await client.compositions.fetch(ID)
    assert info.value.errors == [body]
    assert info.value.code == "10005"
    assert info.value.request_id == "r-404"


async def test_generic_success_message_error(client: TelnyxClient, mocked: Any) -> None:
    mocked.get(ANY_LIST, status=400, payload={"success": False, "message": "Error"})
    with pytest.raises(BadRequestError) as info:
        await client.compositions.list()
    assert info.value.message == "Error"
    assert info.value.errors == []


async def test_non_json_error_maps_by_status(mocked: Any) -> None:
    mocked.get(ITEM_URL, status=502, body="<html>Bad Gateway</html>")
    async with TelnyxClient(KEY, retry=None) as client:
        with pytest.raises(ServerError) as info:
            await client.compositions.fetch(ID)
    assert info.value.status == 502
    assert info.value.body == "<html>Bad Gateway</html>"


async def test_key_never_in_errors_or_logs(
    client: TelnyxClient, mocked: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_compositions")
    mocked.get(ITEM_URL, status=503, body="busy")
    unauthorized = {"errors": [{"code": "10009", "title": "Authentication failed"}]}
    mocked.get(ITEM_URL, status=401, payload=unauthorized)
    with pytest.raises(AuthenticationError) as info:
        await client.compositions.fetch(ID)
    assert "retrying GET" in caplog.text
    for text in (str(info.value), repr(info.value), caplog.text, info.value.body):
        assert KEY not in text


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.compositions.fetch("../etc/passwd"),
        lambda c: c.compositions.fetch(f"{ID}/x"),
        lambda c: c.compositions.fetch(f"{ID} "),
        lambda c: c.compositions.delete(".."),
        lambda c: c.compositions.create(session_id="nope"),
        lambda c: c.compositions.create(resolution="1280x1280"),
        lambda c: c.compositions.create(webhook_timeout_secs=60),
        lambda c: c.compositions.create(webhook_event_url="no-scheme.example.com"),
        lambda c: c.compositions.create(video_layout={"a": {"z_pos": 200}}),
        lambda c: c.compositions.page(page_size=251),
        lambda c: c.compositions.page(page_number=0),
        lambda c: c.compositions.page(status="deleted"),
        lambda c: c.compositions.list(session_id="x"),
        lambda c: c.compositions.list(limit=-1),
        lambda c: c.compositions.list(date_created_on="01/02/2024"),
    ],
)
async def test_bad_input_sends_nothing(client: TelnyxClient, mocked: Any, call: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        await call(client)
    assert total_calls(mocked) == 0


@pytest.mark.parametrize("kwargs", [{"prefetch": 0}, {"prefetch": 9}, {"page_size": 0}])
async def test_bad_stream_arguments_raise_before_any_request(
    client: TelnyxClient, mocked: Any, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        client.compositions.stream(**kwargs)
    assert total_calls(mocked) == 0
