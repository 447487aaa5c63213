"""Provider error codes mean something: on APIError, on CompositionFailedError, retryable."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator

import pytest

from async_compositions import CompositionFailedError, RateLimitError, RetryPolicy
from async_compositions.codes import TELNYX_CODES, TWILIO_CODES, describe
from async_compositions.emulator import Emulator
from async_compositions.twilio.webhooks import parse_status_callback


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=71, manual=True) as emulator:
        yield emulator


def test_the_tables() -> None:
    assert describe("twilio", 53632) == TWILIO_CODES["53632"]
    assert TWILIO_CODES["53632"].retryable is True  # "can be launched again"
    assert TWILIO_CODES["53633"].retryable is False  # too large: it will fail again
    assert TWILIO_CODES["53626"].retryable is None  # Twilio does not say
    assert TWILIO_CODES["20429"].retryable is True
    assert describe("telnyx", "10011") == TELNYX_CODES["10011"] and TELNYX_CODES["10011"].retryable
    assert describe("telnyx", 53632) is None and describe("twilio", "nope") is None
    assert describe(None, 20429) is None and describe("twilio", True) is None


async def test_a_429_says_what_it_means(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1)
    (tid,) = emu.seed_telnyx(1)
    emu.inject("rate_limit", times=2, retry_after=120)  # past the cap: raised at once
    async with (
        emu.twilio_client(retry=RetryPolicy(max_retry_after=10)) as twilio,
        emu.telnyx_client(retry=RetryPolicy(max_retry_after=10)) as telnyx,
    ):
        with pytest.raises(RateLimitError) as one:
            await twilio.compositions.fetch(sid)
        with pytest.raises(RateLimitError) as two:
            await telnyx.compositions.fetch(tid)
    assert (one.value.code, one.value.provider, one.value.retryable) == (20429, "twilio", True)
    assert one.value.explanation is not None and "Too many" in one.value.explanation.title
    assert (two.value.code, two.value.provider, two.value.retryable) == ("10011", "telnyx", True)
    revived = pickle.loads(pickle.dumps(one.value))
    assert revived.explanation == one.value.explanation


async def test_a_not_found_is_not_retryable(emu: Emulator) -> None:
    async with emu.twilio_client() as client:
        with pytest.raises(Exception) as info:
            await client.compositions.fetch("CJ" + "0" * 32)
    assert info.value.code == 20404 and info.value.retryable is False  # type: ignore[attr-defined]


async def test_wait_reports_the_code_of_a_failed_composition(emu: Emulator) -> None:
    room = "RM" + "7" * 32
    emu.mark_failing(room)
    async with emu.twilio_client() as client:
        comp = await client.compositions.create(room, audio_sources=["*"])
        waiter = asyncio.ensure_future(
            client.compositions.wait(comp.sid, timeout=30, poll_interval=30)
        )
        await asyncio.sleep(0.05)  # the first poll: still enqueued
        await emu.finish(comp.sid)
        # The status callback a webhook handler would pass on.
        event = parse_status_callback(
            {
                "StatusCallbackEvent": "composition-failed",
                "CompositionSid": comp.sid,
                "RoomSid": room,
                "FailedOperation": "enqueue",
                "ErrorMessage": "Failed to enqueue a room composition",
            }
        )
        assert event.error_code == "53632"
        assert client.compositions.notify(event) == 1
        with pytest.raises(CompositionFailedError) as info:
            await waiter
    error = info.value
    assert (error.code, error.retryable, error.provider) == ("53632", True, "twilio")
    assert "code 53632" in str(error) and error.detail == "Failed to enqueue a room composition"
    assert error.composition.sid == comp.sid
    revived = pickle.loads(pickle.dumps(error))
    assert (revived.code, revived.retryable) == ("53632", True)


async def test_without_a_failure_event_the_code_is_unknown(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1, status="failed")
    async with emu.telnyx_client() as telnyx, emu.twilio_client() as twilio:
        with pytest.raises(CompositionFailedError) as info:
            await twilio.compositions.wait(sid, timeout=5)
        assert telnyx.compositions.notify("no-such-id") == 0
    assert (info.value.code, info.value.retryable) == (None, None)


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"ErrorCode": "53633"}, "53633"),
        ({"ErrorMessage": "Composition failed (53626)"}, "53626"),
        ({"ErrorMessage": "Internal failure while processing media composition"}, "53626"),
        ({"ErrorMessage": "something new"}, None),
        ({}, None),
    ],
)
def test_the_code_of_a_status_callback(form: dict[str, str], code: str | None) -> None:
    event = parse_status_callback({"StatusCallbackEvent": "composition-failed", **form})
    assert event.error_code == code
