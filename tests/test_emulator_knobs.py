"""The emulator's settable knobs: checked when set, and felt by the requests after."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from async_compositions.emulator import Emulator

SIZE = 4_096


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=71, media_size=SIZE, manual=True) as emulator:
        yield emulator


def test_a_download_url_lifetime_must_be_positive() -> None:
    for ttl in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"^download_url_ttl must be > 0 seconds$"):
            Emulator(download_url_ttl=ttl)


async def test_negative_latencies_are_refused_and_nothing_changes(emu: Emulator) -> None:
    emu.latency = 0.01
    with pytest.raises(ValueError, match=r"^latency must be >= 0$"):
        emu.latency = -1
    with pytest.raises(ValueError, match=r"^media_latency must be >= 0$"):
        emu.media_latency = -0.5
    assert (emu.latency, emu.media_latency) == (0.01, 0.0)


async def test_media_latency_holds_back_media_only(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1)
    emu.media_latency = 0.3
    assert emu.media_latency == 0.3
    async with emu.twilio_client() as client:
        started = time.monotonic()
        await client.compositions.fetch(sid)
        api = time.monotonic() - started
        started = time.monotonic()
        result = await client.compositions.download(sid, _Sink())
        media = time.monotonic() - started
    assert result.size == SIZE
    assert media >= 0.3  # the media answer waited
    assert api < 0.3  # the API answer did not (a bound that only a stalled machine breaks)


class _Sink:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


@pytest.mark.parametrize(
    "origin", ["ftp://example.com", "https://", "https://example.com/path", "http://[::1"]
)
def test_a_public_origin_must_be_an_origin(origin: str) -> None:
    with pytest.raises(ValueError) as info:
        Emulator(public_origin=origin)
    assert str(info.value) == f"public_origin must be like 'https://host[:port]', got {origin!r}"


async def test_no_meta_leaves_an_answer_without_meta_as_it_is(emu: Emulator) -> None:
    (tid,) = emu.seed_telnyx(1)
    emu.inject("no_meta", path=f"/v2/room_compositions/{tid}")
    headers = {"Authorization": f"Bearer {emu.telnyx_api_key}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{emu.telnyx_base_url}/room_compositions/{tid}", headers=headers) as response,
    ):
        assert response.status == 200
        body = await response.json()
    assert body == {"data": emu.composition(tid)}
    (request,) = emu.requests
    assert request.fault == "no_meta"
