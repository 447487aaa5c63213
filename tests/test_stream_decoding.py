"""A stream decodes each item when its consumer reaches it; page() decodes at once."""

from __future__ import annotations

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
