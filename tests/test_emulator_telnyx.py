"""The emulator's Telnyx Room Compositions API: auth, validation, lifecycle, paging, media."""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from async_compositions import AuthenticationError, CompositionStatus, NotFoundError
from async_compositions.emulator import Emulator

SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"
OTHER_SESSION = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=5, manual=True) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def bearer(emu: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.telnyx_api_key}"}


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        body = await response.read()
        return response.status, (json.loads(body) if body else None)


# -- through the library's own client ----------------------------------------------------


async def test_telnyx_client_create_advance_fetch_download_delete(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with emu.telnyx_client(retry=None) as client:
        created = await client.compositions.create(
            session_id=SESSION,
            resolution="800x600",
            video_layout={"first": {"video_sources": ["*"], "width": 480, "height": 360}},
            webhook_event_url=f"{emu.url}/sink",  # the emulator itself answers 404
            webhook_timeout_secs=25,
        )
        assert created.status is CompositionStatus.ENQUEUED
        assert created.download_url is None and created.completed_at is None
        await emu.advance()
        processing = await client.compositions.fetch(created.id)
        await emu.advance()
        done = await client.compositions.fetch(created.id)
        assert done.download_url is not None
        async with http.get(str(done.download_url)) as response:  # no credentials needed
            assert response.status == 200
            assert await response.read() == emu.media_bytes(created.id)
        await client.compositions.delete(created.id)
        with pytest.raises(NotFoundError) as info:
            await client.compositions.fetch(created.id)
    post = emu.requests[0]
    assert post.method == "POST" and post.path == "/v2/room_compositions"
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Authorization"] == f"Bearer {emu.telnyx_api_key}"
    assert json.loads(post.body) == {
        "session_id": SESSION,
        "resolution": "800x600",
        "video_layout": {"first": {"video_sources": ["*"], "width": 480, "height": 360}},
        "webhook_event_url": f"{emu.url}/sink",
        "webhook_timeout_secs": 25,
    }
    assert processing.status is CompositionStatus.PROCESSING and processing.started_at
    assert done.status is CompositionStatus.COMPLETED
    assert done.size_mb == 0.065536 and done.duration_secs and done.completed_at
    assert done.resolution == "800x600" and done.session_id == SESSION
    assert done.video_layout is not None and set(done.video_layout) == {"first"}
    assert info.value.status == 404 and info.value.code == "10005"
    assert info.value.errors and info.value.errors[0]["title"] == "Resource not found"


async def test_stream_reads_exactly_total_pages(emu: Emulator) -> None:
    ids = emu.seed_telnyx(7)
    async with emu.telnyx_client() as client:
        seen = [c.id async for c in client.compositions.stream(page_size=3, prefetch=2)]
    assert seen == list(reversed(ids))  # newest first
    queries = [urllib.parse.parse_qs(r.query_string) for r in emu.requests]
    assert all(q["page[size]"] == ["3"] for q in queries)
    assert sorted(q.get("page[number]", ["1"])[0] for q in queries) == ["1", "2", "3"]


async def test_wrong_key_raises_authentication_error(emu: Emulator) -> None:
    async with emu.telnyx_client(api_key="KEY_wrong", retry=None) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.compositions.list()
    assert info.value.code == "10009"
    assert re.fullmatch(UUID_RE, info.value.request_id or "")


# -- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer nope", "Basic abc", "token {key}", "Bearer {key}x"]
)
async def test_auth_is_rejected(
    emu: Emulator, http: aiohttp.ClientSession, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header.format(key=emu.telnyx_api_key)}
    for method, path in [("GET", ""), ("POST", ""), ("GET", f"/{SESSION}")]:
        status, body = await call(
            http, method, f"{emu.telnyx_base_url}/room_compositions{path}", headers=headers
        )
        assert status == 401
        assert body["errors"][0]["code"] == "10009"
        assert body["errors"][0]["title"] == "Authentication failed"


# -- validation --------------------------------------------------------------------------


def region(**values: Any) -> dict[str, Any]:
    return {"video_layout": {"a": {"video_sources": ["*"], **values}}}


