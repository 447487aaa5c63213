"""What TwilioClient puts on the wire, byte for byte, as the emulator receives it.

The official twilio-python SDK runs against the same emulator, so its requests are the
reference: the emulator's request log keeps each path, query string and body as sent.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import pytest
from helpers import basic_auth, unused_port

import async_compositions
from async_compositions import (
    APIConnectionError,
    AuthenticationError,
    RetryPolicy,
    ServerError,
    TwilioClient,
)
from async_compositions.emulator import Emulator
from async_compositions.twilio import VideoRegion

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "s3cr3t-auth-token-0f9e8d7c6b5a"
API_KEY = "SK" + "fedcba9876543210" * 2
API_SECRET = "s3cr3t-api-secret-1a2b3c4d5e6f"
ROOM_SID = "RM" + "1" * 32
FORM = "application/x-www-form-urlencoded"
ROOM_A = "RM" + "a" * 32
# The body twilio-python 9.13.0 sent for this call, captured on loopback (spec section 1.6).
SDK_CREATE_BODY = (
    b"RoomSid=RMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    b"&VideoLayout=%7B%22grid%22%3A+%7B%22video_sources%22%3A+%5B%22%2A%22%5D%7D%7D"
    b"&AudioSources=a&AudioSources=b%2A&Resolution=1280x720&Format=mp4&Trim=false"
)
SDK_CREATE_KWARGS: dict[str, Any] = {
    "audio_sources": ["a", "b*"],
    "video_layout": {"grid": {"video_sources": ["*"]}},
    "trim": False,
    "format": "mp4",
    "resolution": "1280x720",
}
TWILIO_ORIGIN = "https://video.twilio.com"
# twilio-python writes any datetime's wall-clock time with a "Z" (it does not convert to
# UTC, as we do), so the comparisons use UTC datetimes.
SDK_LIST_FILTERS: dict[str, Any] = {
    "status": "completed",
    "date_created_after": datetime(2024, 1, 1, tzinfo=UTC),
    "date_created_before": datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
    "room_sid": ROOM_SID,
}
SDK_LIST_QUERY = (
    "Status=completed&DateCreatedAfter=2024-01-01T00%3A00%3A00Z"
    f"&DateCreatedBefore=2024-12-31T23%3A59%3A59Z&RoomSid={ROOM_SID}"
)
TWILIO_ENV = (
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_API_KEY",
    "TWILIO_API_SECRET",
    "TWILIO_VIDEO_BASE_URL",
)


def emulator() -> Emulator:
    """An emulator that knows this file's credentials (both the token and the API key)."""
    return Emulator(
        manual=True,
        seed=13,
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        api_key_sid=API_KEY,
        api_key_secret=API_SECRET,
    )


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with emulator() as emulator_:
        yield emulator_


@pytest.fixture
def newest_first(emu: Emulator) -> list[str]:
    """Seven completed compositions of ROOM_SID made in 2024, as the listing orders them."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    return emu.seed_twilio(7, room_sid=ROOM_SID, start=start)[::-1]


@pytest.fixture
async def client(emu: Emulator, newest_first: list[str]) -> AsyncIterator[TwilioClient]:
    async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=emu.twilio_base_url, retry=None) as c:
        yield c


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in TWILIO_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# -- the official SDK, pointed at the emulator -----------------------------------------------------


@contextmanager
def _aiohttp_auth_deprecations_ignored() -> Iterator[None]:
    with warnings.catch_warnings():
        # twilio-python 9.13's async client passes auth=BasicAuth(...) to aiohttp, and
        # aiohttp 3.14 deprecates both BasicAuth and the auth= parameter.
        warnings.filterwarnings("ignore", "BasicAuth is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", "The 'auth' parameter is deprecated", DeprecationWarning)
        yield


@asynccontextmanager
async def twilio_python_async(emu: Emulator) -> AsyncIterator[Any]:
    """twilio-python's Client on its aiohttp-based AsyncTwilioHttpClient, sent to ``emu``."""
    from twilio.http.async_http_client import (  # type: ignore[import-untyped]
        AsyncTwilioHttpClient,
    )
    from twilio.rest import Client  # type: ignore[import-untyped]

    class LoopbackHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
        async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            url = url.replace(TWILIO_ORIGIN, emu.url)
            return await super().request(method, url, *args, **kwargs)

    with _aiohttp_auth_deprecations_ignored():
        async with LoopbackHttpClient() as http:
            yield Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)


