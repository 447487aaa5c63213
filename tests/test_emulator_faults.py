"""Fault injection, per-request latency and the request log."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from async_compositions import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
)
from async_compositions.emulator import Emulator, Fault

ROOM = "RM" + "a" * 32
SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=3) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def twilio_auth(emu: Emulator) -> dict[str, str]:
    return {
        "Authorization": aiohttp.encode_basic_auth(emu.twilio_account_sid, emu.twilio_auth_token)
    }


def telnyx_auth(emu: Emulator) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.telnyx_api_key}"}


async def test_status_fault_answers_in_each_providers_shape(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    fault = emu.inject("status", status=503, method="get", path="/v1/Compositions")
    twilio_list = f"{emu.twilio_base_url}/Compositions"
    async with http.get(twilio_list, headers=twilio_auth(emu)) as response:
        assert response.status == 503
        assert response.headers["Twilio-Request-Id"].startswith("RQ")
        assert await response.json() == {
            "code": 20503,
            "message": "Service Unavailable",
            "more_info": "https://www.twilio.com/docs/errors/20503",
            "status": 503,
        }
    async with http.get(twilio_list, headers=twilio_auth(emu)) as response:
        assert response.status == 200  # the fault was used up
    assert fault.hits == 1 and fault.remaining == 0 and not emu.faults.items
    emu.inject("status", path="/v2/*")  # 500 by default
    async with http.get(
        f"{emu.telnyx_base_url}/room_compositions", headers=telnyx_auth(emu)
    ) as response:
        assert response.status == 500 and response.headers["x-request-id"]
        body = await response.json()
    assert body["errors"][0]["code"] == "10007"
    assert body["errors"][0]["title"] == "Unexpected error"
    assert [r.fault for r in emu.requests] == ["status", None, "status"]


async def test_fault_matches_method_and_path_only(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.inject("status", status=502, times=2, method="POST", path="/v2/room_compositions")
    url = f"{emu.telnyx_base_url}/room_compositions"
    statuses = []
    for method in ("GET", "POST", "GET", "POST", "POST"):
        async with http.request(
            method, url, headers=telnyx_auth(emu), json={"session_id": SESSION}
        ) as response:
            statuses.append(response.status)
    assert statuses == [200, 502, 200, 502, 202]
    assert len(emu.store.telnyx) == 1  # an unprocessed fault never reaches the handler


async def test_processed_fault_takes_effect_and_the_client_does_not_resend_a_create(
    emu: Emulator,
) -> None:
    emu.inject("status", status=502, method="POST", processed=True)
    async with emu.twilio_client(retry=RetryPolicy(max_attempts=3)) as client:
        with pytest.raises(ServerError) as info:
            await client.compositions.create(room_sid=ROOM, audio_sources=["*"])
    assert info.value.status == 502 and info.value.code == 20500
    assert len(emu.store.twilio) == 1  # created on the server, answer lost
    assert [r.method for r in emu.requests] == ["POST"]


async def test_rate_limit_carries_retry_after(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.inject("rate_limit", retry_after=2, path="/v1/*")
    emu.inject("rate_limit", retry_after=0.5, path="/v2/*")
    async with http.get(
        f"{emu.twilio_base_url}/Compositions", headers=twilio_auth(emu)
    ) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "2"
        assert (await response.json())["code"] == 20429
    async with http.get(
        f"{emu.telnyx_base_url}/room_compositions", headers=telnyx_auth(emu)
    ) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "0.5"
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert response.headers["x-ratelimit-reset"] == "0.5"
        error = (await response.json())["errors"][0]
    assert error == {
        "code": "10011",
        "title": "Too many requests",
        "detail": "You have exceeded the maximum number of allowed requests.",
        "meta": {"url": "https://developers.telnyx.com/docs/overview/errors/10011"},
    }


async def test_client_waits_out_a_rate_limit(emu: Emulator) -> None:
    emu.seed_twilio(2)
    emu.inject("rate_limit", retry_after="0")
    async with emu.twilio_client() as client:
        assert len(await client.compositions.list()) == 2
    assert [r.fault for r in emu.requests] == ["rate_limit", None]
    emu.inject("rate_limit", retry_after=3600)
    async with emu.twilio_client() as client:
        with pytest.raises(RateLimitError) as info:
            await client.compositions.list()
    assert info.value.retry_after == 3600


async def test_disconnect_drops_the_connection(emu: Emulator) -> None:
    emu.seed_twilio(1)
    # The client turns off aiohttp's own silent resend: one disconnect, one error.
    emu.inject("disconnect", method="GET")
    async with emu.twilio_client(retry=None) as client:
        with pytest.raises(APIConnectionError):
            await client.compositions.list()
        assert len(await client.compositions.list()) == 1
    assert [(r.fault, r.status) for r in emu.requests] == [("disconnect", None), (None, 200)]


async def test_truncated_body_is_a_connection_error(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    (sid,) = emu.seed_twilio(1)
    url = f"{emu.twilio_base_url}/Compositions/{sid}"
    emu.inject("truncate", times=2)
    async with http.get(url, headers=twilio_auth(emu)) as response:
        assert response.status == 200
        expected = response.content_length
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    assert expected == len(json.dumps(emu.composition(sid), separators=(",", ":")))
    async with emu.twilio_client(retry=None) as client:
        with pytest.raises(APIConnectionError):
            await client.compositions.fetch(sid)
        assert (await client.compositions.fetch(sid)).sid == sid


async def test_partial_json_and_non_json_are_decode_errors(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    (sid,) = emu.seed_twilio(1)
    url = f"{emu.twilio_base_url}/Compositions/{sid}"
    emu.inject("partial_json")
    async with http.get(url, headers=twilio_auth(emu)) as response:
        text = await response.text()
    assert response.status == 200 and response.content_length == len(text)
    assert json.dumps(emu.composition(sid), separators=(",", ":")).startswith(text)
    with pytest.raises(ValueError):
        json.loads(text)
    emu.inject("partial_json")
    emu.inject("non_json")
    async with emu.twilio_client(retry=None) as client:
        with pytest.raises(ResponseDecodeError):
            await client.compositions.fetch(sid)
        with pytest.raises(ResponseDecodeError) as info:
            await client.compositions.fetch(sid)
    assert "Bad Gateway" in info.value.body
    emu.inject("non_json", status=502)
    async with emu.telnyx_client(retry=None) as client:
        with pytest.raises(ServerError) as server_error:
            await client.compositions.list()
    assert server_error.value.status == 502 and "<html>" in server_error.value.body


async def test_delay_fault_and_latency_outlast_a_client_timeout(emu: Emulator) -> None:
    emu.seed_twilio(1)
    emu.inject("delay", delay=30)
    async with emu.twilio_client(retry=None, timeout=0.2) as client:
        with pytest.raises(APITimeoutError):
            await client.compositions.list()
        assert len(await client.compositions.list()) == 1  # only the next request was slow
        emu.latency = 30
        with pytest.raises(APITimeoutError):
            await client.compositions.list()
    emu.latency = 0
    assert [r.fault for r in emu.requests] == ["delay", None, None]


async def test_processed_delay_creates_before_the_client_gives_up(emu: Emulator) -> None:
    emu.inject("delay", delay=30, method="POST", processed=True)
    async with emu.twilio_client(retry=None, timeout=0.2) as client:
        with pytest.raises(APITimeoutError):
            await client.compositions.create(room_sid=ROOM, audio_sources=["*"])
    assert len(emu.store.twilio) == 1


def test_fault_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times"):
        Fault(kind="status", times=0)
    with pytest.raises(ValueError, match="status"):
        Fault(kind="status", status=700)
    assert Fault(kind="truncate").processed  # needs the real response
    assert Fault(kind="rate_limit").retry_after == "1"
    assert Fault(kind="no_meta").processed and Fault(kind="ignore_page").processed
    with pytest.raises(ValueError, match="raw"):
        Fault(kind="raw")  # nothing to write
    with pytest.raises(ValueError, match="body"):
        Fault(kind="disconnect", body=b"x")
    with pytest.raises(ValueError, match="headers"):
        Fault(kind="raw", body=b"x", headers={"A": "1"})
    with pytest.raises(ValueError, match="page"):
        Fault(kind="status", page=-1)


async def test_request_log_keeps_the_wire_format(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    url = f"{emu.telnyx_base_url}/room_compositions?filter%5Bstatus%5D=completed&page[size]=5"
    sent = URL(url, encoded=True)  # sent verbatim, brackets unencoded
    async with http.get(sent, headers={**telnyx_auth(emu), "X-Custom": "1"}) as response:
        assert response.status == 200
    body = b'{"session_id": "7c4da191-2600-4df6-a35e-0ecae6caa5d3"}'
    async with http.post(
        f"{emu.telnyx_base_url}/room_compositions",
        data=body,
        headers={**telnyx_auth(emu), "Content-Type": "application/json"},
    ) as response:
        assert response.status == 202
    get, post = emu.requests
    assert get.method == "GET" and get.path == "/v2/room_compositions"
    assert get.query_string == "filter%5Bstatus%5D=completed&page[size]=5"
    assert get.headers["x-custom"] == "1" and get.body == b""
    assert get.status == 200 and get.fault is None
    assert post.body == body and post.headers["Content-Type"] == "application/json"
    assert post.url_path_qs == "/v2/room_compositions" and post.status == 202
    emu.clear_requests()
    assert emu.requests == []


# -- 405 Method Not Allowed carries Allow (RFC 9110 15.5.6) -------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/Compositions", "GET, POST"),
        ("DELETE", "/v1/Compositions", "GET, POST"),
        ("POST", "/v1/Compositions/CJ" + "0" * 32, "DELETE, GET"),
        ("PATCH", "/v2/room_compositions", "GET, POST"),
        ("PATCH", f"/v2/room_compositions/{SESSION}", "DELETE, GET"),
        ("PUT", f"/v2/room_compositions/{SESSION}", "DELETE, GET"),
    ],
)
async def test_method_not_allowed_lists_the_allowed_methods(
    emu: Emulator, http: aiohttp.ClientSession, method: str, path: str, allow: str
) -> None:
    twilio = path.startswith("/v1/")
    headers = twilio_auth(emu) if twilio else telnyx_auth(emu)
    async with http.request(method, f"{emu.url}{path}", headers=headers) as response:
        assert response.status == 405
        assert response.headers["Allow"] == allow
        assert response.content_type == "application/json"
        body = await response.json()
        request_id = response.headers["Twilio-Request-Id" if twilio else "x-request-id"]
    assert request_id
    if twilio:
        assert body == {
            "code": 20004,
            "message": f"Method {method} not allowed",
            "more_info": "https://www.twilio.com/docs/errors/20004",
            "status": 405,
        }
    else:
        (error,) = body["errors"]
        assert error["code"] == "10015" and error["detail"] == f"Method {method} not allowed"
    assert emu.requests[-1].status == 405


async def test_method_not_allowed_on_media_and_for_an_injected_405(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{emu.url}/_media/telnyx/{SESSION}.mp4") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET, HEAD"
        assert response.content_type == "application/xml"
        assert b"<Code>" in await response.read()
    # A 405 the test injects on a real route says what that route allows, too.
    emu.inject("status", status=405, method="GET", path="/v1/Compositions")
    url = f"{emu.twilio_base_url}/Compositions"
    async with http.get(url, headers=twilio_auth(emu)) as response:
        assert response.status == 405 and response.headers["Allow"] == "GET, POST"
        assert (await response.json())["code"] == 20004
    emu.inject("status", status=405, path="/v2/room_compositions/*")
    url = f"{emu.telnyx_base_url}/room_compositions/{SESSION}"
    async with http.get(url, headers=telnyx_auth(emu)) as response:
        assert response.status == 405 and response.headers["Allow"] == "DELETE, GET"
    emu.inject("status", status=503, path="/v1/Compositions")
    async with http.get(f"{emu.twilio_base_url}/Compositions") as response:
        assert response.status == 503 and "Allow" not in response.headers


# -- canned answers, listing pages and bytes that are not HTTP ------------------------------


async def test_a_canned_body_and_headers_replace_the_error_json(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.inject("status", status=503, body=b"x" * 70_000, headers={"Retry-After": "3"})
    emu.inject("status", status=200, body='{"ok": true}', headers={"X-Request-Id": "rq-1"})
    emu.inject("non_json", body=b"<p>maintenance</p>", headers={"X-Cache": "HIT"})
    url = f"{emu.telnyx_base_url}/room_compositions"
    async with http.get(url) as response:
        assert (response.status, response.headers["Retry-After"]) == (503, "3")
        assert response.content_type == "application/json"
        assert await response.read() == b"x" * 70_000
    async with http.get(url) as response:
        assert response.status == 200 and await response.json() == {"ok": True}
        # A request id given as a canned header is the one sent.
        assert response.headers.getall("x-request-id") == ["rq-1"]
    async with http.get(url) as response:
        assert (response.status, response.content_type) == (200, "text/html")
        assert (
            response.headers["X-Cache"] == "HIT" and await response.text() == "<p>maintenance</p>"
        )
    assert [(r.fault, r.status) for r in emu.requests] == [
        ("status", 503),
        ("status", 200),
        ("non_json", 200),
    ]


async def test_a_fault_can_pick_one_page_of_a_listing(emu: Emulator) -> None:
    emu.seed_twilio(5)
    emu.seed_telnyx(5)
    emu.inject("status", status=400, page=1, path="/v1/*")
    emu.inject("status", status=400, page=2, path="/v2/*")
    async with emu.twilio_client(retry=None) as twilio, emu.telnyx_client(retry=None) as telnyx:
        first = await twilio.compositions.page(page_size=2)  # page 0 passes
        assert await telnyx.compositions.page(page_size=2)  # page 1 passes
        with pytest.raises(BadRequestError):
            await first.next_page()
        with pytest.raises(BadRequestError):
            await telnyx.compositions.page(page_size=2, page_number=2)
    assert [(r.page, r.fault) for r in emu.requests] == [
        (0, None),
        (1, None),
        (1, "status"),
        (2, "status"),
    ]


async def test_a_listing_without_meta(emu: Emulator, http: aiohttp.ClientSession) -> None:
    emu.seed_telnyx(3)
    emu.seed_twilio(1)
    emu.inject("no_meta", path="/v2/*")
    emu.inject("no_meta", path="/v1/*")
    async with http.get(f"{emu.telnyx_base_url}/room_compositions", headers=telnyx_auth(emu)) as r:
        telnyx_body = await r.json()
    async with http.get(f"{emu.twilio_base_url}/Compositions", headers=twilio_auth(emu)) as r:
        twilio_body = await r.json()
    assert list(telnyx_body) == ["data"] and len(telnyx_body["data"]) == 3
    assert list(twilio_body) == ["compositions"] and len(twilio_body["compositions"]) == 1
    emu.inject("no_meta")
    async with emu.telnyx_client(retry=None) as client:
        with pytest.raises(ResponseDecodeError, match="meta"):
            await client.compositions.list()


async def test_ignore_page_answers_the_first_page_again(emu: Emulator) -> None:
    newest_first = emu.seed_telnyx(6)[::-1]
    emu.inject("ignore_page", page=2)
    async with emu.telnyx_client(retry=None) as client:
        again = await client.compositions.page(page_size=2, page_number=2)
        assert [c.id for c in again.items] == newest_first[:2] and again.page_number == 1
        seen = []
        emu.inject("ignore_page", page=2)
        with pytest.raises(ResponseDecodeError, match="repeated"):
            async for c in client.compositions.stream(page_size=2):
                seen.append(c.id)
    assert seen == newest_first[:2]
    sids = emu.seed_twilio(4)[::-1]
    emu.inject("ignore_page", page=1)
    async with emu.twilio_client(retry=None) as twilio:
        first = await twilio.compositions.page(page_size=2)
        second = await first.next_page()
    assert second is not None and [c.sid for c in second.items] == sids[:2]
    assert second.next_page_url == first.next_page_url  # a loop a client must notice


@pytest.mark.parametrize("provider", ["twilio", "telnyx"])
async def test_a_malformed_status_line_is_a_connection_error(emu: Emulator, provider: str) -> None:
    emu.inject("malformed_status")
    client = (
        emu.twilio_client(retry=None) if provider == "twilio" else emu.telnyx_client(retry=None)
    )
    async with client:
        with pytest.raises(APIConnectionError) as info:
            await client.compositions.list()
    assert "2OO" in info.value.cause or "status" in info.value.cause.lower()
    (request,) = emu.requests
    assert (request.fault, request.status, request.finished) == ("malformed_status", None, True)


async def test_raw_bytes_are_written_as_they_are(emu: Emulator) -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Raw: yes\r\n\r\nhello world"
    emu.inject("raw", body=reply, path="/_media/*")
    reader, writer = await asyncio.open_connection(emu.host, emu.port)
    writer.write(b"GET /_media/telnyx/x.mp4 HTTP/1.1\r\nHost: emulator\r\n\r\n")
    try:
        assert await reader.read() == reply  # every byte, then the connection closes
    finally:
        writer.close()
        await writer.wait_closed()
    (request,) = emu.requests
    assert (request.fault, request.status) == ("raw", None)


async def test_public_origin_names_another_host_in_twilio_urls(
    emu: Emulator, tmp_path: Path
) -> None:
    (sid,) = emu.seed_twilio(1)
    emu.seed_twilio(2)
    with pytest.raises(ValueError, match="public_origin"):
        emu.public_origin = "https://video.twilio.com/v1"
    emu.public_origin = "https://video.twilio.com/"
    assert emu.public_origin == "https://video.twilio.com"
    async with emu.twilio_client(retry=None) as client:
        page = await client.compositions.page(page_size=1)
        fetched = await client.compositions.fetch(sid)
        # Media URLs still name the emulator: the download works.
        result = await client.compositions.download(sid, tmp_path)
    assert page.next_page_url is not None
    assert page.next_page_url.startswith("https://video.twilio.com/v1/Compositions?")
    assert fetched.url == f"https://video.twilio.com/v1/Compositions/{sid}"
    assert emu.composition(sid)["url"] == fetched.url
    assert result.path is not None and result.path.read_bytes() == emu.media_bytes(sid)
    emu.public_origin = None
    assert emu.composition(sid)["url"] == f"{emu.twilio_base_url}/Compositions/{sid}"
    async with Emulator(public_origin="http://proxy.example:8080") as other:
        other.seed_twilio(1)
        async with other.twilio_client() as client:
            (only,) = await client.compositions.list()
    assert only.url is not None and only.url.startswith("http://proxy.example:8080/v1/")


async def test_compress_encodes_what_the_request_accepts_and_nothing_else(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    (id,) = emu.seed_telnyx(1)
    media_url = emu.composition(id)["download_url"]
    emu.inject("compress", times=3)
    async with http.get(media_url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Content-Length" not in response.headers
        assert await response.read() == emu.media_bytes(id)  # decoded by aiohttp
    async with http.get(media_url, headers={"Accept-Encoding": "identity"}) as response:
        assert "Content-Encoding" not in response.headers
        assert response.content_length == len(emu.media_bytes(id))
        assert await response.read() == emu.media_bytes(id)
    url = f"{emu.telnyx_base_url}/room_compositions/{id}"
    headers = {**telnyx_auth(emu), "Accept-Encoding": "deflate"}
    async with http.get(url, headers=headers) as response:
        assert response.headers["Content-Encoding"] == "deflate"
        assert (await response.json())["data"]["id"] == id
    assert [(r.fault, r.status) for r in emu.requests] == [("compress", 200)] * 3
