"""A DELETE whose answer was lost is resent; the resend's 404 means it worked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from async_compositions import NotFoundError, RetryPolicy
from async_compositions.emulator import Emulator

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=31) as emulator:
        yield emulator


@pytest.fixture(params=["twilio", "telnyx"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _client(emu: Emulator, provider: str, **kwargs: Any) -> Any:
    return emu.twilio_client(**kwargs) if provider == "twilio" else emu.telnyx_client(**kwargs)


def _seed(emu: Emulator, provider: str) -> str:
    return (emu.seed_twilio if provider == "twilio" else emu.seed_telnyx)(1)[0]


def _deletes(emu: Emulator) -> list[tuple[str | None, int | None]]:
    return [(r.fault, r.status) for r in emu.requests if r.method == "DELETE"]


@pytest.mark.parametrize("kind", ["disconnect", "status"])
async def test_processed_then_lost_delete_succeeds(emu: Emulator, provider: str, kind: str) -> None:
    id = _seed(emu, provider)
    emu.inject(kind, method="DELETE", processed=True, status=502 if kind == "status" else None)
    async with _client(emu, provider, retry=FAST) as client:
        assert await client.compositions.delete(id) is None
    # The first attempt deleted it; the resend found it gone.
    first, second = _deletes(emu)
    assert first[0] == kind
    assert second == (None, 404)


async def test_a_first_404_is_still_not_found(emu: Emulator, provider: str) -> None:
    id = _seed(emu, provider)
    async with _client(emu, provider, retry=FAST) as client:
        await client.compositions.delete(id)
        with pytest.raises(NotFoundError):
            await client.compositions.delete(id)
    assert _deletes(emu) == [(None, 204), (None, 404)]


async def test_a_404_after_a_rate_limit_is_not_found(emu: Emulator, provider: str) -> None:
    """A 429 was refused unprocessed, so a 404 after it is the caller's mistake."""
    id = _seed(emu, provider)
    async with _client(emu, provider, retry=FAST) as client:
        await client.compositions.delete(id)
        emu.inject("rate_limit", method="DELETE", retry_after=0)
        with pytest.raises(NotFoundError):
            await client.compositions.delete(id)


async def test_a_dropped_keepalive_connection_is_resent_at_once(
    emu: Emulator, provider: str
) -> None:
    """Without aiohttp's own silent resend, the client's resend must not wait a backoff."""
    id = _seed(emu, provider)
    slow = RetryPolicy(max_attempts=2, base_delay=30, max_delay=30)
    emu.inject("disconnect", method="GET")
    async with _client(emu, provider, retry=slow) as client:
        fetched = await client.compositions.fetch(id)
    assert fetched.id == id
    assert [(r.fault, r.status) for r in emu.requests] == [("disconnect", None), (None, 200)]