@contextmanager
def twilio_python_sync(emu: Emulator) -> Iterator[Any]:
    """twilio-python's Client on its default requests-based TwilioHttpClient, sent to ``emu``.

    It blocks, so call it in a thread while the emulator runs on the event loop.
    """
    from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped]
    from twilio.rest import Client

    class LoopbackHttpClient(TwilioHttpClient):  # type: ignore[misc]
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            url = url.replace(TWILIO_ORIGIN, emu.url)
            return super().request(method, url, *args, **kwargs)

    http = LoopbackHttpClient()
    # No proxy from the environment may take these loopback requests anywhere else.
    http.session.trust_env = False
    try:
        yield Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
    finally:
        http.session.close()


# -- list query strings ---------------------------------------------------------------------


async def test_list_query_string_bytes_in_sdk_order(emu: Emulator, client: TwilioClient) -> None:
    after = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    await client.compositions.page(status="completed", date_created_after=after, page_size=3)
    (req,) = emu.requests
    assert req.method == "GET"
    assert req.path == "/v1/Compositions"
    assert (
        req.query_string == "Status=completed&DateCreatedAfter=2024-01-02T03%3A04%3A05Z&PageSize=3"
    )


async def test_every_filter_in_order(emu: Emulator, client: TwilioClient) -> None:
    await client.compositions.page(
        page_size=5,
        room_sid=ROOM_SID,
        date_created_before=datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),
        date_created_after=datetime(2024, 1, 1, tzinfo=UTC),
        status=async_compositions.CompositionStatus.ENQUEUED,
    )
    assert emu.requests[0].query_string == (
        "Status=enqueued&DateCreatedAfter=2024-01-01T00%3A00%3A00Z"
        f"&DateCreatedBefore=2024-12-31T23%3A59%3A59Z&RoomSid={ROOM_SID}&PageSize=5"
    )


async def test_no_filters_sends_no_query(emu: Emulator, client: TwilioClient) -> None:
    await client.compositions.page()
    assert emu.requests[0].url_path_qs == "/v1/Compositions"


@pytest.mark.parametrize(
    ("moment", "wire"),
    [
        # 12:00 at +02:00 is 10:00 UTC: converted, not just suffixed with Z.
        (
            datetime(2024, 1, 2, 12, 0, tzinfo=timezone(timedelta(hours=2))),
            "2024-01-02T10%3A00%3A00Z",
        ),
        # West of UTC late in the day crosses into the next UTC date.
        (
            datetime(2024, 12, 31, 22, 30, 15, tzinfo=timezone(timedelta(hours=-5))),
            "2025-01-01T03%3A30%3A15Z",
        ),
    ],
)
async def test_aware_datetimes_are_sent_as_utc_z(
    emu: Emulator, client: TwilioClient, moment: datetime, wire: str
) -> None:
    await client.compositions.page(date_created_after=moment, date_created_before=moment)
    assert emu.requests[0].query_string == (f"DateCreatedAfter={wire}&DateCreatedBefore={wire}")


async def test_later_pages_get_next_page_url_verbatim(
    emu: Emulator, client: TwilioClient, newest_first: list[str]
) -> None:
    items = [c async for c in client.compositions.stream(status="completed", page_size=3)]
    assert [c.sid for c in items] == newest_first
    first, second, third = emu.requests
    assert first.query_string == "Status=completed&PageSize=3"
    # Exactly the server's next_page_url, token included, nothing added or reordered.
    listing = "/v1/Compositions?Status=completed&PageSize=3"
    assert second.url_path_qs == f"{listing}&Page=1&PageToken=PA{newest_first[2]}"
    assert third.url_path_qs == f"{listing}&Page=2&PageToken=PA{newest_first[5]}"


# -- create bodies ---------------------------------------------------------------------------


async def test_create_body_matches_the_official_sdk(emu: Emulator, client: TwilioClient) -> None:
    created = await client.compositions.create(ROOM_A, **SDK_CREATE_KWARGS)
    (req,) = emu.requests
    assert (req.method, req.path, req.query_string) == ("POST", "/v1/Compositions", "")
    assert req.headers["Content-Type"] == FORM
    assert req.body == SDK_CREATE_BODY
    assert created.room_sid == ROOM_A
    assert created.trim is False