@pytest.mark.parametrize(
    ("extra", "pointer", "code"),
    [
        ({"session_id": None}, "/session_id", "10004"),
        ({"session_id": "room-1"}, "/session_id", "10015"),
        ({"format": "webm"}, "/format", "10015"),
        ({"resolution": "1281x720"}, "/resolution", "10015"),
        ({"resolution": "1280x721"}, "/resolution", "10015"),  # over 1280 * 720 pixels
        ({"resolution": "16x15"}, "/resolution", "10015"),
        ({"resolution": 1280}, "/resolution", "10015"),
        ({"video_layout": []}, "/video_layout", "10015"),
        ({"video_layout": {"a": {}, "b": {}, "c": {}}}, "/video_layout", "10015"),
        (region(z_pos=100), "/video_layout/a/z_pos", "10015"),
        (region(z_pos=-100), "/video_layout/a/z_pos", "10015"),
        (region(width=15), "/video_layout/a/width", "10015"),
        (region(height=True), "/video_layout/a/height", "10015"),
        (region(max_rows=0), "/video_layout/a/max_rows", "10015"),
        (region(max_columns=1001), "/video_layout/a/max_columns", "10015"),
        (region(x_pos=-1), "/video_layout/a/x_pos", "10015"),
        (region(video_sources="*"), "/video_layout/a/video_sources", "10015"),
        ({"video_layout": {"a": 5}}, "/video_layout/a", "10015"),
        ({"webhook_event_url": "example.com/hook"}, "/webhook_event_url", "10003"),
        ({"webhook_event_failover_url": "nope"}, "/webhook_event_failover_url", "10003"),
        ({"webhook_timeout_secs": 31}, "/webhook_timeout_secs", "10015"),
        ({"webhook_timeout_secs": -1}, "/webhook_timeout_secs", "10015"),
        ({"webhook_timeout_secs": "5"}, "/webhook_timeout_secs", "10015"),
    ],
)
async def test_create_validation_errors(
    emu: Emulator, http: aiohttp.ClientSession, extra: dict[str, Any], pointer: str, code: str
) -> None:
    body = {"session_id": SESSION, **extra}
    status, error = await call(
        http, "POST", f"{emu.telnyx_base_url}/room_compositions", json=body, headers=bearer(emu)
    )
    assert status == 422
    (first,) = error["errors"]
    assert first["code"] == code and first["source"] == {"pointer": pointer}
    assert first["title"] and first["detail"]
    assert not emu.store.telnyx


def resolve_pointer(document: Any, pointer: str) -> Any:
    """The value an RFC 6901 JSON Pointer designates in ``document``."""
    assert pointer.startswith("/")
    for token in pointer[1:].split("/"):
        assert re.fullmatch(r"(?:[^~]|~[01])*", token), f"bad escape in {pointer!r}"
        document = document[token.replace("~1", "/").replace("~0", "~")]
    return document


@pytest.mark.parametrize(
    ("name", "escaped"),
    [("a/b~c", "a~1b~0c"), ("/", "~1"), ("~", "~0"), ("~1", "~01"), ("x//y", "x~1~1y")],
)
async def test_pointers_into_region_names_are_escaped_per_rfc_6901(
    emu: Emulator, http: aiohttp.ClientSession, name: str, escaped: str
) -> None:
    body = {
        "session_id": SESSION,
        "video_layout": {name: {"video_sources": "*", "z_pos": 100}, "ok": 5},
    }
    raw = json.dumps(body).encode()
    async with http.post(
        f"{emu.telnyx_base_url}/room_compositions",
        data=raw,
        headers={**bearer(emu), "Content-Type": "application/json"},
    ) as response:
        assert response.status == 422
        error = json.loads(await response.read())
    pointers = [e["source"]["pointer"] for e in error["errors"]]
    assert pointers == [
        f"/video_layout/{escaped}/z_pos",
        f"/video_layout/{escaped}/video_sources",
        "/video_layout/ok",
    ]
    # Each pointer designates the offending value in the very body that was sent.
    sent = json.loads(emu.requests[-1].body)
    assert [resolve_pointer(sent, p) for p in pointers] == [100, "*", 5]


