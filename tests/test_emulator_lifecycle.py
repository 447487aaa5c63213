"""The emulator as an object: timers, start/stop, addresses, credentials, seeding."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from async_compositions import CompositionStatus
from async_compositions.emulator import (
    DEFAULT_COMPLETION_DELAY,
    DEFAULT_PROCESSING_DELAY,
    Emulator,
)

ROOM = "RM" + "a" * 32
SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"


async def _until(predicate: object, attempts: int = 500) -> None:
    """Poll a condition, giving the emulator's timers the loop between checks."""
    assert callable(predicate)
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_timers_move_compositions_to_the_end() -> None:
    async with Emulator(processing_delay=0.01, completion_delay=0.01) as emu:
        emu.mark_failing(SESSION)
        async with emu.twilio_client() as twilio, emu.telnyx_client() as telnyx:
            created = await twilio.compositions.create(room_sid=ROOM, audio_sources=["*"])
            doomed = await telnyx.compositions.create(session_id=SESSION)
            await _until(
                lambda: (
                    emu.composition(created.sid)["status"] == "completed"
                    and emu.composition(doomed.id)["status"] == "failed"
                )
            )
            done = await twilio.compositions.fetch(created.sid)
        assert done.status is CompositionStatus.COMPLETED and done.date_completed
        assert emu.composition(doomed.id)["started_at"] is not None


async def test_timers_stop_for_deleted_compositions_and_at_shutdown() -> None:
    async with Emulator(processing_delay=0.01, completion_delay=30) as emu:
        (gone,) = emu.seed_telnyx(1, status="enqueued")
        (kept,) = emu.seed_telnyx(1, status="enqueued")
        async with emu.telnyx_client() as client:
            await client.compositions.delete(gone)
        await _until(lambda: emu.composition(kept)["status"] == "processing")
        assert gone not in emu.store.telnyx
    # Leaving the block cancelled the 30-second timer: nothing is left pending.
    assert emu.composition(kept)["status"] == "processing"


async def _raw_status(http: aiohttp.ClientSession, emu: Emulator, id: str) -> tuple[int, str]:
    """The HTTP status and the composition status of a fetch, read off the wire."""
    if id.startswith("CJ"):
        pair = f"{emu.twilio_account_sid}:{emu.twilio_auth_token}".encode()
        url = f"{emu.twilio_base_url}/Compositions/{id}"
        headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    else:
        url = f"{emu.telnyx_base_url}/room_compositions/{id}"
        headers = {"Authorization": f"Bearer {emu.telnyx_api_key}"}
    async with http.get(url, headers=headers) as response:
        body: Any = json.loads(await response.read())
    return response.status, (body if id.startswith("CJ") else body["data"])["status"]


def test_the_default_schedule_completes_within_a_second() -> None:
    assert DEFAULT_PROCESSING_DELAY > 0 and DEFAULT_COMPLETION_DELAY > 0
    assert DEFAULT_PROCESSING_DELAY + DEFAULT_COMPLETION_DELAY <= 1.0


async def test_a_default_emulator_completes_compositions_for_wait() -> None:
    async with Emulator() as emu, aiohttp.ClientSession() as http:
        assert not emu.manual and "automatic" in repr(emu)
        assert emu.processing_delay == DEFAULT_PROCESSING_DELAY
        assert emu.completion_delay == DEFAULT_COMPLETION_DELAY
        loop = asyncio.get_running_loop()
        async with emu.twilio_client() as twilio, emu.telnyx_client() as telnyx:
            began = loop.time()
            made = await twilio.compositions.create(room_sid=ROOM, audio_sources=["*"])
            room = await telnyx.compositions.create(session_id=SESSION)
            assert made.status is CompositionStatus.ENQUEUED
            assert room.status is CompositionStatus.ENQUEUED
            # The client's own defaults (2 s poll, 600 s deadline): it returns on its
            # second poll instead of sitting until the deadline.
            async with asyncio.timeout(3):
                done, finished = await asyncio.gather(
                    twilio.compositions.wait(made.sid), telnyx.compositions.wait(room.id)
                )
            elapsed = loop.time() - began
        assert done.status is CompositionStatus.COMPLETED and done.date_completed is not None
        assert finished.status is CompositionStatus.COMPLETED and finished.download_url
        assert elapsed < 3
        for path in (f"/v1/Compositions/{made.sid}", f"/v2/room_compositions/{room.id}"):
            polls = [r.status for r in emu.requests if r.method == "GET" and r.path == path]
            assert polls == [200, 200]
        assert await _raw_status(http, emu, made.sid) == (200, "completed")
        assert await _raw_status(http, emu, room.id) == (200, "completed")


