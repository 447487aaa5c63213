"""A stream decodes each item when its consumer reaches it; page() decodes at once."""

from __future__ import annotations

import json

import pytest
from aioresponses import aioresponses

from async_compositions import ResponseDecodeError, TwilioClient
from async_compositions.twilio import Composition

URL = "https://video.twilio.com/v1/Compositions?PageSize=2"


def sid(n: int) -> str:
    return f"CJ{n:032x}"


def body(*records: dict[str, object]) -> dict[str, object]:
    return {"compositions": list(records), "meta": {"key": "compositions", "next_page_url": None}}


GOOD = {"sid": sid(1), "status": "completed", "duration": 6}
BAD = {"sid": sid(2), "status": "completed", "duration": "six"}


async def test_a_bad_record_raises_when_the_consumer_reaches_it() -> None:
    seen: list[Composition] = []
    with aioresponses() as mock:
        mock.get(URL, payload=body(GOOD, BAD))
        async with TwilioClient("AC" + "a" * 32, "token") as client:
            with pytest.raises(ResponseDecodeError, match="duration"):
                async for comp in client.compositions.stream(page_size=2):
                    seen.append(comp)
    assert [c.sid for c in seen] == [sid(1)]
    assert isinstance(seen[0], Composition) and seen[0].duration == 6


async def test_page_decodes_every_item_before_returning() -> None:
    with aioresponses() as mock:
        mock.get(URL, payload=body(GOOD, BAD))
        mock.get(URL, payload=body(GOOD, GOOD))
        async with TwilioClient("AC" + "a" * 32, "token") as client:
            with pytest.raises(ResponseDecodeError, match="duration"):
                await client.compositions.page(page_size=2)
            page = await client.compositions.page(page_size=2)
    assert all(isinstance(c, Composition) for c in page.items)


async def test_a_streamed_decode_error_quotes_the_record_and_keeps_the_request_id() -> None:
    headers = {"Twilio-Request-Id": "RQ" + "1" * 32}
    with aioresponses() as mock:
        mock.get(URL, payload=body(GOOD, BAD), headers=headers)
        async with TwilioClient("AC" + "a" * 32, "token") as client:
            with pytest.raises(ResponseDecodeError) as info:
                async for _ in client.compositions.stream(page_size=2):
                    pass
    # The record that failed, not the whole page: the stream keeps no copy of the body.
    assert json.loads(info.value.body) == BAD
    assert info.value.status == 200
    assert info.value.request_id == "RQ" + "1" * 32
    assert info.value.message.startswith("composition did not decode")


async def test_page_decode_errors_quote_the_record_too() -> None:
    with aioresponses() as mock:
        mock.get(URL, payload=body(GOOD, BAD), headers={"Twilio-Request-Id": "RQ5"})
        async with TwilioClient("AC" + "a" * 32, "token") as client:
            with pytest.raises(ResponseDecodeError) as info:
                await client.compositions.page(page_size=2)
    assert json.loads(info.value.body) == BAD
    assert (info.value.status, info.value.request_id) == (200, "RQ5")