async def test_create_reports_every_invalid_field(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    body = {"format": "avi", "resolution": "0x0", "webhook_timeout_secs": 99}
    status, error = await call(
        http, "POST", f"{emu.telnyx_base_url}/room_compositions", json=body, headers=bearer(emu)
    )
    assert status == 422
    pointers = [e["source"]["pointer"] for e in error["errors"]]
    assert pointers == ["/session_id", "/format", "/resolution", "/webhook_timeout_secs"]


@pytest.mark.parametrize("resolution", ["1280x720", "720x1280", "16x16", "960x960"])
async def test_create_accepts_resolution_limits(
    emu: Emulator, http: aiohttp.ClientSession, resolution: str
) -> None:
    body = {"session_id": SESSION, "resolution": resolution}
    status, created = await call(
        http, "POST", f"{emu.telnyx_base_url}/room_compositions", json=body, headers=bearer(emu)
    )
    assert status == 202 and created["data"]["resolution"] == resolution


async def test_create_defaults_and_nulls(emu: Emulator, http: aiohttp.ClientSession) -> None:
    body = {"session_id": SESSION.upper(), "format": None, "webhook_timeout_secs": None}
    status, created = await call(
        http, "POST", f"{emu.telnyx_base_url}/room_compositions", json=body, headers=bearer(emu)
    )
    data = created["data"]
    assert status == 202
    assert data["format"] == "mp4" and data["resolution"] == "1280x720"
    assert data["session_id"] == SESSION and data["record_type"] == "composition"
    assert data["webhook_event_failover_url"] == "" and data["webhook_timeout_secs"] is None
    assert re.fullmatch(UUID_RE, data["id"]) and re.fullmatch(r"[0-9a-f-]{36}", data["room_id"])
    assert data["created_at"].endswith("Z") and data["created_at"] == data["updated_at"]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"{not json", "application/json"), (b"[1, 2]", "application/json")],
)
async def test_malformed_body_is_400(
    emu: Emulator, http: aiohttp.ClientSession, raw: bytes, content_type: str
) -> None:
    status, error = await call(
        http,
        "POST",
        f"{emu.telnyx_base_url}/room_compositions",
        data=raw,
        headers={**bearer(emu), "Content-Type": content_type},
    )
    assert status == 400 and error["errors"][0]["code"] == "10015"


@pytest.mark.parametrize(
    "query",
    [
        "page[size]=0",
        "page[size]=251",
        "page[size]=ten",
        "page[number]=0",
        "page[number]=00",
        "page[number]=-1",
        "page[number]=1.5",
        "page[number]=1e3",
        "page[number]=%2B1",  # "+1"
        "page[number]=%201",  # " 1"
        "page[number]=",
        "page[number]=%D9%A3",  # ARABIC-INDIC DIGIT THREE: a digit, but not an ASCII one
        # Beyond what int() converts: refused, not a 500.
        pytest.param("page[number]=" + "9" * 5000, id="page[number]=<5000 digits>"),
        "page[size]=99999999999",
        "filter[status]=failed",
        "filter[status]=deleted",
        "filter[session_id]=abc",
        "filter[date_created_at][eq]=2024-13-01",
        "filter[date_created_at][gte]=20240101",
        "filter[date_created_at][lte]=2024-01-01T00:00:00Z",
    ],
)
async def test_list_validation_errors(
    emu: Emulator, http: aiohttp.ClientSession, query: str
) -> None:
    status, error = await call(
        http, "GET", f"{emu.telnyx_base_url}/room_compositions?{query}", headers=bearer(emu)
    )
    assert status == 400
    (first,) = error["errors"]
    assert first["code"] == "10015"
    assert first["source"] == {"parameter": query.split("=")[0]}


async def test_malformed_and_unknown_ids(emu: Emulator, http: aiohttp.ClientSession) -> None:
    base = f"{emu.telnyx_base_url}/room_compositions"
    for method in ("GET", "DELETE"):
        status, error = await call(http, method, f"{base}/not-a-uuid", headers=bearer(emu))
        assert status == 400 and error["errors"][0]["code"] == "10006"
        status, error = await call(http, method, f"{base}/{uuid.uuid4()}", headers=bearer(emu))
        assert status == 404 and error["errors"][0]["code"] == "10005"


# -- lifecycle ---------------------------------------------------------------------------


async def test_marked_session_fails(emu: Emulator) -> None:
    emu.mark_failing(OTHER_SESSION.upper())
    async with emu.telnyx_client() as client:
        ok = await client.compositions.create(session_id=SESSION)
        doomed = await client.compositions.create(session_id=OTHER_SESSION)
        assert await emu.finish() == 4
        completed = await client.compositions.fetch(ok.id)
        failed = await client.compositions.fetch(doomed.id)
    assert completed.status is CompositionStatus.COMPLETED
    assert failed.status == "failed" and failed.status is CompositionStatus.FAILED
    assert failed.completed_at is None and failed.ended_at is not None
    assert failed.download_url is None and failed.size_mb is None