async def test_manual_mode_waits_for_advance() -> None:
    async with Emulator(manual=True) as emu, aiohttp.ClientSession() as http:
        assert emu.manual and "manual" in repr(emu)
        assert emu.processing_delay is None and emu.completion_delay is None
        async with emu.twilio_client() as twilio, emu.telnyx_client() as telnyx:
            made = await twilio.compositions.create(room_sid=ROOM, audio_sources=["*"])
            room = await telnyx.compositions.create(session_id=SESSION)
        (seeded,) = emu.seed_twilio(1, status="processing")
        # Longer than the default schedule: nothing moves on its own.
        await asyncio.sleep(DEFAULT_PROCESSING_DELAY + DEFAULT_COMPLETION_DELAY + 0.1)
        assert await _raw_status(http, emu, made.sid) == (200, "enqueued")
        assert await _raw_status(http, emu, room.id) == (200, "enqueued")
        assert await _raw_status(http, emu, seeded) == (200, "processing")
        assert await emu.advance() == 3
        assert await _raw_status(http, emu, made.sid) == (200, "processing")
        assert await _raw_status(http, emu, seeded) == (200, "completed")
        assert await emu.finish() == 2
        assert await _raw_status(http, emu, room.id) == (200, "completed")


@pytest.mark.parametrize(
    "delays",
    [
        {"processing_delay": 0.1},
        {"completion_delay": 0.0},
        {"processing_delay": 1.0, "completion_delay": 2.0},
    ],
)
def test_manual_with_a_delay_is_a_value_error(delays: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"manual=True takes no processing_delay"):
        Emulator(manual=True, **delays)


@pytest.mark.parametrize("delays", [{"processing_delay": -0.1}, {"completion_delay": float("nan")}])
def test_a_negative_delay_is_a_value_error(delays: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"_delay must be >= 0"):
        Emulator(**delays)


def test_a_delay_left_out_keeps_its_default() -> None:
    emu = Emulator(processing_delay=0.01)
    assert (emu.processing_delay, emu.completion_delay) == (0.01, DEFAULT_COMPLETION_DELAY)
    emu = Emulator(completion_delay=3)
    assert (emu.processing_delay, emu.completion_delay) == (DEFAULT_PROCESSING_DELAY, 3)


async def test_advance_on_a_timer_restarts_the_count_instead_of_stepping_twice() -> None:
    async with Emulator(processing_delay=0.1, completion_delay=0.6) as emu:
        async with emu.telnyx_client() as client:
            room = await client.compositions.create(session_id=SESSION)
        assert await emu.advance(room.id) == 1  # processing now, by hand
        # Past processing_delay: the timer must not take the step it was waiting for.
        await asyncio.sleep(0.3)
        assert emu.composition(room.id)["status"] == "processing"
        await _until(lambda: emu.composition(room.id)["status"] == "completed")
        record = emu.composition(room.id)
        started = datetime.fromisoformat(record["started_at"])
        completed = datetime.fromisoformat(record["completed_at"])
        # The full completion_delay, counted from the step taken by hand.
        assert (completed - started).total_seconds() >= 0.55