async def test_create_body_equals_what_twilio_python_sends(emu: Emulator) -> None:
    """Run the real twilio-python SDK against the same emulator and compare the bodies."""
    async with twilio_python_async(emu) as sdk:
        await sdk.video.v1.compositions.create_async(room_sid=ROOM_A, **SDK_CREATE_KWARGS)
    async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=emu.twilio_base_url) as ours:
        await ours.compositions.create(ROOM_A, **SDK_CREATE_KWARGS)
    theirs_req, ours_req = emu.requests
    assert (theirs_req.method, theirs_req.url_path_qs) == ("POST", "/v1/Compositions")
    assert theirs_req.headers["Content-Type"] == FORM
    assert theirs_req.body == SDK_CREATE_BODY
    assert (ours_req.method, ours_req.url_path_qs) == (theirs_req.method, theirs_req.url_path_qs)
    assert ours_req.headers["Content-Type"] == theirs_req.headers["Content-Type"]
    assert ours_req.body == theirs_req.body
    assert ours_req.headers["Authorization"] == theirs_req.headers["Authorization"]


async def test_list_query_equals_what_twilio_python_sends(
    emu: Emulator, client: TwilioClient, newest_first: list[str]
) -> None:
    """twilio-python's default (requests) client: the same query string, byte for byte."""

    def sdk_lists() -> None:
        with twilio_python_sync(emu) as sdk:
            first = sdk.video.v1.compositions.page(**SDK_LIST_FILTERS, page_size=3)
            assert first.next_page() is not None

    await asyncio.to_thread(sdk_lists)
    first = await client.compositions.page(**SDK_LIST_FILTERS, page_size=3)
    assert await first.next_page() is not None
    sdk_first, sdk_second, ours_first, ours_second = emu.requests
    assert sdk_first.url_path_qs == f"/v1/Compositions?{SDK_LIST_QUERY}&PageSize=3"
    # The second request is the emulator's next_page_url, verbatim (its filter order).
    assert first.next_page_url is not None
    assert sdk_second.url_path_qs == first.next_page_url.removeprefix(emu.url)
    assert sdk_second.query_string.endswith(f"&PageSize=3&Page=1&PageToken=PA{newest_first[2]}")
    assert ours_first.url_path_qs == sdk_first.url_path_qs
    assert ours_second.url_path_qs == sdk_second.url_path_qs
    for request in emu.requests:
        assert (request.method, request.body) == ("GET", b"")
        assert request.headers["Authorization"] == basic_auth(ACCOUNT_SID, AUTH_TOKEN)


async def test_list_query_differs_from_async_twilio_python_only_in_colons(
    emu: Emulator, client: TwilioClient
) -> None:
    """twilio-python's aiohttp client lets yarl encode the query, which leaves ':' bare."""
    async with twilio_python_async(emu) as sdk:
        await sdk.video.v1.compositions.page_async(**SDK_LIST_FILTERS, page_size=3)
    await client.compositions.page(**SDK_LIST_FILTERS, page_size=3)
    theirs_req, ours_req = emu.requests
    assert theirs_req.query_string == (
        "Status=completed&DateCreatedAfter=2024-01-01T00:00:00Z"
        f"&DateCreatedBefore=2024-12-31T23:59:59Z&RoomSid={ROOM_SID}&PageSize=3"
    )
    assert ours_req.query_string == theirs_req.query_string.replace(":", "%3A")
    assert parse_qsl(ours_req.query_string) == parse_qsl(theirs_req.query_string)


async def test_fetch_and_delete_equal_what_twilio_python_sends(
    emu: Emulator, client: TwilioClient, newest_first: list[str]
) -> None:
    sid = newest_first[4]
    async with twilio_python_async(emu) as sdk:
        await sdk.video.v1.compositions(sid).fetch_async()
        assert await sdk.video.v1.compositions(sid).delete_async() is True
    # Undelete it, so that our DELETE meets the composition the SDK's did.
    record = emu.store.twilio[sid]
    assert record.status == "deleted"
    record.status, record.date_deleted = "completed", None
    # Outside the SDK's warning filters: they must not hide a deprecation of ours.
    await client.compositions.fetch(sid)
    await client.compositions.delete(sid)
    sdk_get, sdk_delete, ours_get, ours_delete = emu.requests
    assert (sdk_get.method, sdk_get.url_path_qs) == ("GET", f"/v1/Compositions/{sid}")
    assert (sdk_delete.method, sdk_delete.url_path_qs) == ("DELETE", f"/v1/Compositions/{sid}")
    for theirs_req, ours_req in ((sdk_get, ours_get), (sdk_delete, ours_delete)):
        assert (ours_req.method, ours_req.url_path_qs) == (
            theirs_req.method,
            theirs_req.url_path_qs,
        )
        assert ours_req.body == theirs_req.body == b""
        assert ours_req.headers["Authorization"] == theirs_req.headers["Authorization"]
    assert sdk_delete.status == ours_delete.status == 204


