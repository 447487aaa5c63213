"""TelnyxClient against the Emulator over real sockets: every verb, paging, retries, errors."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict

from async_compositions import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    CompositionStatus,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
    UnprocessableEntityError,
    WebhookVerificationError,
)
from async_compositions.emulator import Emulator, RecordedRequest
from async_compositions.telnyx import RoomComposition
from async_compositions.telnyx.webhooks import verify

SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"
OTHER_SESSION = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
MISSING = "00000000-0000-4000-8000-000000000000"
GUARD = 5.0  # seconds; only stops a broken test from hanging, never asserted on
# Retries without real waiting: backoff is jittered within a couple of milliseconds.
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=22, manual=True) as emulator:
        yield emulator


def listing_requests(emu: Emulator) -> list[RecordedRequest]:
    return [r for r in emu.requests if r.method == "GET" and r.path == "/v2/room_compositions"]


def query_of(request: RecordedRequest) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.query_string))


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps what it was sent."""

    def __init__(self) -> None:
        self.url = ""
        self.posts: list[tuple[str, CIMultiDict[str], bytes]] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            self.posts.append((request.path, CIMultiDict(request.headers), await request.read()))
            return web.Response(status=200)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    box = Receiver()
    await box.start()
    yield box
    await box.stop()


# -- every verb -------------------------------------------------------------------------------


async def test_every_verb_against_the_emulator(emu: Emulator, tmp_path: Path) -> None:
    fetched_once = asyncio.Event()

    async def on_response(
        session: aiohttp.ClientSession, ctx: object, params: aiohttp.TraceRequestEndParams
    ) -> None:
        if params.method == "GET" and params.url.path.startswith("/v2/room_compositions/"):
            fetched_once.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_response)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        async with emu.telnyx_client(session=http, retry=None) as client:
            compositions = client.compositions
            assert client.room_compositions is compositions
            created = await compositions.create(
                session_id=SESSION, resolution="640x360", video_layout={"main": {"x_pos": 0}}
            )
            assert isinstance(created, RoomComposition)
            assert created.status is CompositionStatus.ENQUEUED
            assert created.session_id == SESSION and created.resolution == "640x360"
            assert created.download_url is None and created.id in emu.store.telnyx

            fetched = await compositions.fetch(created.id)
            assert fetched == created

            page = await compositions.page(session_id=SESSION)
            assert [c.id for c in page.items] == [created.id] and not page.has_next
            assert (page.page_number, page.total_pages, page.total_results) == (1, 1, 1)
            assert [c.id async for c in compositions.stream(session_id=SESSION)] == [created.id]
            assert [c.id for c in await compositions.list(session_id=SESSION)] == [created.id]

            with pytest.raises(NotFoundError):
                await compositions.media_url(created.id)  # no media before completion

            # wait(): its first poll sees the composition enqueued; it then completes, and
            # a notify() (what a webhook handler calls) wakes the waiter long before its
            # next poll would be due.
            fetched_once.clear()
            waiter = asyncio.create_task(compositions.wait(created.id, poll_interval=60))
            async with asyncio.timeout(GUARD):
                await fetched_once.wait()
            assert await emu.finish() == 2
            assert compositions.notify(created.id) == 1
            async with asyncio.timeout(GUARD):
                done = await waiter
            assert done.status is CompositionStatus.COMPLETED
            assert done.size_mb == emu.store.media_size / 1_000_000
            polls = [r for r in emu.requests if r.path == f"/v2/room_compositions/{created.id}"]
            # The fetch, the media_url fetch, then the two polls of wait().
            assert len(polls) == 4

            url = await compositions.media_url(created.id)
            assert url == done.download_url
            assert url.path == f"/_media/telnyx/{created.id}.mp4"

            seen: list[tuple[int, int | None]] = []
            result = await compositions.download(
                created.id, tmp_path, progress=lambda n, total: seen.append((n, total))
            )
            assert result.path == tmp_path / f"{created.id}.mp4"
            assert result.path.read_bytes() == emu.media_bytes(created.id)
            assert result.size == emu.store.media_size and result.content_type == "video/mp4"
            assert seen[-1] == (result.size, result.size)
            media_get = emu.requests[-1]
            assert media_get.path.startswith("/_media/")
            assert "Authorization" not in media_get.headers  # the URL is pre-signed

            await compositions.delete(created.id)
            assert created.id not in emu.store.telnyx
            with pytest.raises(NotFoundError) as info:
                await compositions.fetch(created.id)
            assert (info.value.status, info.value.code) == (404, "10005")
            assert await compositions.list(session_id=SESSION) == []
        assert client.closed and not http.closed  # a borrowed session stays open
    assert [r.method for r in emu.requests].count("POST") == 1