async def test_finish_on_a_timer_leaves_the_timer_nothing_to_do() -> None:
    async with Emulator(processing_delay=0.05, completion_delay=0.05) as emu:
        async with emu.twilio_client() as client:
            made = await client.compositions.create(
                room_sid=ROOM, audio_sources=["*"], status_callback=f"{emu.url}/sink"
            )
        assert await emu.finish(made.sid) == 2
        settled = emu.composition(made.sid)
        assert settled["status"] == "completed"
        await asyncio.sleep(0.3)  # both timer steps would have fired by now
        assert emu.composition(made.sid) == settled
        assert await emu.wait_webhooks()
        # One callback per lifecycle event: nothing was stepped, or notified, twice.
        assert [d.event for d in emu.webhook_deliveries] == [
            "composition-started",
            "composition-progress",
            "composition-available",
        ]
        assert await emu.advance() == 0


async def test_a_twilio_composition_deleted_on_a_timer_stays_deleted() -> None:
    async with Emulator(processing_delay=0.05, completion_delay=0.05) as emu:
        (sid,) = emu.seed_twilio(1, status="enqueued")
        async with emu.twilio_client() as client:
            await client.compositions.delete(sid)
        await asyncio.sleep(0.3)
        record = emu.composition(sid)
        assert record["status"] == "deleted" and record["date_completed"] is None


async def test_addresses_credentials_and_repr() -> None:
    emu = Emulator(account_sid="AC" + "1" * 32, auth_token="token-123", telnyx_api_key="KEY1")
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.twilio_base_url
    async with emu:
        assert emu.url == f"http://127.0.0.1:{emu.port}"
        assert emu.twilio_base_url == f"{emu.url}/v1"
        assert emu.telnyx_base_url == f"{emu.url}/v2"
        assert emu.twilio_account_sid == "AC" + "1" * 32
        assert emu.twilio_api_key_sid.startswith("SK") and len(emu.twilio_api_key_sid) == 34
        text = repr(emu)
        for secret in ("token-123", "KEY1", emu.twilio_api_key_secret):
            assert secret not in text
        async with emu.twilio_client() as client:
            assert client.account_sid == emu.twilio_account_sid
            assert str(client.base_url) == emu.twilio_base_url
        async with emu.telnyx_client() as client:
            assert str(client.base_url) == emu.telnyx_base_url
    assert "stopped" in repr(emu)
    await emu.stop()  # twice is fine


async def test_two_emulators_get_their_own_ports() -> None:
    async with Emulator() as one, Emulator() as two:
        assert one.port != two.port
        assert one.twilio_auth_token != two.twilio_auth_token


async def test_a_taken_port_raises() -> None:
    async with Emulator() as first:
        with pytest.raises(OSError):
            await Emulator(port=first.port).start()


async def test_seeding_dates_and_validation() -> None:
    start = datetime(2024, 5, 1, tzinfo=UTC)
    async with Emulator() as emu:
        sids = emu.seed_twilio(3, start=start, status="deleted")
        first = emu.composition(sids[0])
        assert first["date_created"] == "2024-05-01T00:00:00Z"
        assert first["date_deleted"] == "2024-05-01T00:00:30Z"
        assert emu.composition(sids[2])["date_created"] == "2024-05-01T00:02:00Z"
        ids = emu.seed_telnyx(2, start=start, status="processing", session_id=SESSION.upper())
        record = emu.composition(ids[1])
        assert record["created_at"] == "2024-05-01T00:01:00.000000Z"
        assert record["session_id"] == SESSION and record["download_url"] is None
        with pytest.raises(ValueError):
            emu.seed_twilio(1, status="archived")
        with pytest.raises(ValueError):
            emu.seed_telnyx(1, status="deleted")
        with pytest.raises(KeyError):
            emu.composition("nope")
        with pytest.raises(KeyError):
            emu.media_bytes("nope")


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        Emulator(media_size=-1)
    with pytest.raises(ValueError):
        Emulator(webhook_timeout=0)
