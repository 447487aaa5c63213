"""ensure(): one composition per room (session) and parameters, even when answers are lost."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aioresponses import aioresponses

from async_compositions import APIConnectionError, RetryPolicy, TelnyxClient
from async_compositions import _resource as resource_module
from async_compositions.emulator import Emulator

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)
ROOM = "RM" + "5" * 32
SESSION = "0ccc7b54-4df3-4bca-a65a-3da1ecc777b0"
LAYOUT = {"grid": {"video_sources": ["*"]}}


@dataclass(frozen=True)
class Side:
    name: str

    def client(self, emu: Emulator) -> Any:
        if self.name == "twilio":
            return emu.twilio_client(retry=FAST)
        return emu.telnyx_client(retry=FAST)

    async def ensure(self, client: Any, **params: Any) -> Any:
        if self.name == "twilio":
            return await client.compositions.ensure(ROOM, audio_sources=["*"], **params)
        return await client.compositions.ensure(session_id=SESSION, **params)

    def creates(self, emu: Emulator) -> int:
        return sum(r.method == "POST" for r in emu.requests)

    def stored(self, emu: Emulator) -> list[Any]:
        return list((emu.store.twilio if self.name == "twilio" else emu.store.telnyx).values())


@pytest.fixture(params=["twilio", "telnyx"])
def side(request: pytest.FixtureRequest) -> Side:
    return Side(request.param)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=61, manual=True) as emulator:
        yield emulator


@pytest.fixture
def quick_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource_module, "_LOOK_AGAIN", (0.0, 0.01))


async def test_concurrent_calls_send_one_create(emu: Emulator, side: Side) -> None:
    async with side.client(emu) as client:
        got = await asyncio.gather(*(side.ensure(client, video_layout=LAYOUT) for _ in range(10)))
    assert len({c.id for c in got}) == 1
    assert side.creates(emu) == 1 and len(side.stored(emu)) == 1


async def test_an_existing_composition_is_returned(emu: Emulator, side: Side) -> None:
    async with side.client(emu) as client:
        first = await side.ensure(client, video_layout=LAYOUT)
        again = await side.ensure(client, video_layout=LAYOUT)
        # The same layout spelled with its defaults is the same layout.
        spelled = {"grid": {"video_sources": ["*"], "z_pos": 0, "x_pos": 0}}
        same = await side.ensure(client, video_layout=spelled)
    assert first.id == again.id == same.id
    assert side.creates(emu) == 1


async def test_other_parameters_make_another_composition(emu: Emulator, side: Side) -> None:
    async with side.client(emu) as client:
        first = await side.ensure(client, video_layout=LAYOUT)
        other = await side.ensure(client, video_layout=LAYOUT, resolution="640x360")
    assert first.id != other.id and side.creates(emu) == 2


async def test_a_failed_or_deleted_one_does_not_count(emu: Emulator, side: Side) -> None:
    async with side.client(emu) as client:
        first = await side.ensure(client, video_layout=LAYOUT)
        if side.name == "twilio":
            emu.store.twilio[first.id].status = "failed"
        else:
            await client.compositions.delete(first.id)
        second = await side.ensure(client, video_layout=LAYOUT)
    assert second.id != first.id and side.creates(emu) == 2


async def test_a_lost_answer_is_recovered_not_guessed(emu: Emulator, side: Side) -> None:
    emu.inject("disconnect", method="POST", processed=True)
    async with side.client(emu) as client:
        got = await side.ensure(client, video_layout=LAYOUT)
    # The create took effect and its answer was lost: the lookup found it, nothing was resent.
    assert side.creates(emu) == 1
    (only,) = side.stored(emu)
    assert got.id == only.id


async def test_a_lost_answer_after_a_5xx_is_recovered_too(emu: Emulator, side: Side) -> None:
    emu.inject("status", status=502, method="POST", processed=True)
    async with side.client(emu) as client:
        got = await side.ensure(client, video_layout=LAYOUT)
    assert side.creates(emu) == 1 and [got.id] == [c.id for c in side.stored(emu)]


async def test_nothing_found_after_a_lost_answer_raises(
    emu: Emulator, side: Side, quick_lookups: None
) -> None:
    emu.inject("disconnect", method="POST")  # lost before the server acted
    async with side.client(emu) as client:
        with pytest.raises(APIConnectionError, match="may have been processed") as info:
            await side.ensure(client, video_layout=LAYOUT)
        assert info.value.may_have_been_processed
        assert side.stored(emu) == []
        # A later ensure() looks again, finds nothing, and creates.
        got = await side.ensure(client, video_layout=LAYOUT)
    assert [got.id] == [c.id for c in side.stored(emu)]


async def test_create_itself_says_whether_it_may_have_been_processed(
    emu: Emulator, side: Side
) -> None:
    emu.inject("disconnect", method="POST", processed=True)
    async with side.client(emu) as client:
        with pytest.raises(APIConnectionError) as info:
            if side.name == "twilio":
                await client.compositions.create(ROOM, audio_sources=["*"])
            else:
                await client.compositions.create(session_id=SESSION)
    assert info.value.may_have_been_processed and "may have been processed" in str(info.value)
    assert side.creates(emu) == 1  # never sent twice


async def test_a_caller_giving_up_does_not_stop_the_shared_create(
    emu: Emulator, side: Side
) -> None:
    async with side.client(emu) as client:
        with emu.hold(method="POST") as hold:
            first = asyncio.ensure_future(side.ensure(client, video_layout=LAYOUT))
            second = asyncio.ensure_future(side.ensure(client, video_layout=LAYOUT))
            await hold.wait_arrived(1)
            first.cancel()
            hold.lift()
            got = await second
        with pytest.raises(asyncio.CancelledError):
            await first
    assert side.creates(emu) == 1 and got.id == side.stored(emu)[0].id


async def test_bad_input_is_refused_before_sending() -> None:
    with aioresponses() as mocked:
        async with TelnyxClient("KEY1") as client:
            with pytest.raises(ValueError, match="needs session_id"):
                await client.compositions.ensure(video_layout=LAYOUT)
            with pytest.raises(ValueError, match="session_id must be a UUID"):
                await client.compositions.ensure(session_id="nope")
            with pytest.raises(TypeError, match="unexpected parameters"):
                await client.compositions.ensure(session_id=SESSION, room_sid=ROOM)  # type: ignore[call-arg]
        assert mocked.requests == {}