async def test_download_resumes_after_a_cut_connection(emu: Emulator, tmp_path: Path) -> None:
    (id,) = emu.seed_telnyx(1, media_size=300_000)
    emu.inject("truncate", path="/_media/*")
    async with emu.telnyx_client(retry=FAST) as client:
        result = await client.compositions.download(id, tmp_path / "out.mp4")
    assert result.path is not None and result.path.read_bytes() == emu.media_bytes(id)
    first, second = [r for r in emu.requests if r.path.startswith("/_media/")]
    assert first.fault == "truncate" and "Range" not in first.headers
    assert second.headers["Range"].startswith("bytes=") and second.status == 206
    assert os.listdir(tmp_path) == ["out.mp4"]  # no partial file left behind


# -- paging -----------------------------------------------------------------------------------


async def test_stream_walks_every_page_one_request_each(emu: Emulator) -> None:
    ids = emu.seed_telnyx(45, session_id=SESSION)
    emu.seed_telnyx(3, session_id=OTHER_SESSION)
    async with emu.telnyx_client(retry=None) as client:
        got = [
            c.id
            async for c in client.compositions.stream(session_id=SESSION, page_size=10, prefetch=3)
        ]
    assert got == ids[::-1]  # newest first
    pages = listing_requests(emu)
    assert len(pages) == 5
    queries = [query_of(r) for r in pages]
    assert all(q["filter[session_id]"] == SESSION and q["page[size]"] == "10" for q in queries)
    assert sorted(q.get("page[number]", "1") for q in queries) == ["1", "2", "3", "4", "5"]
    assert "page[number]" not in queries[0]


async def test_limit_requests_no_page_beyond_what_it_needs(emu: Emulator) -> None:
    emu.seed_telnyx(30)
    async with emu.telnyx_client(retry=None) as client:
        items = [c async for c in client.compositions.stream(limit=15, page_size=10, prefetch=4)]
        assert len(items) == 15
        assert len(listing_requests(emu)) == 2
        emu.clear_requests()
        assert len(await client.compositions.list(limit=5)) == 5
    (only,) = listing_requests(emu)
    assert only.query_string == "page%5Bsize%5D=5"


async def test_page_number_resumes_a_listing(emu: Emulator) -> None:
    ids = emu.seed_telnyx(7, session_id=SESSION)[::-1]
    async with emu.telnyx_client(retry=None) as client:
        first = await client.compositions.page(session_id=SESSION, page_size=3)
        following = await first.next_page()
    assert [c.id for c in first.items] == ids[:3]
    assert (first.page_number, first.total_pages, first.total_results) == (1, 3, 7)
    assert first.has_next and first.next_page_number == 2
    # Later, from another client: the same filters and the page number carry on.
    async with emu.telnyx_client(retry=None) as client:
        second = await client.compositions.page(
            session_id=SESSION, page_size=3, page_number=first.next_page_number
        )
        third = await client.compositions.page(
            session_id=SESSION, page_size=3, page_number=second.next_page_number
        )
    assert [c.id for c in second.items] == ids[3:6]
    assert [c.id for c in third.items] == ids[6:]
    assert not third.has_next and third.next_page_number is None
    assert following is not None and following.items == second.items
    assert listing_requests(emu)[2].query_string == (
        f"filter%5Bsession_id%5D={SESSION}&page%5Bsize%5D=3&page%5Bnumber%5D=2"
    )


