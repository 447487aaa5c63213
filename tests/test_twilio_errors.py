"""Twilio error responses become typed exceptions carrying everything the response said."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aioresponses import aioresponses

from async_compositions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CompositionsError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TwilioClient,
    UnprocessableEntityError,
)

BASE = "https://video.twilio.com/v1/Compositions"
SID = "CJ" + "0" * 32
ROOM = "RM" + "0" * 32
REQUEST_ID = "RQ" + "f" * 32

Call = Callable[[TwilioClient], Awaitable[Any]]


@pytest.fixture
async def mocked() -> AsyncIterator[tuple[aioresponses, TwilioClient]]:
    with aioresponses() as m:
        async with TwilioClient("AC" + "a" * 32, "token", retry=None) as c:
            yield m, c


def twilio_error(status: int, code: int, message: str) -> str:
    return json.dumps(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    )


async def _list(client: TwilioClient) -> Any:
    return await client.compositions.list()


async def _create(client: TwilioClient) -> Any:
    return await client.compositions.create(ROOM, audio_sources=["*"])


VERBS: dict[str, tuple[str, str, Call]] = {
    "fetch": ("GET", f"{BASE}/{SID}", lambda c: c.compositions.fetch(SID)),
    "delete": ("DELETE", f"{BASE}/{SID}", lambda c: c.compositions.delete(SID)),
    "create": ("POST", BASE, _create),
    "page": ("GET", BASE, lambda c: c.compositions.page()),
    "list": ("GET", BASE, _list),
}


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, 53120, BadRequestError),
        (401, 20003, AuthenticationError),
        (403, 20403, PermissionDeniedError),
        (404, 20404, NotFoundError),
        (409, 53107, ConflictError),
        (422, 53123, UnprocessableEntityError),
        (429, 20429, RateLimitError),
        (500, 20500, ServerError),
        (503, 20503, ServerError),
    ],
)
@pytest.mark.parametrize("verb", sorted(VERBS))
async def test_status_maps_to_error_class_with_every_detail(
    mocked: tuple[aioresponses, TwilioClient],
    status: int,
    code: int,
    cls: type[APIError],
    verb: str,
) -> None:
    m, client = mocked
    method, url, call = VERBS[verb]
    body = twilio_error(status, code, "Something specific went wrong")
    m.add(url, method, status=status, body=body, headers={"Twilio-Request-Id": REQUEST_ID})
    with pytest.raises(cls) as info:
        await call(client)
    err = info.value
    assert type(err) is cls
    assert isinstance(err, APIError)
    assert isinstance(err, CompositionsError)
    assert err.status == status
    assert err.code == code
    assert err.message == "Something specific went wrong"
    assert err.more_info == f"https://www.twilio.com/docs/errors/{code}"
    assert err.request_id == REQUEST_ID
    assert err.body == body
    assert str(err) == (
        f"HTTP {status} code {code}: Something specific went wrong (request id {REQUEST_ID})"
    )


async def test_unmapped_status_is_a_plain_api_error(
    mocked: tuple[aioresponses, TwilioClient],
) -> None:
    m, client = mocked
    m.get(f"{BASE}/{SID}", status=418, body=twilio_error(418, 20418, "teapot"))
    with pytest.raises(APIError) as info:
        await client.compositions.fetch(SID)
    assert type(info.value) is APIError
    assert (info.value.status, info.value.code, info.value.request_id) == (418, 20418, None)


async def test_html_502_still_yields_server_error(
    mocked: tuple[aioresponses, TwilioClient],
) -> None:
    m, client = mocked
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    m.get(f"{BASE}/{SID}", status=502, body=html, content_type="text/html")
    with pytest.raises(ServerError) as info:
        await client.compositions.fetch(SID)
    err = info.value
    assert (err.status, err.code, err.more_info) == (502, None, None)
    assert err.message == html
    assert err.body == html


async def test_empty_error_body(mocked: tuple[aioresponses, TwilioClient]) -> None:
    m, client = mocked
    m.delete(f"{BASE}/{SID}", status=500, body="")
    with pytest.raises(ServerError) as info:
        await client.compositions.delete(SID)
    assert info.value.message == "HTTP 500"
    assert info.value.body == ""


async def test_long_non_json_error_message_is_bounded(
    mocked: tuple[aioresponses, TwilioClient],
) -> None:
    m, client = mocked
    text = "x" * 5000
    m.get(f"{BASE}/{SID}", status=500, body=text, content_type="text/plain")
    with pytest.raises(ServerError) as info:
        await client.compositions.fetch(SID)
    assert info.value.message == "x" * 200
    assert info.value.body == text  # the full text stays available


@pytest.mark.parametrize(
    "body",
    [
        "<html><head><title>Maintenance</title></head></html>",
        '{"sid": "' + SID + '", "status": "compl',  # truncated mid-string
        '{"sid": "' + SID + '", "status": "completed"',  # truncated before the brace
        "",
        "\xff\xfe not utf-8",
    ],
)
@pytest.mark.parametrize("verb", ["fetch", "page", "create"])
async def test_malformed_success_body_raises_decode_error(
    mocked: tuple[aioresponses, TwilioClient], body: str, verb: str
) -> None:
    m, client = mocked
    method, url, call = VERBS[verb]
    m.add(url, method, status=201 if verb == "create" else 200, body=body.encode("latin-1"))
    with pytest.raises(ResponseDecodeError) as info:
        await call(client)
    err = info.value
    assert err.status == (201 if verb == "create" else 200)
    text = body.encode("latin-1").decode("utf-8", "replace")
    assert err.body == text
    if text:
        # The message quotes the start of the offending text.
        assert repr(text[:20])[1:-1] in str(err)


async def test_decode_error_quotes_only_the_start(
    mocked: tuple[aioresponses, TwilioClient],
) -> None:
    m, client = mocked
    body = "<!DOCTYPE html>" + "y" * 10_000
    m.get(f"{BASE}/{SID}", body=body, content_type="text/html")
    with pytest.raises(ResponseDecodeError) as info:
        await client.compositions.fetch(SID)
    assert "<!DOCTYPE html>yyy" in str(info.value)
    assert len(str(info.value)) < 400
    assert info.value.body == body


async def test_error_json_without_message_falls_back_to_text(
    mocked: tuple[aioresponses, TwilioClient],
) -> None:
    m, client = mocked
    m.get(f"{BASE}/{SID}", status=404, body='{"code": 20404}')
    with pytest.raises(NotFoundError) as info:
        await client.compositions.fetch(SID)
    assert info.value.code == 20404
    assert info.value.message == '{"code": 20404}'
