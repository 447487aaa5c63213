"""The emulator as an object: timers, start/stop, addresses, credentials, seeding."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from async_compositions import CompositionStatus
from async_compositions.emulator import Emulator

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


async def test_manual_mode_waits_for_advance() -> None:
    async with Emulator() as emu:
        (sid,) = emu.seed_twilio(1, status="enqueued")
        await asyncio.sleep(0.02)
        assert emu.composition(sid)["status"] == "enqueued"
        assert await emu.advance() == 1 and emu.composition(sid)["status"] == "processing"


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