async def test_list_filters_on_the_wire(emu: Emulator) -> None:
    async with emu.telnyx_client(retry=None) as client:
        await client.compositions.page(
            status="completed",
            session_id=SESSION,
            date_created_on=date(2024, 5, 2),
            date_created_after=date(2024, 5, 1),
            date_created_before="2024-05-03",
            page_size=20,
        )
    (request,) = emu.requests
    assert request.query_string == (
        "filter%5Bdate_created_at%5D%5Beq%5D=2024-05-02"
        "&filter%5Bdate_created_at%5D%5Bgte%5D=2024-05-01"
        "&filter%5Bdate_created_at%5D%5Blte%5D=2024-05-03"
        f"&filter%5Bsession_id%5D={SESSION}&filter%5Bstatus%5D=completed&page%5Bsize%5D=20"
    )


# -- retries ----------------------------------------------------------------------------------


async def test_rate_limit_is_retried_after_retry_after(emu: Emulator) -> None:
    emu.seed_telnyx(2)
    emu.inject("rate_limit", retry_after="0", times=2, method="GET")
    async with emu.telnyx_client(retry=FAST) as client:
        assert len(await client.compositions.list()) == 2
    assert [(r.fault, r.status) for r in emu.requests] == [
        ("rate_limit", 429),
        ("rate_limit", 429),
        (None, 200),
    ]


async def test_rate_limit_beyond_the_cap_raises_with_retry_after(emu: Emulator) -> None:
    emu.inject("rate_limit", retry_after=90)
    policy = RetryPolicy(max_attempts=4, base_delay=0.001, max_retry_after=30)
    async with emu.telnyx_client(retry=policy) as client:
        with pytest.raises(RateLimitError) as info:
            await client.compositions.list()
    err = info.value
    assert (err.status, err.code, err.retry_after) == (429, "10011", 90)
    assert err.request_id == emu.requests[0].request_id
    assert len(emu.requests) == 1


async def test_server_errors_on_reads_and_deletes_are_retried(emu: Emulator) -> None:
    first, second = emu.seed_telnyx(2)
    emu.inject("status", status=502, times=2, method="GET")
    emu.inject("status", status=500, method="DELETE")
    async with emu.telnyx_client(retry=FAST) as client:
        assert (await client.compositions.fetch(first)).id == first
        await client.compositions.delete(second)
    assert [(r.method, r.status) for r in emu.requests] == [
        ("GET", 502),
        ("GET", 502),
        ("GET", 200),
        ("DELETE", 500),
        ("DELETE", 204),
    ]
    assert second not in emu.store.telnyx


async def test_retries_stop_at_max_attempts(emu: Emulator) -> None:
    emu.inject("status", status=503, times=10)
    policy = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.002)
    async with emu.telnyx_client(retry=policy) as client:
        with pytest.raises(ServerError) as info:
            await client.compositions.list()
    assert info.value.status == 503 and info.value.request_id == emu.requests[-1].request_id
    assert len(emu.requests) == 2


async def test_dropped_connections_are_retried(emu: Emulator) -> None:
    (id,) = emu.seed_telnyx(1)
    # aiohttp resends an idempotent request once by itself; three drops outlast that.
    emu.inject("disconnect", times=3, method="GET")
    async with emu.telnyx_client(retry=FAST) as client:
        assert (await client.compositions.fetch(id)).id == id
    assert [r.fault for r in emu.requests] == ["disconnect"] * 3 + [None]
    emu.inject("disconnect", times=2, method="GET")
    async with emu.telnyx_client(retry=None) as client:
        with pytest.raises(APIConnectionError):
            await client.compositions.fetch(id)


async def test_create_is_not_retried_on_a_server_error(emu: Emulator) -> None:
    emu.inject("status", status=500, method="POST")
    async with emu.telnyx_client(retry=FAST) as client:
        with pytest.raises(ServerError) as info:
            await client.compositions.create(session_id=SESSION)
    assert (info.value.status, info.value.code) == (500, "10007")
    assert len(emu.requests) == 1 and emu.store.telnyx == {}


