"""TwilioClient against the Emulator over real sockets: every verb, paging, retries, errors."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from async_compositions import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    CompositionStatus,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
)
from async_compositions.emulator import Emulator, RecordedRequest
from async_compositions.twilio import Composition
from async_compositions.twilio.webhooks import parse_status_callback, validate_signature

ROOM = "RM" + "a1" * 16
OTHER_ROOM = "RM" + "b2" * 16
GUARD = 5.0  # seconds; only stops a broken test from hanging, never asserted on
# Retries without real waiting: backoff is jittered within a couple of milliseconds.
FAST = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.002)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=21, manual=True) as emulator:
        yield emulator


def listing_requests(emu: Emulator) -> list[RecordedRequest]:
    return [r for r in emu.requests if r.method == "GET" and r.path == "/v1/Compositions"]


def query_of(request: RecordedRequest) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.query_string))


class Receiver:
    """A webhook endpoint on 127.0.0.1 that keeps what it was sent."""

    def __init__(self) -> None:
        self.url = ""
        self.posts: list[tuple[str, dict[str, str], bytes]] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            self.posts.append((request.raw_path, dict(request.headers), await request.read()))
            return web.Response(status=204)

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
        if params.method == "GET" and params.url.path.startswith("/v1/Compositions/CJ"):
            fetched_once.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_response)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        async with emu.twilio_client(session=http, retry=None) as client:
            compositions = client.compositions
            created = await compositions.create(
                ROOM,
                audio_sources=["*"],
                video_layout={"grid": {"video_sources": ["*"]}},
                format="mp4",
            )
            assert isinstance(created, Composition)
            assert created.status is CompositionStatus.ENQUEUED
            assert created.room_sid == ROOM and created.account_sid == emu.twilio_account_sid
            assert created.sid in emu.store.twilio

            fetched = await compositions.fetch(created.sid)
            assert fetched == created

            page = await compositions.page(room_sid=ROOM)
            assert [c.sid for c in page.items] == [created.sid] and not page.has_next
            assert [c.sid async for c in compositions.stream(room_sid=ROOM)] == [created.sid]
            assert [c.sid for c in await compositions.list(room_sid=ROOM)] == [created.sid]

            # wait(): its first poll sees the composition enqueued; it then completes, and a
            # notify() (what a status-callback handler calls) wakes the waiter long before
            # its next poll would be due.
            fetched_once.clear()
            waiter = asyncio.create_task(compositions.wait(created.sid, poll_interval=60))
            async with asyncio.timeout(GUARD):
                await fetched_once.wait()
            assert await emu.finish() == 2
            assert compositions.notify(created.sid) == 1
            async with asyncio.timeout(GUARD):
                done = await waiter
            assert done.status is CompositionStatus.COMPLETED and done.size == emu.store.media_size
            polls = [r for r in emu.requests if r.path == f"/v1/Compositions/{created.sid}"]
            assert len(polls) == 3  # the fetch above, then the two polls of wait()

            url = await compositions.media_url(created.sid, ttl=60)
            assert url.path == f"/_media/twilio/{emu.twilio_account_sid}/{created.sid}.mp4"
            assert url.query["X-Amz-Expires"] == "60"
            assert emu.requests[-1].query_string == "Ttl=60"

            seen: list[tuple[int, int | None]] = []
            result = await compositions.download(
                created.sid, tmp_path, progress=lambda done, total: seen.append((done, total))
            )
            assert result.path == tmp_path / f"{created.sid}.mp4"
            assert result.path.read_bytes() == emu.media_bytes(created.sid)
            assert result.size == emu.store.media_size and result.content_type == "video/mp4"
            assert seen[-1] == (result.size, result.size)
            media_get = emu.requests[-1]
            assert (
                media_get.path.startswith("/_media/") and "Authorization" not in media_get.headers
            )

            await compositions.delete(created.sid)
            deleted = await compositions.fetch(created.sid)
            assert deleted.status is CompositionStatus.DELETED and deleted.date_deleted is not None
            assert await compositions.list(room_sid=ROOM) == []
            with pytest.raises(NotFoundError) as info:
                await compositions.delete(created.sid)
            assert (info.value.status, info.value.code) == (404, 20404)
        assert client.closed and not http.closed  # a borrowed session stays open
    assert [r.method for r in emu.requests].count("POST") == 1


# -- paging -----------------------------------------------------------------------------------


async def test_stream_walks_every_page_one_request_each(emu: Emulator) -> None:
    sids = emu.seed_twilio(25, room_sid=ROOM)
    emu.seed_twilio(3, room_sid=OTHER_ROOM)
    async with emu.twilio_client(retry=None) as client:
        got = [c.sid async for c in client.compositions.stream(room_sid=ROOM, page_size=10)]
    assert got == sids[::-1]  # newest first
    pages = listing_requests(emu)
    assert len(pages) == 3
    queries = [query_of(r) for r in pages]
    assert all(q["RoomSid"] == ROOM and q["PageSize"] == "10" for q in queries)
    assert [q.get("Page") for q in queries] == [None, "1", "2"]
    assert "PageToken" not in queries[0]
    assert all(q["PageToken"].startswith("PA") for q in queries[1:])


async def test_limit_requests_no_page_beyond_what_it_needs(emu: Emulator) -> None:
    emu.seed_twilio(25)
    async with emu.twilio_client(retry=None) as client:
        first_twelve = [c async for c in client.compositions.stream(limit=12, page_size=10)]
        assert len(first_twelve) == 12
        assert len(listing_requests(emu)) == 2
        emu.clear_requests()
        assert len(await client.compositions.list(limit=5)) == 5
    (only,) = listing_requests(emu)
    assert query_of(only) == {"PageSize": "5"}


async def test_page_url_resumes_a_listing_from_another_client(emu: Emulator) -> None:
    sids = emu.seed_twilio(7)[::-1]
    async with emu.twilio_client(retry=None) as client:
        first = await client.compositions.page(page_size=3)
        also_second = await first.next_page()
    assert [c.sid for c in first.items] == sids[:3]
    assert first.has_next and first.next_page_url is not None
    # Later, in another process or client: the URL alone carries filters and position.
    async with emu.twilio_client(retry=None) as client:
        second = await client.compositions.page(page_url=first.next_page_url)
        assert second.next_page_url is not None
        third = await client.compositions.page(page_url=second.next_page_url)
    assert [c.sid for c in second.items] == sids[3:6]
    assert [c.sid for c in third.items] == sids[6:]
    assert not third.has_next and third.next_page_url is None
    assert also_second is not None and also_second.items == second.items
    assert listing_requests(emu)[2].url_path_qs == URL(first.next_page_url).path_qs


# -- retries ----------------------------------------------------------------------------------


async def test_rate_limit_is_retried_after_retry_after(emu: Emulator) -> None:
    emu.seed_twilio(2)
    emu.inject("rate_limit", retry_after="0", times=2, method="GET")
    async with emu.twilio_client(retry=FAST) as client:
        assert len(await client.compositions.list()) == 2
    assert [(r.fault, r.status) for r in emu.requests] == [
        ("rate_limit", 429),
        ("rate_limit", 429),
        (None, 200),
    ]


async def test_rate_limit_beyond_the_cap_raises_with_retry_after(emu: Emulator) -> None:
    emu.inject("rate_limit", retry_after=120)
    policy = RetryPolicy(max_attempts=4, base_delay=0.001, max_retry_after=30)
    async with emu.twilio_client(retry=policy) as client:
        with pytest.raises(RateLimitError) as info:
            await client.compositions.list()
    assert info.value.retry_after == 120 and info.value.code == 20429
    assert len(emu.requests) == 1


async def test_server_errors_on_reads_and_deletes_are_retried(emu: Emulator) -> None:
    first, second = emu.seed_twilio(2)
    emu.inject("status", status=503, times=2, method="GET")
    emu.inject("status", status=500, method="DELETE")
    async with emu.twilio_client(retry=FAST) as client:
        assert (await client.compositions.fetch(first)).sid == first
        await client.compositions.delete(second)
    assert [(r.method, r.status) for r in emu.requests] == [
        ("GET", 503),
        ("GET", 503),
        ("GET", 200),
        ("DELETE", 500),
        ("DELETE", 204),
    ]
    assert emu.store.twilio[second].status == "deleted"


async def test_retries_stop_at_max_attempts(emu: Emulator) -> None:
    emu.inject("status", status=502, times=10)
    policy = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
    async with emu.twilio_client(retry=policy) as client:
        with pytest.raises(ServerError) as info:
            await client.compositions.list()
    assert info.value.status == 502 and info.value.request_id == emu.requests[-1].request_id
    assert len(emu.requests) == 3


async def test_dropped_connections_are_retried(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1)
    # aiohttp resends an idempotent request once by itself; three drops outlast that.
    emu.inject("disconnect", times=3, method="GET")
    async with emu.twilio_client(retry=FAST) as client:
        assert (await client.compositions.fetch(sid)).sid == sid
    assert [r.fault for r in emu.requests] == ["disconnect"] * 3 + [None]
    emu.inject("disconnect", times=2, method="GET")
    async with emu.twilio_client(retry=None) as client:
        with pytest.raises(APIConnectionError):
            await client.compositions.fetch(sid)


async def test_create_is_not_retried_on_a_server_error(emu: Emulator) -> None:
    emu.inject("status", status=503, method="POST")
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(ServerError) as info:
            await client.compositions.create(ROOM, audio_sources=["*"])
    assert (info.value.status, info.value.code) == (503, 20503)
    assert len(emu.requests) == 1 and emu.store.twilio == {}


async def test_create_is_not_retried_after_a_dropped_connection(emu: Emulator) -> None:
    emu.inject("disconnect", method="POST", processed=True)
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(APIConnectionError):
            await client.compositions.create(ROOM, audio_sources=["*"])
    # Created on the server, answer lost: a resend would have made a duplicate.
    assert len(emu.requests) == 1 and len(emu.store.twilio) == 1


async def test_create_is_retried_on_a_rate_limit(emu: Emulator) -> None:
    emu.inject("rate_limit", retry_after="0", method="POST")
    async with emu.twilio_client(retry=FAST) as client:
        created = await client.compositions.create(ROOM, audio_sources=["*"])
    assert [(r.method, r.status) for r in emu.requests] == [("POST", 429), ("POST", 201)]
    assert list(emu.store.twilio) == [created.sid]
    assert emu.requests[0].body == emu.requests[1].body  # the same request, sent again


# -- bodies that do not decode ----------------------------------------------------------------


async def test_truncated_and_non_json_bodies_raise_response_decode_error(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1)
    full = json.dumps(emu.composition(sid), separators=(",", ":"))
    emu.inject("partial_json", method="GET", path=f"/v1/Compositions/{sid}")
    emu.inject("partial_json", method="GET", path="/v1/Compositions")
    emu.inject("non_json", method="GET")
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(ResponseDecodeError) as cut:
            await client.compositions.fetch(sid)
        with pytest.raises(ResponseDecodeError):
            await client.compositions.list()
        with pytest.raises(ResponseDecodeError) as html:
            await client.compositions.fetch(sid)
    assert full.startswith(cut.value.body) and len(cut.value.body) < len(full)
    assert cut.value.status == 200
    assert "Bad Gateway" in html.value.body
    assert len(emu.requests) == 3  # a body that does not decode is not retried


async def test_a_body_shorter_than_its_content_length_is_retried(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1)
    emu.inject("truncate", method="GET")
    async with emu.twilio_client(retry=FAST) as client:
        assert (await client.compositions.fetch(sid)).sid == sid
    assert emu.requests[0].fault == "truncate"
    assert emu.requests[-1].status == 200


# -- wire format ------------------------------------------------------------------------------


async def test_create_wire_format(emu: Emulator, receiver: Receiver) -> None:
    callback = f"{receiver.url}/cb?tenant=7"
    async with emu.twilio_client() as client:
        await client.compositions.create(
            ROOM,
            video_layout={"grid": {"video_sources": ["cam-*"], "max_columns": 2}},
            audio_sources=["mic-1", "mic-2"],
            audio_sources_excluded=["mic-3"],
            resolution="1280x720",
            format="mp4",
            status_callback=callback,
            status_callback_method="POST",
            trim=False,
        )
    (post,) = emu.requests
    assert post.method == "POST" and post.url_path_qs == "/v1/Compositions"
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(
        f"{emu.twilio_account_sid}:{emu.twilio_auth_token}".encode()
    ).decode()
    assert post.headers["Authorization"] == f"Basic {expected_auth}"
    assert post.headers["User-Agent"].startswith("async-compositions/")
    assert (
        post.body
        == (
            f"RoomSid={ROOM}"
            "&VideoLayout=%7B%22grid%22%3A+%7B%22video_sources%22%3A+%5B%22cam-%2A%22%5D%2C"
            "+%22max_columns%22%3A+2%7D%7D"
            "&AudioSources=mic-1&AudioSources=mic-2&AudioSourcesExcluded=mic-3"
            "&Resolution=1280x720&Format=mp4"
            "&StatusCallback=http%3A%2F%2F127.0.0.1%3A"
            f"{URL(receiver.url).port}%2Fcb%3Ftenant%3D7"
            "&StatusCallbackMethod=POST&Trim=false"
        ).encode()
    )


async def test_list_filters_on_the_wire(emu: Emulator) -> None:
    after = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    before = datetime(2024, 5, 2, tzinfo=UTC)
    async with emu.twilio_client(retry=None) as client:
        await client.compositions.page(
            status="completed",
            room_sid=ROOM,
            date_created_after=after,
            date_created_before=before,
            page_size=20,
        )
    (request,) = emu.requests
    assert request.query_string == (
        "Status=completed&DateCreatedAfter=2024-05-01T10%3A00%3A00Z"
        f"&DateCreatedBefore=2024-05-02T00%3A00%3A00Z&RoomSid={ROOM}&PageSize=20"
    )


# -- errors in Twilio's shape -----------------------------------------------------------------


async def test_wrong_credentials_raise_authentication_error_with_request_id(
    emu: Emulator,
) -> None:
    async with emu.twilio_client(auth_token="0" * 32, retry=FAST) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.compositions.list()
    err = info.value
    (request,) = emu.requests  # a 401 is never retried
    assert (err.status, err.code, err.message) == (401, 20003, "Authenticate")
    assert err.request_id == request.request_id and err.request_id.startswith("RQ")
    assert json.loads(err.body)["code"] == 20003
    assert emu.twilio_auth_token not in str(err) and "0" * 32 not in repr(err)


async def test_validation_error_in_twilios_shape(emu: Emulator) -> None:
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(BadRequestError) as info:
            # Within Twilio's documented ranges; the server knows the region is off-canvas
            # for the default 640x480 composition.
            await client.compositions.create(
                ROOM, video_layout={"grid": {"video_sources": ["*"], "x_pos": 1000}}
            )
    err = info.value
    assert (err.status, err.code) == (400, 20001)
    assert "x_pos" in err.message
    assert err.more_info == "https://www.twilio.com/docs/errors/20001"
    assert err.request_id == emu.requests[0].request_id
    assert len(emu.requests) == 1 and emu.store.twilio == {}


async def test_deleting_a_failed_composition_is_a_bad_request(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1, status="failed")
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(BadRequestError) as info:
            await client.compositions.delete(sid)
        with pytest.raises(NotFoundError) as missing:
            await client.compositions.fetch("CJ" + "0" * 32)
    assert info.value.code == 20001 and "Failed compositions" in info.value.message
    assert missing.value.code == 20404 and missing.value.request_id == emu.requests[-1].request_id


# -- status callbacks -------------------------------------------------------------------------


async def test_status_callbacks_arrive_signed_for_the_receivers_url(
    emu: Emulator, receiver: Receiver
) -> None:
    callback = f"{receiver.url}/hooks/twilio?tenant=7"
    async with emu.twilio_client() as client:
        created = await client.compositions.create(
            ROOM, audio_sources=["*"], status_callback=callback
        )
    await emu.finish()
    assert await emu.wait_webhooks(timeout=GUARD)
    events = []
    for raw_path, headers, body in receiver.posts:
        assert receiver.url + raw_path == callback
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        signature = headers["X-Twilio-Signature"]
        assert validate_signature(callback, form, signature, emu.twilio_auth_token)
        assert not validate_signature(callback, form, signature, "wrong" + "0" * 27)
        assert not validate_signature(
            receiver.url + "/other", form, signature, emu.twilio_auth_token
        )
        tampered = {**form, "CompositionSid": "CJ" + "f" * 32}
        assert not validate_signature(callback, tampered, signature, emu.twilio_auth_token)
        events.append(parse_status_callback(form))
    assert [e.event for e in events] == [
        "composition-started",
        "composition-progress",
        "composition-available",
    ]
    assert all(e.id == created.sid and e.room_sid == ROOM for e in events)
    available = events[-1]
    assert available.size == emu.store.media_size
    assert available.media_uri == f"/v1/Compositions/{created.sid}/Media"
    assert events[1].percentage_done == 100
    assert all(d.ok for d in emu.webhook_deliveries)
