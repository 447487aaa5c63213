"""The emulator's Twilio Video v1 Compositions API: auth, validation, lifecycle, paging, media."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from async_compositions import AuthenticationError, BadRequestError, CompositionStatus
from async_compositions.emulator import Emulator

ROOM = "RM" + "a" * 32
FORM = "application/x-www-form-urlencoded"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=11, manual=True) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def auth(emu: Emulator) -> dict[str, str]:
    return basic(emu.twilio_account_sid, emu.twilio_auth_token)


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    async with http.request(method, url, allow_redirects=False, **kwargs) as response:
        body = await response.read()
        data = json.loads(body) if body else None
        return response.status, data, response.headers


async def create(
    http: aiohttp.ClientSession, emu: Emulator, fields: list[tuple[str, str]]
) -> tuple[int, Any]:
    status, body, _ = await call(
        http,
        "POST",
        f"{emu.twilio_base_url}/Compositions",
        data=urllib.parse.urlencode(fields),
        headers={**auth(emu), "Content-Type": FORM},
    )
    return status, body


# -- through the library's own client ----------------------------------------------------


async def test_twilio_client_create_advance_fetch_delete(emu: Emulator) -> None:
    async with emu.twilio_client() as client:
        created = await client.compositions.create(
            room_sid=ROOM,
            audio_sources=["a", "b*"],
            video_layout={"grid": {"video_sources": ["*"]}},
            trim=False,
            format="mp4",
            resolution="1280x720",
        )
        assert created.status is CompositionStatus.ENQUEUED
        assert created.size == 0 and created.date_completed is None
        assert await emu.advance() == 1
        assert (await client.compositions.fetch(created.sid)).status == "processing"
        await emu.advance()
        done = await client.compositions.fetch(created.sid)
        await client.compositions.delete(created.sid)
        deleted = await client.compositions.fetch(created.sid)
    # The exact bytes the official SDK sends for the same call (spec/twilio.md 1.6).
    post = emu.requests[0]
    assert post.method == "POST" and post.path == "/v1/Compositions"
    assert post.headers["Content-Type"] == FORM
    assert post.body == (
        b"RoomSid=RMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&VideoLayout=%7B%22grid%22%3A+%7B%22"
        b"video_sources%22%3A+%5B%22%2A%22%5D%7D%7D&AudioSources=a&AudioSources=b%2A"
        b"&Resolution=1280x720&Format=mp4&Trim=false"
    )
    assert done.status is CompositionStatus.COMPLETED
    assert done.size == 65_536 and done.duration > 0 and done.bitrate > 0
    assert done.date_completed is not None and done.date_completed >= done.date_created
    assert done.url == f"{emu.twilio_base_url}/Compositions/{created.sid}"
    assert done.media_link == f"{done.url}/Media"
    assert done.trim is False and done.resolution == "1280x720"
    assert deleted.status is CompositionStatus.DELETED and deleted.date_deleted is not None
    assert [r.method for r in emu.requests] == ["POST", "GET", "GET", "DELETE", "GET"]


async def test_api_key_pair_is_accepted_and_a_wrong_secret_is_not(emu: Emulator) -> None:
    emu.seed_twilio(2)
    async with emu.twilio_client(
        api_key=emu.twilio_api_key_sid, api_secret=emu.twilio_api_key_secret
    ) as client:
        assert len(await client.compositions.list()) == 2
    async with emu.twilio_client(auth_token="wrong", retry=None) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.compositions.list()
    assert info.value.status == 401 and info.value.code == 20003
    assert re.fullmatch(r"RQ[0-9a-f]{32}", info.value.request_id or "")
    assert emu.requests[-1].request_id == info.value.request_id


async def test_stream_follows_next_page_url_to_the_end(emu: Emulator) -> None:
    sids = emu.seed_twilio(7)
    async with emu.twilio_client() as client:
        seen = [c.sid async for c in client.compositions.stream(page_size=3)]
    assert seen == list(reversed(sids))  # newest first
    lists = [r for r in emu.requests if r.method == "GET"]
    assert len(lists) == 3
    assert lists[0].query_string == "PageSize=3"
    assert lists[1].query_string == f"PageSize=3&Page=1&PageToken=PA{seen[2]}"


# -- auth --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer token"},
        "wrong-token",
        "unknown-user",
    ],
)
async def test_auth_is_rejected(
    emu: Emulator, http: aiohttp.ClientSession, headers: dict[str, str] | str
) -> None:
    if headers == "wrong-token":
        headers = basic(emu.twilio_account_sid, emu.twilio_auth_token + "x")
    elif headers == "unknown-user":
        headers = basic("AC" + "0" * 32, emu.twilio_auth_token)
    assert isinstance(headers, dict)
    status, body, response_headers = await call(
        http, "GET", f"{emu.twilio_base_url}/Compositions", headers=headers
    )
    assert status == 401
    assert body["code"] == 20003 and body["status"] == 401
    assert response_headers["WWW-Authenticate"] == 'Basic realm="Twilio API"'


# -- validation --------------------------------------------------------------------------

GOOD = [("RoomSid", ROOM), ("AudioSources", "*")]


def layout(**region: Any) -> tuple[str, str]:
    return ("VideoLayout", json.dumps({"main": {"video_sources": ["*"], **region}}))


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ([("AudioSources", "*")], "Missing required parameter RoomSid"),
        ([("RoomSid", "RM123"), ("AudioSources", "*")], "Invalid RoomSid"),
        ([("RoomSid", "CJ" + "a" * 32), ("AudioSources", "*")], "Invalid RoomSid"),
        ([("RoomSid", ROOM)], "Either VideoLayout or AudioSources"),
        ([*GOOD, ("Resolution", "1280*720")], "Invalid Resolution"),
        ([*GOOD, ("Resolution", "1281x100")], "Invalid Resolution"),
        ([*GOOD, ("Resolution", "1280x1280")], "Invalid Resolution"),  # > 921,600 pixels
        ([*GOOD, ("Resolution", "15x480")], "Invalid Resolution"),
        ([*GOOD, ("Resolution", "1920x1080")], "Invalid Resolution"),
        ([*GOOD, ("Format", "mkv")], "Invalid Format"),
        ([*GOOD, ("VideoLayout", "{not json")], "Invalid VideoLayout"),
        ([*GOOD, ("VideoLayout", "[]")], "Invalid VideoLayout"),
        ([*GOOD, ("VideoLayout", '{"main": {}}')], "video_sources"),
        ([*GOOD, layout(z_pos=100)], "z_pos"),
        ([*GOOD, layout(x_pos=630)], "x_pos"),  # 640 - 16 is the last valid x
        ([*GOOD, layout(x_pos=100, width=600)], "width"),
        ([*GOOD, layout(height=15)], "height"),
        ([*GOOD, layout(max_columns=0)], "max_columns"),
        ([*GOOD, layout(max_rows=1001)], "max_rows"),
        ([*GOOD, layout(cells_excluded=[1_000_000])], "cells_excluded"),
        ([*GOOD, layout(reuse="sometimes")], "reuse"),
        ([*GOOD, layout(colour="red")], "unknown property"),
        ([*GOOD, layout(x_pos=True)], "x_pos"),
        ([*GOOD, ("StatusCallback", "not a url")], "Invalid StatusCallback"),
        ([*GOOD, ("StatusCallback", "ftp://example.com/cb")], "Invalid StatusCallback"),
        ([*GOOD, ("StatusCallbackMethod", "PUT")], "StatusCallbackMethod"),
        ([*GOOD, ("Trim", "yes")], "Invalid Trim"),
    ],
)
async def test_create_validation_errors(
    emu: Emulator, http: aiohttp.ClientSession, fields: list[tuple[str, str]], fragment: str
) -> None:
    status, body = await create(http, emu, fields)
    assert status == 400
    assert body["code"] == 20001 and body["status"] == 400
    assert fragment in body["message"]
    assert not emu.store.twilio  # nothing was created


async def test_create_accepts_limits_and_fills_layout_defaults(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    fields = [
        ("RoomSid", ROOM),
        ("Resolution", "1280x720"),
        layout(x_pos=1264, y_pos=0, z_pos=-99, width=16, cells_excluded=[0, 999_999]),
        ("StatusCallbackMethod", "get"),
    ]
    status, body = await create(http, emu, fields)
    assert status == 201
    assert body["video_layout"]["main"] == {
        "video_sources": ["*"],
        "video_sources_excluded": [],
        "reuse": "show_oldest",
        "x_pos": 1264,
        "y_pos": 0,
        "z_pos": -99,
        "width": 16,
        "height": 0,
        "max_columns": 0,
        "max_rows": 0,
        "cells_excluded": [0, 999_999],
    }
    assert body["format"] == "webm" and body["trim"] is True  # Twilio's defaults
    assert body["status_callback_method"] == "GET" and body["audio_sources"] == []


async def test_create_with_empty_layout_and_audio_sources(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    # The spec's own request example sends VideoLayout "{}" with AudioSources.
    status, body = await create(http, emu, [*GOOD, ("VideoLayout", "{}")])
    assert status == 201 and body["video_layout"] == {}


@pytest.mark.parametrize(
    ("query", "code", "fragment"),
    [
        ("Status=archived", 20001, "Invalid Status"),
        ("RoomSid=RM1", 20001, "Invalid RoomSid"),
        ("DateCreatedAfter=yesterday", 20001, "Invalid DateCreatedAfter"),
        ("DateCreatedBefore=2024-01-01T00:00:00", 20001, "time zone"),
        ("PageSize=0", 20001, "Invalid PageSize"),
        ("PageSize=101", 20001, "Invalid PageSize"),
        ("PageSize=ten", 20001, "Invalid PageSize"),
        ("Page=-1", 20001, "Invalid Page"),
        ("Page=1.5&PageToken=PAnope", 20001, "Invalid Page '"),
        ("Page=%D9%A3&PageToken=PAnope", 20001, "Invalid Page '"),  # a non-ASCII digit
        ("Page=&PageToken=PAnope", 20001, "Invalid Page '"),
        pytest.param(
            "Page=" + "9" * 5000 + "&PageToken=PAnope",
            20001,
            "Invalid Page '",
            id="Page=<5000 digits>",
        ),
        ("PageSize=99999999999", 20001, "Invalid PageSize"),
        ("Page=2", 70002, "must include a PageToken"),
        ("Page=1&PageToken=PAnope", 20001, "Invalid PageToken"),
    ],
)
async def test_list_validation_errors(
    emu: Emulator, http: aiohttp.ClientSession, query: str, code: int, fragment: str
) -> None:
    status, body, _ = await call(
        http, "GET", f"{emu.twilio_base_url}/Compositions?{query}", headers=auth(emu)
    )
    assert status == 400 and body["code"] == code and fragment in body["message"]


@pytest.mark.parametrize("sid", ["CJ" + "0" * 32, "CJ123", "RM" + "a" * 32, "..%2F"])
async def test_unknown_or_malformed_sid_is_404(
    emu: Emulator, http: aiohttp.ClientSession, sid: str
) -> None:
    for method in ("GET", "DELETE"):
        status, body, _ = await call(
            http, method, f"{emu.twilio_base_url}/Compositions/{sid}", headers=auth(emu)
        )
        assert status == 404 and body["code"] == 20404


# -- lifecycle ---------------------------------------------------------------------------


async def test_marked_room_fails_and_cannot_be_deleted(emu: Emulator) -> None:
    doomed_room = "RM" + "d" * 32
    emu.mark_failing(doomed_room)
    async with emu.twilio_client(retry=None) as client:
        ok = await client.compositions.create(room_sid=ROOM, audio_sources=["*"])
        doomed = await client.compositions.create(room_sid=doomed_room, audio_sources=["*"])
        assert await emu.finish() == 4
        assert (await client.compositions.fetch(ok.sid)).status is CompositionStatus.COMPLETED
        failed = await client.compositions.fetch(doomed.sid)
        assert failed.status is CompositionStatus.FAILED
        assert failed.date_completed is None and failed.size == 0
        with pytest.raises(BadRequestError, match="Failed compositions cannot be deleted"):
            await client.compositions.delete(doomed.sid)
        assert await emu.advance() == 0  # terminal states do not move


async def test_advance_one_composition_only(emu: Emulator) -> None:
    first, second = emu.seed_twilio(2, status="enqueued")
    assert await emu.advance(first, steps=5) == 2
    assert emu.composition(first)["status"] == "completed"
    assert emu.composition(second)["status"] == "enqueued"
    with pytest.raises(KeyError):
        await emu.advance("CJ" + "0" * 32)


async def test_deleted_are_hidden_unless_asked_for(emu: Emulator) -> None:
    sids = emu.seed_twilio(3)
    async with emu.twilio_client() as client:
        await client.compositions.delete(sids[1])
        visible = [c.sid for c in await client.compositions.list()]
        deleted = [c.sid for c in await client.compositions.list(status="deleted")]
        completed = [c.sid for c in await client.compositions.list(status="completed")]
    assert visible == [sids[2], sids[0]]
    assert deleted == [sids[1]]
    assert completed == visible


async def test_deleting_twice_is_404(emu: Emulator, http: aiohttp.ClientSession) -> None:
    (sid,) = emu.seed_twilio(1)
    url = f"{emu.twilio_base_url}/Compositions/{sid}"
    assert (await call(http, "DELETE", url, headers=auth(emu)))[0] == 204
    status, body, _ = await call(http, "DELETE", url, headers=auth(emu))
    assert status == 404 and body["code"] == 20404


# -- listing -----------------------------------------------------------------------------


async def test_paging_urls_are_absolute_and_walk_both_ways(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    sids = list(reversed(emu.seed_twilio(7, room_sid=ROOM)))
    first_url = f"{emu.twilio_base_url}/Compositions?RoomSid={ROOM}&PageSize=3"
    pages = []
    url: str | None = first_url
    while url is not None:
        status, page, _ = await call(http, "GET", url, headers=auth(emu))
        assert status == 200
        pages.append(page)
        url = page["meta"]["next_page_url"]
        assert url is None or url.startswith(f"{emu.url}/v1/Compositions?")
    assert [[c["sid"] for c in p["compositions"]] for p in pages] == [
        sids[0:3],
        sids[3:6],
        sids[6:7],
    ]
    meta = pages[1]["meta"]
    assert meta["page"] == 1 and meta["page_size"] == 3 and meta["key"] == "compositions"
    assert meta["first_page_url"] == (
        f"{emu.twilio_base_url}/Compositions?RoomSid={ROOM}&PageSize=3&Page=0"
    )
    assert meta["url"] == pages[0]["meta"]["next_page_url"]
    assert pages[0]["meta"]["previous_page_url"] is None
    status, back, _ = await call(http, "GET", meta["previous_page_url"], headers=auth(emu))
    assert [c["sid"] for c in back["compositions"]] == sids[0:3]


@pytest.mark.parametrize(
    "page", ["2000000000", "9223372036854775808", pytest.param("9" * 4000, id="<4000 digits>")]
)
async def test_any_page_number_is_accepted_with_a_page_token(
    emu: Emulator, http: aiohttp.ClientSession, page: str
) -> None:
    newest, middle, oldest = reversed(emu.seed_twilio(3, room_sid=ROOM))
    base = f"{emu.twilio_base_url}/Compositions"

    async def listing(query: str) -> Any:
        async with http.get(f"{base}?{query}", headers=auth(emu)) as response:
            assert response.status == 200
            raw = await response.read()
        # The page number is echoed as the JSON integer that was sent.
        assert b'"meta":{"page":' + page.encode() + b',"page_size":' in raw
        return json.loads(raw)

    # Past the end: an empty page and no next page.
    body = await listing(f"PageSize=2&Page={page}&PageToken=PA{oldest}")
    assert body["compositions"] == [] and body["meta"]["next_page_url"] is None
    assert body["meta"]["url"] == f"{base}?PageSize=2&Page={page}&PageToken=PA{oldest}"
    # Within the listing: the token says where the page starts; the number labels it.
    body = await listing(f"PageSize=1&Page={page}&PageToken=PA{newest}")
    assert [c["sid"] for c in body["compositions"]] == [middle]
    assert body["meta"]["next_page_url"] == (
        f"{base}?PageSize=1&Page={int(page) + 1}&PageToken=PA{middle}"
    )
    assert body["meta"]["previous_page_url"] == (
        f"{base}?PageSize=1&Page={int(page) - 1}&PageToken=PB{middle}"
    )


async def test_filters_status_room_and_dates(emu: Emulator, http: aiohttp.ClientSession) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    hourly = emu.seed_twilio(4, start=start, interval=timedelta(hours=1), room_sid=ROOM)
    other_room = emu.seed_twilio(1, start=start, status="processing")

    async def sids(query: str) -> list[str]:
        url = f"{emu.twilio_base_url}/Compositions?{query}"
        status, body, _ = await call(http, "GET", url, headers=auth(emu))
        assert status == 200
        return sorted(c["sid"] for c in body["compositions"])

    after = urllib.parse.quote("2024-01-01T01:00:00Z")
    before = urllib.parse.quote("2024-01-01T03:00:00Z")
    assert await sids(f"DateCreatedAfter={after}&RoomSid={ROOM}") == sorted(hourly[1:])
    assert await sids(f"DateCreatedBefore={before}&RoomSid={ROOM}") == sorted(hourly[:3])
    assert await sids(f"DateCreatedAfter={after}&DateCreatedBefore={before}") == sorted(hourly[1:3])
    # An offset is honoured: 02:00+01:00 is 01:00Z.
    offset = urllib.parse.quote("2024-01-01T02:00:00+01:00")
    assert await sids(f"DateCreatedAfter={offset}&RoomSid={ROOM}") == sorted(hourly[1:])
    assert await sids("Status=processing") == other_room
    assert await sids(f"RoomSid={ROOM.upper().replace('RM', 'RM', 1)}") == sorted(hourly)


async def test_empty_listing_has_meta_and_no_next_page(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    listing = f"{emu.twilio_base_url}/Compositions?Status=enqueued&PageSize=10"
    status, body, _ = await call(http, "GET", listing, headers=auth(emu))
    assert status == 200
    # The shape of the spec's own "readEnqueued" example, with the emulator's URLs.
    assert body == {
        "compositions": [],
        "meta": {
            "page": 0,
            "page_size": 10,
            "first_page_url": f"{listing}&Page=0",
            "previous_page_url": None,
            "url": f"{listing}&Page=0",
            "next_page_url": None,
            "key": "compositions",
        },
    }


# -- media -------------------------------------------------------------------------------


async def test_media_redirect_and_download(emu: Emulator, http: aiohttp.ClientSession) -> None:
    (sid,) = emu.seed_twilio(1, format="webm", media_size=5000)
    url = f"{emu.twilio_base_url}/Compositions/{sid}/Media?Ttl=3600"
    status, body, headers = await call(http, "GET", url, headers=auth(emu))
    assert status == 302
    assert headers["Location"] == body["redirect_to"]
    target = URL(body["redirect_to"])
    assert target.origin() == URL(emu.url) and target.path.endswith(f"/{sid}.webm")
    assert target.query["X-Amz-Expires"] == "3600"
    async with http.get(target) as response:  # no credentials: the URL is pre-signed
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/webm"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{sid}.webm"'
        assert response.content_length == 5000
        assert await response.read() == emu.media_bytes(sid)


async def test_media_content_disposition_and_ttl_limits(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    (sid,) = emu.seed_twilio(1)
    base = f"{emu.twilio_base_url}/Compositions/{sid}/Media"
    inline = urllib.parse.quote('inline; filename="MyFile.mp4"')
    status, body, _ = await call(
        http, "GET", f"{base}?ContentDisposition={inline}", headers=auth(emu)
    )
    assert status == 302
    assert URL(body["redirect_to"]).query["X-Amz-Expires"] == "600"  # the default Ttl
    async with http.get(URL(body["redirect_to"], encoded=True)) as response:
        assert response.headers["Content-Disposition"] == 'inline; filename="MyFile.mp4"'
    for bad in ("Ttl=0", "Ttl=3601", "Ttl=x", "ContentDisposition=download"):
        status, error, _ = await call(http, "GET", f"{base}?{bad}", headers=auth(emu))
        assert status == 400 and error["code"] == 20001, bad


@pytest.mark.parametrize("state", ["enqueued", "processing", "failed", "deleted"])
async def test_media_is_404_unless_completed(
    emu: Emulator, http: aiohttp.ClientSession, state: str
) -> None:
    (sid,) = emu.seed_twilio(1, status=state)
    status, body, _ = await call(
        http, "GET", f"{emu.twilio_base_url}/Compositions/{sid}/Media", headers=auth(emu)
    )
    assert status == 404 and body["code"] == 20404


async def test_every_response_has_its_own_request_id(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    (sid,) = emu.seed_twilio(1)
    ids = set()
    for method, path, headers in [
        ("GET", "/Compositions", auth(emu)),
        ("GET", f"/Compositions/{sid}", auth(emu)),
        ("GET", "/Compositions", {}),
        ("POST", "/Compositions", auth(emu)),
        ("DELETE", f"/Compositions/{sid}", auth(emu)),
        ("GET", "/Nope", auth(emu)),
    ]:
        async with http.request(method, emu.twilio_base_url + path, headers=headers) as r:
            ids.add(r.headers["Twilio-Request-Id"])
            assert re.fullmatch(r"RQ[0-9a-f]{32}", r.headers["Twilio-Request-Id"])
    assert len(ids) == 6
    assert [r.request_id for r in emu.requests] and {r.request_id for r in emu.requests} == ids


async def test_library_download_resumes_after_a_cut_connection(
    emu: Emulator, tmp_path: Path
) -> None:
    (sid,) = emu.seed_twilio(1, media_size=300_000)
    emu.inject("truncate", path="/_media/*")
    async with emu.twilio_client() as client:
        result = await client.compositions.download(sid, tmp_path)
    assert result.size == 300_000
    assert result.path.read_bytes() == emu.media_bytes(sid)
    media = [r for r in emu.requests if r.path.startswith("/_media/")]
    assert [(r.fault, r.headers.get("Range"), r.status) for r in media] == [
        ("truncate", None, None),
        (None, "bytes=150000-", 206),
    ]
    assert all("Authorization" not in r.headers for r in media)