async def test_create_is_not_retried_after_a_dropped_connection(emu: Emulator) -> None:
    emu.inject("disconnect", method="POST", processed=True)
    async with emu.telnyx_client(retry=FAST) as client:
        with pytest.raises(APIConnectionError):
            await client.compositions.create(session_id=SESSION)
    # Created on the server, answer lost: a resend would have made a duplicate.
    assert len(emu.requests) == 1 and len(emu.store.telnyx) == 1


async def test_create_is_retried_on_a_rate_limit(emu: Emulator) -> None:
    emu.inject("rate_limit", retry_after="0", method="POST")
    async with emu.telnyx_client(retry=FAST) as client:
        created = await client.compositions.create(session_id=SESSION)
    assert [(r.method, r.status) for r in emu.requests] == [("POST", 429), ("POST", 202)]
    assert list(emu.store.telnyx) == [created.id]
    assert emu.requests[0].body == emu.requests[1].body  # the same request, sent again


# -- bodies that do not decode ----------------------------------------------------------------


async def test_truncated_and_non_json_bodies_raise_response_decode_error(emu: Emulator) -> None:
    (id,) = emu.seed_telnyx(1)
    emu.inject("partial_json", method="GET", path=f"/v2/room_compositions/{id}")
    emu.inject("partial_json", method="GET", path="/v2/room_compositions")
    emu.inject("non_json", method="GET")
    async with emu.telnyx_client(retry=FAST) as client:
        with pytest.raises(ResponseDecodeError) as cut:
            await client.compositions.fetch(id)
        with pytest.raises(ResponseDecodeError):
            await client.compositions.list()
        with pytest.raises(ResponseDecodeError) as html:
            await client.compositions.fetch(id)
    full = json.dumps({"data": emu.composition(id)}, separators=(",", ":"))
    assert full.startswith(cut.value.body) and len(cut.value.body) < len(full)
    assert cut.value.status == 200
    assert "Bad Gateway" in html.value.body
    assert len(emu.requests) == 3  # a body that does not decode is not retried


async def test_a_body_shorter_than_its_content_length_is_retried(emu: Emulator) -> None:
    (id,) = emu.seed_telnyx(1)
    emu.inject("truncate", method="GET")
    async with emu.telnyx_client(retry=FAST) as client:
        assert (await client.compositions.fetch(id)).id == id
    assert emu.requests[0].fault == "truncate"
    assert emu.requests[-1].status == 200


# -- wire format ------------------------------------------------------------------------------


