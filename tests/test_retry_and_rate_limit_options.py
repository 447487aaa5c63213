"""RetryPolicy and RateLimit options: what they accept, refuse and do."""

from __future__ import annotations

import email.utils

import pytest

from async_compositions import RateLimit, RetryPolicy
from async_compositions.emulator import Emulator
from async_compositions.retry import parse_retry_after


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "3"])
def test_rate_limit_attempts_must_be_a_positive_int_or_none(value: object) -> None:
    with pytest.raises(ValueError) as info:
        RetryPolicy(rate_limit_attempts=value)  # type: ignore[arg-type]
    assert str(info.value) == (f"rate_limit_attempts must be None or an int >= 1, got {value!r}")


def test_rate_limit_attempts_accepts_none_and_counts() -> None:
    assert RetryPolicy(rate_limit_attempts=None).rate_limit_attempts is None
    assert RetryPolicy(rate_limit_attempts=7).rate_limit_attempts == 7


def test_retry_after_as_an_http_date() -> None:
    now = 1_700_000_000.0
    later = email.utils.formatdate(now + 30, usegmt=True)  # "Tue, 14 Nov 2023 22:13:50 GMT"
    assert parse_retry_after(later, now=now) == pytest.approx(30.0)
    # A date already past means: now.
    earlier = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0
    # "-0000" says the zone is unknown (RFC 5322): no delay can be worked out from it.
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 -0000", now=now) is None


def test_twilios_documented_limits() -> None:
    limit = RateLimit.twilio()
    assert (limit.reads, limit.writes, limit.burst) == (80, 20, None)
    assert repr(limit) == "RateLimit(reads=80.0, writes=20.0, burst=None)"


async def test_writes_are_not_held_when_only_reads_are_limited() -> None:
    async with Emulator(seed=61, manual=True) as emu:
        sids = emu.seed_twilio(4)
        limit = RateLimit(reads=1, burst=1)
        async with emu.twilio_client(rate_limit=limit) as client:
            await client.compositions.fetch(sids[0])  # spends the one read token
            for sid in sids:
                await client.compositions.delete(sid)
            stats = client.stats
    assert [r.method for r in emu.requests] == ["GET"] + ["DELETE"] * 4
    # A write waiting for the 1-a-second read budget would have waited most of a second.
    assert stats.requests == 5 and stats.waited < 0.1
    assert all(emu.composition(sid)["status"] == "deleted" for sid in sids)
