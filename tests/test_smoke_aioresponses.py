from aioresponses import aioresponses

from async_compositions import TwilioClient

SID = "CJ" + "a" * 32


async def test_fetch_through_aioresponses() -> None:
    with aioresponses() as m:
        m.get(
            f"https://video.twilio.com/v1/Compositions/{SID}",
            payload={"sid": SID, "status": "completed"},
        )
        async with TwilioClient("AC" + "a" * 32, "token") as client:
            comp = await client.compositions.fetch(SID)
    assert comp.sid == SID