async def test_create_wire_format(emu: Emulator) -> None:
    async with emu.telnyx_client() as client:
        await client.compositions.create(
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
    assert post.method == "POST" and post.url_path_qs == "/v2/room_compositions"
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Authorization"] == f"Bearer {emu.telnyx_api_key}"
    assert post.headers["Accept"] == "application/json"
    assert post.headers["User-Agent"].startswith("async-compositions/")
    assert post.body == (
        b'{"format":"mp4","resolution":"1280x720","session_id":"' + SESSION.encode() + b'",'
        b'"video_layout":{"main":{"video_sources":["*"],"z_pos":1,"width":640},'
        b'"pip":{"x_pos":10,"video_sources":["b2a5e6d2-0000-4000-8000-000000000001"]}},'
        b'"webhook_event_failover_url":"https://backup.example.com/hooks",'
        b'"webhook_event_url":"https://example.com/hooks/telnyx","webhook_timeout_secs":25}'
    )


# -- errors in Telnyx's shape -----------------------------------------------------------------


async def test_wrong_api_key_raises_authentication_error_with_request_id(emu: Emulator) -> None:
    wrong = "KEY" + "0" * 32 + "_wrong"
    async with emu.telnyx_client(api_key=wrong, retry=FAST) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.compositions.list()
    err = info.value
    (request,) = emu.requests  # a 401 is never retried
    assert (err.status, err.code) == (401, "10009")
    assert err.request_id == request.request_id and err.request_id
    assert err.errors[0]["code"] == "10009"
    assert json.loads(err.body)["errors"][0]["code"] == "10009"
    assert wrong not in str(err) and wrong not in repr(err)


async def test_validation_errors_in_telnyxs_shape(emu: Emulator) -> None:
    async with emu.telnyx_client(retry=FAST) as client:
        with pytest.raises(UnprocessableEntityError) as info:
            # Within what the client can check; the server wants positions >= 0.
            await client.compositions.create(
                session_id=SESSION,
                video_layout={"a": {"x_pos": -1}, "b": {"y_pos": -5}},
            )
    err = info.value
    assert (err.status, err.code) == (422, "10015")
    assert [e["source"]["pointer"] for e in err.errors] == [
        "/video_layout/a/x_pos",
        "/video_layout/b/y_pos",
    ]
    assert "x_pos" in err.message and "(and 1 more error)" in err.message
    assert err.request_id == emu.requests[0].request_id
    assert len(emu.requests) == 1 and emu.store.telnyx == {}


async def test_missing_session_id_is_reported_by_the_server(emu: Emulator) -> None:
    async with emu.telnyx_client(retry=FAST) as client:
        with pytest.raises(UnprocessableEntityError) as info:
            await client.compositions.create(resolution="640x360")
    err = info.value
    assert (err.status, err.code) == (422, "10004")
    assert err.errors[0]["source"] == {"pointer": "/session_id"}
    assert err.errors[0]["title"] == "Invalid parameter"
    assert json.loads(emu.requests[0].body) == {"resolution": "640x360"}


async def test_other_statuses_map_to_their_error_classes(emu: Emulator) -> None:
    emu.inject("status", status=400, method="GET")
    emu.inject("status", status=403, method="GET")
    async with emu.telnyx_client(retry=FAST) as client:
        with pytest.raises(BadRequestError) as bad:
            await client.compositions.list()
        with pytest.raises(PermissionDeniedError) as denied:
            await client.compositions.list()
        with pytest.raises(NotFoundError) as missing:
            await client.compositions.delete(MISSING)
    assert (bad.value.status, bad.value.code) == (400, "10015")
    assert (denied.value.status, denied.value.code) == (403, "10010")
    assert (missing.value.status, missing.value.code) == (404, "10005")
    assert missing.value.request_id == emu.requests[-1].request_id
    assert len(emu.requests) == 3  # none of these is retried


# -- webhooks ---------------------------------------------------------------------------------


async def test_completed_event_arrives_signed_with_ed25519(
    emu: Emulator, receiver: Receiver
) -> None:
    async with emu.telnyx_client() as client:
        created = await client.compositions.create(
            session_id=SESSION, webhook_event_url=f"{receiver.url}/hooks/telnyx"
        )
        await emu.finish()
        assert await emu.wait_webhooks(timeout=GUARD)
        done = await client.compositions.fetch(created.id)
    ((path, headers, body),) = receiver.posts
    assert path == "/hooks/telnyx" and headers["Content-Type"] == "application/json"
    event = verify(body, headers, emu.telnyx_public_key)
    assert event.event_type == "video.room.composition.completed"
    assert event.id == created.id and event.session_id == SESSION
    assert event.download_url == done.download_url
    assert event.size_mb == done.size_mb and event.duration_secs == done.duration_secs
    assert event.room_id == done.room_id
    # Any change to the body, or another key, fails verification.
    with pytest.raises(WebhookVerificationError):
        verify(body.replace(b"completed", b"started!!"), headers, emu.telnyx_public_key)
    async with Emulator() as other:
        with pytest.raises(WebhookVerificationError):
            verify(body, headers, other.telnyx_public_key)
    # A delivery replayed long after it was signed is refused as stale.
    stamp = int(headers["telnyx-timestamp"])
    with pytest.raises(WebhookVerificationError):
        verify(body, headers, emu.telnyx_public_key, now=stamp + 301)
    assert verify(body, headers, emu.telnyx_public_key, now=stamp + 300).id == created.id
    assert [d.ok for d in emu.webhook_deliveries] == [True]