async def test_delete_removes_from_listing_and_stops_the_lifecycle(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    keep, gone = emu.seed_telnyx(2, status="processing")
    async with emu.telnyx_client() as client:
        await client.compositions.delete(gone)
        assert [c.id for c in await client.compositions.list()] == [keep]
    assert await emu.advance() == 1
    status, _ = await call(
        http, "DELETE", f"{emu.telnyx_base_url}/room_compositions/{gone}", headers=bearer(emu)
    )
    assert status == 404


# -- listing -----------------------------------------------------------------------------


async def test_page_meta_counts_pages_and_results(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.seed_telnyx(45)

    async def meta(query: str) -> tuple[int, dict[str, int]]:
        status, body = await call(
            http, "GET", f"{emu.telnyx_base_url}/room_compositions?{query}", headers=bearer(emu)
        )
        assert status == 200
        return len(body["data"]), body["meta"]

    assert await meta("") == (
        20,
        {"page_number": 1, "page_size": 20, "total_pages": 3, "total_results": 45},
    )
    assert await meta("page[number]=3") == (
        5,
        {"page_number": 3, "page_size": 20, "total_pages": 3, "total_results": 45},
    )
    assert await meta("page[number]=4&page[size]=250") == (
        0,
        {"page_number": 4, "page_size": 250, "total_pages": 1, "total_results": 45},
    )
    # Percent-encoded brackets (what most HTTP clients send) mean the same.
    assert await meta("page%5Bsize%5D=45") == (
        45,
        {"page_number": 1, "page_size": 45, "total_pages": 1, "total_results": 45},
    )
    assert await meta("filter[status]=enqueued") == (
        0,
        {"page_number": 1, "page_size": 20, "total_pages": 0, "total_results": 0},
    )


@pytest.mark.parametrize(
    "number",
    [
        "4",
        "1000000000",
        "9223372036854775808",
        "1" + "0" * 40,
        pytest.param("9" * 4000, id="<4000 digits>"),
    ],
)
async def test_a_page_past_the_end_is_empty_however_large_its_number(
    emu: Emulator, http: aiohttp.ClientSession, number: str
) -> None:
    emu.seed_telnyx(45)
    url = f"{emu.telnyx_base_url}/room_compositions?page[number]={number}"
    async with http.get(url, headers=bearer(emu)) as response:
        assert response.status == 200
        raw = await response.read()
    # The number comes back as the JSON integer that was asked for, digit for digit.
    assert raw.endswith(
        b',"meta":{"page_number":' + number.encode() + b',"page_size":20,'
        b'"total_pages":3,"total_results":45}}'
    )
    assert json.loads(raw)["data"] == []


async def test_leading_zeros_in_a_page_number_are_ignored(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.seed_telnyx(25)
    url = f"{emu.telnyx_base_url}/room_compositions?page[number]=0002"
    status, body = await call(http, "GET", url, headers=bearer(emu))
    assert status == 200 and len(body["data"]) == 5 and body["meta"]["page_number"] == 2


async def test_filters_status_session_and_dates(emu: Emulator) -> None:
    start = datetime(2024, 3, 1, 12, tzinfo=UTC)
    daily = emu.seed_telnyx(4, session_id=SESSION, start=start, interval=timedelta(days=1))
    other = emu.seed_telnyx(1, session_id=OTHER_SESSION, start=start, status="processing")
    async with emu.telnyx_client() as client:

        async def ids(**filters: Any) -> list[str]:
            return sorted(c.id for c in await client.compositions.list(**filters))

        assert await ids(session_id=SESSION) == sorted(daily)
        assert await ids(status="processing") == other
        assert await ids(date_created_on=date(2024, 3, 2)) == [daily[1]]
        assert await ids(date_created_after=date(2024, 3, 2), session_id=SESSION) == sorted(
            daily[1:]
        )
        # "before" is the API's lte: the day itself is included.
        assert await ids(date_created_before=date(2024, 3, 2)) == sorted([*daily[:2], *other])
    queries = [r.query_string for r in emu.requests]
    assert any("filter%5Bdate_created_at%5D%5Beq%5D=2024-03-02" in q for q in queries)


async def test_every_response_has_a_request_id(emu: Emulator, http: aiohttp.ClientSession) -> None:
    (id,) = emu.seed_telnyx(1)
    seen = set()
    for method, path, headers in [
        ("GET", "", bearer(emu)),
        ("GET", f"/{id}", bearer(emu)),
        ("GET", "", {}),
        ("POST", "", bearer(emu)),
        ("DELETE", f"/{id}", bearer(emu)),
        ("PUT", "", bearer(emu)),
    ]:
        async with http.request(
            method, f"{emu.telnyx_base_url}/room_compositions{path}", headers=headers
        ) as response:
            request_id = response.headers["x-request-id"]
            assert re.fullmatch(UUID_RE, request_id)
            seen.add(request_id)
    assert len(seen) == 6 and seen == {r.request_id for r in emu.requests}