async def test_create_only_set_fields_are_sent(emu: Emulator, client: TwilioClient) -> None:
    await client.compositions.create(ROOM_SID, audio_sources=["*"])
    assert emu.requests[0].body == f"RoomSid={ROOM_SID}&AudioSources=%2A".encode()


async def test_create_every_field(emu: Emulator, client: TwilioClient) -> None:
    await client.compositions.create(
        ROOM_SID,
        video_layout={"main": {"video_sources": ["cam*"], "max_columns": 2, "z_pos": -3}},
        audio_sources=["mic-1", "guest*"],
        audio_sources_excluded=["noise", "music*"],
        resolution="640x480",
        format="webm",
        status_callback="https://example.com/cb?x=1&y=2",
        status_callback_method="GET",
        trim=True,
    )
    assert (
        emu.requests[0].body
        == (
            f"RoomSid={ROOM_SID}"
            "&VideoLayout=%7B%22main%22%3A+%7B%22video_sources%22%3A+%5B%22cam%2A%22%5D%2C"
            "+%22max_columns%22%3A+2%2C+%22z_pos%22%3A+-3%7D%7D"
            "&AudioSources=mic-1&AudioSources=guest%2A"
            "&AudioSourcesExcluded=noise&AudioSourcesExcluded=music%2A"
            "&Resolution=640x480&Format=webm"
            "&StatusCallback=https%3A%2F%2Fexample.com%2Fcb%3Fx%3D1%26y%3D2"
            "&StatusCallbackMethod=GET&Trim=true"
        ).encode()
    )


async def test_video_region_objects_encode_like_dicts(emu: Emulator, client: TwilioClient) -> None:
    region = VideoRegion(video_sources=["*"], max_rows=3, reuse="show_newest")
    await client.compositions.create(ROOM_SID, video_layout={"grid": region})
    await client.compositions.create(
        ROOM_SID,
        video_layout={"grid": {"video_sources": ["*"], "reuse": "show_newest", "max_rows": 3}},
    )
    from_object, from_dict = (r.body for r in emu.requests)
    # Unset VideoRegion fields are left out, so Twilio applies its own defaults.
    assert (
        from_object
        == (
            f"RoomSid={ROOM_SID}&VideoLayout=%7B%22grid%22%3A+%7B%22video_sources%22%3A+%5B%22%2A%22%5D"
            "%2C+%22reuse%22%3A+%22show_newest%22%2C+%22max_rows%22%3A+3%7D%7D"
        ).encode()
    )
    assert sorted(from_object.split(b"%2C+")) == sorted(from_dict.split(b"%2C+"))


# -- fetch, delete and headers -------------------------------------------------------------------


async def test_fetch_and_delete_wire(
    emu: Emulator, client: TwilioClient, newest_first: list[str]
) -> None:
    sid = newest_first[4]
    fetched = await client.compositions.fetch(sid)
    assert await client.compositions.delete(sid) is None  # type: ignore[func-returns-value]
    get, delete = emu.requests
    assert (get.method, get.url_path_qs, get.body) == ("GET", f"/v1/Compositions/{sid}", b"")
    assert (delete.method, delete.url_path_qs, delete.body) == (
        "DELETE",
        f"/v1/Compositions/{sid}",
        b"",
    )
    assert delete.status == 204
    assert fetched.sid == sid
    assert emu.store.twilio[sid].status == "deleted"


async def test_headers_on_every_verb(
    emu: Emulator, client: TwilioClient, newest_first: list[str]
) -> None:
    await client.compositions.create(ROOM_SID, audio_sources=["*"])
    await client.compositions.fetch(newest_first[0])
    await client.compositions.page(page_size=2)
    await client.compositions.delete(newest_first[0])
    expected_auth = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    for req in emu.requests:
        assert req.headers["Authorization"] == expected_auth
        assert req.headers["Accept"] == "application/json"
        user_agent = req.headers["User-Agent"]
        assert user_agent.startswith(f"async-compositions/{async_compositions.__version__} ")
        assert "Python/" in user_agent
    content_types = {r.method: r.headers.get("Content-Type") for r in emu.requests}
    assert content_types == {"POST": FORM, "GET": None, "DELETE": None}


async def test_api_key_and_secret_basic_auth(
    emu: Emulator, newest_first: list[str], clean_env: pytest.MonkeyPatch
) -> None:
    async with TwilioClient(
        api_key=API_KEY,
        api_secret=API_SECRET,
        account_sid=ACCOUNT_SID,
        base_url=emu.twilio_base_url,
    ) as client:
        comp = await client.compositions.fetch(newest_first[0])
    assert comp.sid == newest_first[0]
    assert emu.requests[0].headers["Authorization"] == basic_auth(API_KEY, API_SECRET)
    assert client.account_sid == ACCOUNT_SID


