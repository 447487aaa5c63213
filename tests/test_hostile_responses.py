"""Whatever a server sends, only the library's own exceptions escape, and none holds a secret."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses
from helpers import basic_auth
from yarl import URL

from async_compositions import (
    APIConnectionError,
    CompositionsError,
    NotFoundError,
    ResponseDecodeError,
    RetryPolicy,
    TelnyxClient,
    TwilioClient,
)
from async_compositions.emulator import Emulator

SID = "CJ" + "a" * 32
ROOM = "RM" + "b" * 32
ACCOUNT = "AC" + "c" * 32
TOKEN = "tw1l10-auth-token-d4e5f6"
KEY = "KEYsecret0123456789abcdef_tEl"
ID = "7103dc53-ee59-4b54-a58b-c77d99ceb037"
SESSION = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
TWILIO = "https://video.twilio.com/v1"
TELNYX = "https://api.telnyx.com/v2"
SIGNATURE = "X-Amz-Signature=deadbeefcafe"
SECRETS = (TOKEN, KEY, base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode(), "deadbeefcafe")
NO_RETRY = RetryPolicy.disabled()
FAR_FUTURE = "9999-12-31T23:59:59-05:00"  # valid ISO 8601, but past year 9999 in UTC


def twilio_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "sid": SID,
        "status": "completed",
        "account_sid": ACCOUNT,
        "room_sid": ROOM,
        "date_created": "2024-05-01T10:00:00Z",
        "links": {"media": f"{TWILIO}/Compositions/{SID}/Media"},
    }
    record.update(changes)
    return record


def telnyx_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": ID,
        "status": "completed",
        "session_id": SESSION,
        "created_at": "2024-05-01T10:00:00Z",
        "download_url": f"https://media.example.com/{ID}.mp4?{SIGNATURE}",
    }
    record.update(changes)
    return record


def twilio_page(records: list[Any], **meta: Any) -> dict[str, Any]:
    return {
        "compositions": records,
        "meta": {"page": 0, "page_size": 50, "key": "compositions", "next_page_url": None, **meta},
    }


def telnyx_page(records: list[Any], **meta: Any) -> dict[str, Any]:
    return {
        "data": records,
        "meta": {"page_number": 1, "page_size": 20, "total_pages": 1, **meta},
    }


@pytest.fixture
def mocked() -> Any:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioClient]:
    async with TwilioClient(ACCOUNT, TOKEN, retry=NO_RETRY) as client:
        yield client


@pytest.fixture
async def telnyx() -> AsyncIterator[TelnyxClient]:
    async with TelnyxClient(KEY, retry=NO_RETRY) as client:
        yield client


def entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def reachable(exc: BaseException) -> list[object]:
    """Every object an error tracker could reach from ``exc``: chain, args, attributes."""
    seen: list[object] = []
    todo: list[object] = [exc]
    ids: set[int] = set()
    while todo:
        obj = todo.pop()
        if id(obj) in ids:
            continue
        ids.add(id(obj))
        seen.append(obj)
        if isinstance(obj, BaseException):
            todo += [obj.__cause__, obj.__context__, *obj.args]
        if hasattr(obj, "__dict__"):
            todo += list(vars(obj).values())
        if isinstance(obj, list | tuple):
            todo += list(obj)
        if isinstance(obj, dict):
            todo += list(obj.values())
    return [o for o in seen if o is not None]


def assert_no_secret(exc: BaseException) -> None:
    for obj in reachable(exc):
        for text in (repr(obj), str(obj)):
            for secret in SECRETS:
                assert secret not in text, (type(obj).__name__, text)


# -- a timestamp past year 9999 in UTC, from every verb that decodes -------------------------


@pytest.mark.parametrize("verb", ["fetch", "create", "page", "list", "stream", "wait"])
async def test_twilio_far_future_date_is_a_decode_error(
    twilio: TwilioClient, mocked: Any, verb: str
) -> None:
    record = twilio_record(date_completed=FAR_FUTURE)
    item_url = f"{TWILIO}/Compositions/{SID}"
    mocked.get(item_url, payload=record, headers={"Twilio-Request-Id": "RQ1"})
    mocked.post(f"{TWILIO}/Compositions", status=201, payload=record)
    mocked.get(f"{TWILIO}/Compositions", payload=twilio_page([record]))
    verbs: dict[str, Callable[[], Any]] = {
        "fetch": lambda: twilio.compositions.fetch(SID),
        "create": lambda: twilio.compositions.create(ROOM, audio_sources=["*"]),
        "page": lambda: twilio.compositions.page(),
        "list": lambda: twilio.compositions.list(),
        "stream": lambda: _drain(twilio.compositions.stream()),
        "wait": lambda: twilio.compositions.wait(SID, timeout=5),
    }
    with pytest.raises(ResponseDecodeError, match="outside the datetime range") as info:
        await verbs[verb]()
    assert info.value.status in (200, 201)
    if verb in ("fetch", "wait"):
        assert info.value.request_id == "RQ1"


@pytest.mark.parametrize("verb", ["fetch", "create", "page", "stream", "media_url", "download"])
async def test_telnyx_far_future_date_is_a_decode_error(
    telnyx: TelnyxClient, mocked: Any, verb: str, tmp_path: Path
) -> None:
    record = telnyx_record(completed_at=FAR_FUTURE)
    mocked.get(f"{TELNYX}/room_compositions/{ID}", payload={"data": record})
    mocked.post(f"{TELNYX}/room_compositions", status=202, payload={"data": record})
    mocked.get(f"{TELNYX}/room_compositions", payload=telnyx_page([record]))
    verbs: dict[str, Callable[[], Any]] = {
        "fetch": lambda: telnyx.compositions.fetch(ID),
        "create": lambda: telnyx.compositions.create(session_id=SESSION),
        "page": lambda: telnyx.compositions.page(),
        "stream": lambda: _drain(telnyx.compositions.stream()),
        "media_url": lambda: telnyx.compositions.media_url(ID),
        "download": lambda: telnyx.compositions.download(ID, tmp_path),
    }
    with pytest.raises(ResponseDecodeError, match="outside the datetime range"):
        await verbs[verb]()
    assert entries(tmp_path) == []


async def _drain(stream: Any) -> list[Any]:
    return [item async for item in stream]


# -- decoding never invents values ---------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sid": None}, "requires 'sid', got null"),
        ({"sid": True}, "expected a string, got a boolean"),
        ({"links": False}, "expected an object"),
        ({"links": {"media": False}}, "expected a string for 'media', got a boolean"),
        ({"links": {"media": None}}, "got null"),
        ({"status_callback": True}, "expected a string, got a boolean"),
        ({"resolution": {"w": 1}}, "expected a string, got an object"),
        ({"format": ["mp4"]}, "expected a string, got an array"),
        ({"audio_sources": [True]}, "expected a string, got a boolean"),
        ({"status": None}, "composition did not decode"),
    ],
)
async def test_twilio_values_are_never_turned_into_text(
    twilio: TwilioClient, mocked: Any, changes: dict[str, Any], message: str
) -> None:
    mocked.get(f"{TWILIO}/Compositions/{SID}", payload=twilio_record(**changes))
    with pytest.raises(ResponseDecodeError, match=message):
        await twilio.compositions.fetch(SID)


async def test_twilio_missing_required_field(twilio: TwilioClient, mocked: Any) -> None:
    record = twilio_record()
    del record["sid"]
    mocked.get(f"{TWILIO}/Compositions/{SID}", payload=record)
    with pytest.raises(ResponseDecodeError, match="requires 'sid'"):
        await twilio.compositions.fetch(SID)


async def test_null_in_optional_fields_is_none(twilio: TwilioClient, mocked: Any) -> None:
    record = twilio_record(room_sid=None, links=None, resolution=None, size=None)
    mocked.get(f"{TWILIO}/Compositions/{SID}", payload=record)
    comp = await twilio.compositions.fetch(SID)
    assert (comp.room_sid, comp.links, comp.resolution, comp.size) == (None, None, None, None)
    assert comp.media_link is None


async def test_numbers_may_stand_for_text(twilio: TwilioClient, mocked: Any) -> None:
    mocked.get(f"{TWILIO}/Compositions/{SID}", payload=twilio_record(resolution=640))
    assert (await twilio.compositions.fetch(SID)).resolution == "640"


@pytest.mark.parametrize(
    "changes",
    [{"id": None}, {"id": False}, {"format": False}, {"session_id": {"x": 1}}, {"id": []}],
)
async def test_telnyx_values_are_never_turned_into_text(
    telnyx: TelnyxClient, mocked: Any, changes: dict[str, Any]
) -> None:
    mocked.get(f"{TELNYX}/room_compositions/{ID}", payload={"data": telnyx_record(**changes)})
    with pytest.raises(ResponseDecodeError):
        await telnyx.compositions.fetch(ID)


# -- list bodies of the wrong shape ---------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"key": ["x"]}, "meta.key is not a string"),
        ({"key": {"a": 1}}, "meta.key is not a string"),
        ({"next_page_url": "http://[::1"}, "next_page_url is not a Compositions listing URL"),
        ({"next_page_url": f"{TWILIO}/Rooms?PageToken=x"}, "not a Compositions listing URL"),
        ({"next_page_url": f"{TWILIO}/Compositions?Page Token=x"}, "not a Compositions listing"),
        ({"next_page_url": 5}, "next_page_url is not a string"),
    ],
)
async def test_twilio_page_of_the_wrong_shape(
    twilio: TwilioClient, mocked: Any, meta: dict[str, Any], message: str
) -> None:
    mocked.get(
        f"{TWILIO}/Compositions",
        payload=twilio_page([twilio_record()], **meta),
        headers={"Twilio-Request-Id": "RQ7"},
        repeat=True,
    )
    with pytest.raises(ResponseDecodeError, match=message) as info:
        await twilio.compositions.page()
    assert (info.value.status, info.value.request_id) == (200, "RQ7")
    with pytest.raises(ResponseDecodeError, match=message):
        await _drain(twilio.compositions.stream())


async def test_next_page_url_with_userinfo_is_followed_without_it() -> None:
    """aiohttp refuses to combine credentials in a URL with an Authorization header."""
    async with Emulator(manual=True, account_sid=ACCOUNT, auth_token=TOKEN) as emu:
        listed = emu.seed_twilio(5)[::-1]
        host = emu.url.split("://", 1)[1]
        emu.public_origin = f"http://u:p@{host}"
        async with emu.twilio_client(retry=NO_RETRY) as client:
            first = await client.compositions.page(page_size=2)
            got = [c.sid async for c in client.compositions.stream(page_size=2)]
    assert first.next_page_url is not None and first.next_page_url.startswith("http://u:p@")
    assert got == listed
    auth = {r.headers["Authorization"] for r in emu.requests}
    assert auth == {basic_auth(ACCOUNT, TOKEN)}
    assert [r.page for r in emu.requests[1:]] == [0, 1, 2]


async def test_telnyx_meta_of_the_wrong_shape(telnyx: TelnyxClient, mocked: Any) -> None:
    mocked.get(
        f"{TELNYX}/room_compositions",
        payload={"data": [telnyx_record()], "meta": {"total_pages": "1"}},
    )
    with pytest.raises(ResponseDecodeError, match="total_pages"):
        await telnyx.compositions.page()


# -- media URLs the client cannot fetch ------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "http://[::1",
        "ftp://media.example.com/x.mp4",
        "mailto:media@example.com",
        "http://exa mple.com/x",
    ],
)
async def test_twilio_unusable_redirect_is_a_decode_error(
    twilio: TwilioClient, mocked: Any, target: str, tmp_path: Path
) -> None:
    mocked.get(
        f"{TWILIO}/Compositions/{SID}/Media",
        status=302,
        payload={"redirect_to": target},
        headers={"Twilio-Request-Id": "RQ9"},
        repeat=True,
    )
    with pytest.raises(ResponseDecodeError, match="not an absolute http") as info:
        await twilio.compositions.media_url(SID)
    assert (info.value.status, info.value.request_id) == (302, "RQ9")
    with pytest.raises(ResponseDecodeError):
        await twilio.compositions.download(SID, tmp_path)
    assert entries(tmp_path) == []


async def test_twilio_relative_location_is_resolved(twilio: TwilioClient, mocked: Any) -> None:
    mocked.get(
        f"{TWILIO}/Compositions/{SID}/Media",
        status=302,
        body=b"",
        headers={"Location": f"/media/{SID}.mp4?{SIGNATURE}"},
    )
    url = await twilio.compositions.media_url(SID)
    assert str(url) == f"https://video.twilio.com/media/{SID}.mp4?{SIGNATURE}"


@pytest.mark.parametrize("download_url", ["ftp://media.example.com/x.mp4", "/media/x.mp4"])
async def test_telnyx_unusable_download_url(
    telnyx: TelnyxClient, mocked: Any, download_url: str, tmp_path: Path
) -> None:
    mocked.get(
        f"{TELNYX}/room_compositions/{ID}",
        payload={"data": telnyx_record(download_url=download_url)},
        headers={"x-request-id": "req-3"},
        repeat=True,
    )
    with pytest.raises(ResponseDecodeError, match="not an absolute http") as info:
        await telnyx.compositions.media_url(ID)
    assert info.value.request_id == "req-3"
    with pytest.raises(ResponseDecodeError):
        await telnyx.compositions.download(ID, tmp_path)
    assert entries(tmp_path) == []
    assert len(mocked.requests[("GET", URL(f"{TELNYX}/room_compositions/{ID}"))]) == 2


async def test_telnyx_no_download_url_yet(telnyx: TelnyxClient, mocked: Any) -> None:
    mocked.get(
        f"{TELNYX}/room_compositions/{ID}",
        payload={"data": telnyx_record(download_url=None, status="processing")},
        headers={"x-request-id": "req-4"},
    )
    with pytest.raises(NotFoundError, match="no download_url yet") as info:
        await telnyx.compositions.media_url(ID)
    assert info.value.request_id == "req-4"


# -- malformed status lines, over real sockets ------------------------------------------------


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    # The emulator knows this file's secrets, so that an error holding them is caught.
    async with Emulator(
        manual=True, account_sid=ACCOUNT, auth_token=TOKEN, telnyx_api_key=KEY
    ) as e:
        yield e


async def test_malformed_status_line_from_the_api(emu: Emulator) -> None:
    emu.inject("malformed_status", times=2)  # "HTTP/1.1 2OO OK"
    async with TwilioClient(ACCOUNT, TOKEN, base_url=emu.twilio_base_url, retry=NO_RETRY) as twilio:
        with pytest.raises(APIConnectionError) as info:
            await twilio.compositions.fetch(SID)
    assert_no_secret(info.value)
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert "2OO" in info.value.cause or "status" in info.value.cause.lower()
    async with TelnyxClient(KEY, base_url=emu.telnyx_base_url, retry=NO_RETRY) as telnyx:
        with pytest.raises(APIConnectionError) as info:
            await telnyx.compositions.page()
    assert_no_secret(info.value)
    # The server saw the credentials: the test would catch them if they were in the error.
    assert emu.requests[0].headers["authorization"] == f"Basic {SECRETS[2]}"
    assert emu.requests[1].headers["authorization"] == f"Bearer {KEY}"
    assert [r.fault for r in emu.requests] == ["malformed_status"] * 2


async def test_malformed_status_line_from_the_media_host(emu: Emulator, tmp_path: Path) -> None:
    (id,) = emu.seed_telnyx(1)
    token = URL(emu.composition(id)["download_url"]).query["token"]
    emu.inject("malformed_status", path="/_media/*")
    async with TelnyxClient(KEY, base_url=emu.telnyx_base_url, retry=NO_RETRY) as telnyx:
        with pytest.raises(CompositionsError) as info:
            await telnyx.compositions.download(id, tmp_path)
    assert isinstance(info.value, APIConnectionError)
    assert_no_secret(info.value)
    for obj in reachable(info.value):  # nor the media URL's signing token
        assert token not in repr(obj) and token not in str(obj)
    assert entries(tmp_path) == []
    api, media = emu.requests
    assert api.headers["Authorization"] == f"Bearer {KEY}"
    assert media.path == f"/_media/telnyx/{id}.mp4" and media.fault == "malformed_status"
    assert "authorization" not in media.headers


async def test_wrong_json_shapes_never_escape_as_builtin_errors(
    twilio: TwilioClient, telnyx: TelnyxClient, mocked: Any
) -> None:
    shapes: list[Any] = [[], "text", 5, None, {"compositions": {}}, {"meta": []}, {"data": {}}]
    for shape in shapes:
        mocked.get(f"{TWILIO}/Compositions", body=json.dumps(shape))
        mocked.get(f"{TELNYX}/room_compositions", body=json.dumps(shape))
        mocked.get(f"{TWILIO}/Compositions/{SID}", body=json.dumps(shape))
        mocked.get(f"{TELNYX}/room_compositions/{ID}", body=json.dumps(shape))
        for call in (
            twilio.compositions.page,
            telnyx.compositions.page,
            lambda: twilio.compositions.fetch(SID),
            lambda: telnyx.compositions.fetch(ID),
        ):
            with pytest.raises(ResponseDecodeError):
                await call()