# -- credentials and base URL from the environment ---------------------------------------------


async def test_account_credentials_from_env(
    emu: Emulator, newest_first: list[str], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    clean_env.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    clean_env.setenv("TWILIO_VIDEO_BASE_URL", emu.twilio_base_url)
    async with TwilioClient() as client:
        await client.compositions.fetch(newest_first[0])
    assert emu.requests[0].headers["Authorization"] == basic_auth(ACCOUNT_SID, AUTH_TOKEN)
    assert str(client.base_url) == emu.twilio_base_url


async def test_api_key_from_env_wins_over_account_token(
    emu: Emulator, newest_first: list[str], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    clean_env.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    clean_env.setenv("TWILIO_API_KEY", API_KEY)
    clean_env.setenv("TWILIO_API_SECRET", API_SECRET)
    async with TwilioClient(base_url=emu.twilio_base_url) as client:
        await client.compositions.fetch(newest_first[0])
    assert emu.requests[0].headers["Authorization"] == basic_auth(API_KEY, API_SECRET)
    assert client.account_sid == ACCOUNT_SID


async def test_explicit_arguments_win_over_env(
    emu: Emulator, newest_first: list[str], clean_env: pytest.MonkeyPatch
) -> None:
    async with emulator() as decoy:
        clean_env.setenv("TWILIO_API_KEY", API_KEY)
        clean_env.setenv("TWILIO_API_SECRET", API_SECRET)
        clean_env.setenv("TWILIO_VIDEO_BASE_URL", decoy.twilio_base_url)
        async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=emu.twilio_base_url) as client:
            await client.compositions.fetch(newest_first[0])
    assert decoy.requests == []
    assert emu.requests[0].headers["Authorization"] == basic_auth(ACCOUNT_SID, AUTH_TOKEN)


def test_default_base_url(clean_env: pytest.MonkeyPatch) -> None:
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN)
    assert str(client.base_url) == "https://video.twilio.com/v1"


def test_base_url_trailing_slash_and_bad_values(clean_env: pytest.MonkeyPatch) -> None:
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url="http://127.0.0.1:9/v1/")
    assert str(client.base_url) == "http://127.0.0.1:9/v1"
    with pytest.raises(ValueError, match="base_url"):
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url="video.twilio.com/v1")
    clean_env.setenv("TWILIO_VIDEO_BASE_URL", "ftp://example.com/v1")
    with pytest.raises(ValueError, match="base_url"):
        TwilioClient(ACCOUNT_SID, AUTH_TOKEN)


# -- secrets never leak -------------------------------------------------------------------------


def _secrets(user: str, password: str) -> list[str]:
    return [password, base64.b64encode(f"{user}:{password}".encode()).decode()]


async def test_secrets_absent_from_repr_errors_and_logs(
    emu: Emulator, newest_first: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="async_compositions")
    policy = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)
    errors: list[BaseException] = []
    base_url = emu.twilio_base_url
    async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=base_url, retry=policy) as c:
        assert AUTH_TOKEN not in repr(c)
        emu.inject("status", status=503, page=0, times=policy.max_attempts)
        with pytest.raises(ServerError) as server_error:
            await c.compositions.page()
        errors.append(server_error.value)
    async with TwilioClient(ACCOUNT_SID, "wrong-token", base_url=base_url) as bad:
        with pytest.raises(AuthenticationError) as auth_error:
            await bad.compositions.fetch(newest_first[0])
        errors.append(auth_error.value)
    refused = f"http://127.0.0.1:{unused_port()}/v1"
    async with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, base_url=refused, retry=policy) as c2:
        with pytest.raises(APIConnectionError) as conn_error:
            await c2.compositions.fetch(newest_first[0])
        errors.append(conn_error.value)
        texts = [repr(c), repr(c2), *(str(e) for e in errors), *(repr(e) for e in errors)]
    retries = [r for r in caplog.records if r.name == "async_compositions"]
    assert len(retries) == 4  # two per failing request: 503, 503, then refused, refused
    texts += [r.getMessage() for r in retries]
    texts += [repr(r.args) for r in retries]
    for text in texts:
        for secret in (*_secrets(ACCOUNT_SID, AUTH_TOKEN), *_secrets(ACCOUNT_SID, "wrong-token")):
            assert secret not in text, text
