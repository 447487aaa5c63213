"""What is resent and what never is, over real sockets, for both providers.

A create may be resent only when it surely did not happen (a 429 was refused
unprocessed); a 5xx or a lost answer may hide a composition that exists, so a create is
sent once. Reads and deletes are resent on 429, 5xx, dropped connections and bodies cut
short, up to ``max_attempts``; a body that arrived whole but does not decode is not.
The fine grain of the policy (backoff ceilings, Retry-After forms, log lines) is unit
tested with aioresponses in test_twilio_retries.py and test_core_retry.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from async_compositions import (
    APIConnectionError,
    RateLimitError,
    ResponseDecodeError,
    RetryPolicy,
    ServerError,
)
from async_compositions.emulator import Emulator

ROOM = "RM" + "a1" * 16
SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"
COLLECTION = {"twilio": "/v1/Compositions", "telnyx": "/v2/room_compositions"}
CREATED = {"twilio": 201, "telnyx": 202}
RATE_LIMIT_CODE = {"twilio": 20429, "telnyx": "10011"}
SERVER_ERROR_CODE = {
    "twilio": {500: 20500, 502: 20500, 503: 20503, 504: 20500},
    "telnyx": dict.fromkeys((500, 502, 503, 504), "10007"),
}


class Backoffs:
    """A jitter that records each backoff the policy schedules (and waits none of it)."""

    def __init__(self) -> None:
        self.ceilings: list[float] = []

    def __call__(self, ceiling: float) -> float:
        self.ceilings.append(ceiling)
        return 0.0


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=23, manual=True) as emulator:
        yield emulator


@pytest.fixture(params=["twilio", "telnyx"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backoffs() -> Backoffs:
    return Backoffs()


def client(emu: Emulator, provider: str, **kwargs: Any) -> Any:
    return emu.twilio_client(**kwargs) if provider == "twilio" else emu.telnyx_client(**kwargs)


def policy(backoffs: Backoffs, **kwargs: Any) -> RetryPolicy:
    return RetryPolicy(**{"max_attempts": 4, "jitter": backoffs, **kwargs})


def seed(emu: Emulator, provider: str, n: int = 1) -> list[str]:
    return (emu.seed_twilio if provider == "twilio" else emu.seed_telnyx)(n)


def store(emu: Emulator, provider: str) -> dict[str, Any]:
    return dict(emu.store.twilio if provider == "twilio" else emu.store.telnyx)


async def create(api: Any, provider: str) -> Any:
    if provider == "twilio":
        return await api.compositions.create(ROOM, audio_sources=["*"])
    return await api.compositions.create(session_id=SESSION)


def composition_body(emu: Emulator, provider: str, id: str) -> str:
    record = emu.composition(id)
    return json.dumps(record if provider == "twilio" else {"data": record}, separators=(",", ":"))


# -- a create is sent once unless it surely did not happen ---------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_create_is_not_resent_after_a_server_error(
    emu: Emulator, provider: str, backoffs: Backoffs, status: int
) -> None:
    emu.inject("status", status=status, method="POST", times=2)
    async with client(emu, provider, retry=policy(backoffs)) as api:
        with pytest.raises(ServerError) as info:
            await create(api, provider)
    err = info.value
    assert (err.status, err.code) == (status, SERVER_ERROR_CODE[provider][status])
    (post,) = emu.requests
    assert err.request_id == post.request_id
    assert backoffs.ceilings == [] and store(emu, provider) == {}


async def test_a_create_whose_answer_was_lost_is_not_resent(
    emu: Emulator, provider: str, backoffs: Backoffs
) -> None:
    emu.inject("disconnect", method="POST", processed=True)
    async with client(emu, provider, retry=policy(backoffs)) as api:
        with pytest.raises(APIConnectionError) as info:
            await create(api, provider)
    # Created on the server, answer lost: a resend would have made a duplicate.
    assert info.value.before_send is False
    assert len(emu.requests) == 1 and len(store(emu, provider)) == 1
    assert backoffs.ceilings == []


async def test_a_rate_limited_create_is_resent_as_it_was(emu: Emulator, provider: str) -> None:
    emu.inject("rate_limit", retry_after="0", method="POST")
    async with client(emu, provider, retry=RetryPolicy(max_attempts=4)) as api:
        created = await create(api, provider)
    assert [(r.method, r.status) for r in emu.requests] == [
        ("POST", 429),
        ("POST", CREATED[provider]),
    ]
    assert list(store(emu, provider)) == [created.id]
    first, second = emu.requests
    assert first.body == second.body  # the same request, sent again
    assert first.headers["Content-Type"] == second.headers["Content-Type"]


# -- reads and deletes are resent ------------------------------------------------------------


async def test_rate_limits_are_waited_out_then_retried(emu: Emulator, provider: str) -> None:
    seed(emu, provider, 2)
    emu.inject("rate_limit", retry_after="0", times=2, method="GET")
    async with client(emu, provider, retry=RetryPolicy(max_attempts=4)) as api:
        assert len(await api.compositions.list()) == 2
    assert [(r.fault, r.status) for r in emu.requests] == [
        ("rate_limit", 429),
        ("rate_limit", 429),
        (None, 200),
    ]


async def test_a_rate_limit_beyond_the_cap_raises_with_retry_after(
    emu: Emulator, provider: str, backoffs: Backoffs
) -> None:
    emu.inject("rate_limit", retry_after=120)
    async with client(emu, provider, retry=policy(backoffs, max_retry_after=30)) as api:
        with pytest.raises(RateLimitError) as info:
            await api.compositions.list()
    err = info.value
    assert (err.status, err.code, err.retry_after) == (429, RATE_LIMIT_CODE[provider], 120)
    (request,) = emu.requests
    assert err.request_id == request.request_id and backoffs.ceilings == []


async def test_server_errors_on_reads_and_deletes_are_retried(
    emu: Emulator, provider: str, backoffs: Backoffs
) -> None:
    first, second = seed(emu, provider, 2)
    emu.inject("status", status=503, times=2, method="GET")
    emu.inject("status", status=500, method="DELETE")
    async with client(emu, provider, retry=policy(backoffs)) as api:
        assert (await api.compositions.fetch(first)).id == first
        await api.compositions.delete(second)
    assert [(r.method, r.status) for r in emu.requests] == [
        ("GET", 503),
        ("GET", 503),
        ("GET", 200),
        ("DELETE", 500),
        ("DELETE", 204),
    ]
    assert len(backoffs.ceilings) == 3  # one backoff per retry
    if provider == "twilio":
        assert emu.store.twilio[second].status == "deleted"
    else:
        assert second not in emu.store.telnyx


async def test_retries_stop_at_max_attempts(
    emu: Emulator, provider: str, backoffs: Backoffs
) -> None:
    emu.inject("status", status=502, times=10)
    async with client(emu, provider, retry=policy(backoffs, max_attempts=3)) as api:
        with pytest.raises(ServerError) as info:
            await api.compositions.list()
    assert info.value.status == 502 and info.value.request_id == emu.requests[-1].request_id
    assert len(emu.requests) == 3 and len(backoffs.ceilings) == 2


async def test_dropped_connections_are_retried(
    emu: Emulator, provider: str, backoffs: Backoffs
) -> None:
    (id,) = seed(emu, provider)
    emu.inject("disconnect", times=3, method="GET")
    async with client(emu, provider, retry=policy(backoffs)) as api:
        assert (await api.compositions.fetch(id)).id == id
    assert [r.fault for r in emu.requests] == ["disconnect"] * 3 + [None]
    emu.clear_requests()
    # Without retries one drop is one error: aiohttp's own silent resend is off too.
    emu.inject("disconnect", method="GET")
    async with client(emu, provider, retry=None) as api:
        with pytest.raises(APIConnectionError):
            await api.compositions.fetch(id)
        assert (await api.compositions.fetch(id)).id == id
    assert [(r.fault, r.status) for r in emu.requests] == [("disconnect", None), (None, 200)]


# -- bodies ------------------------------------------------------------------------------------


async def test_bodies_that_do_not_decode_raise_and_are_not_retried(
    emu: Emulator, provider: str
) -> None:
    (id,) = seed(emu, provider)
    collection = COLLECTION[provider]
    emu.inject("partial_json", method="GET", path=f"{collection}/{id}")
    emu.inject("partial_json", method="GET", path=collection)
    emu.inject("non_json", method="GET")
    async with client(emu, provider, retry=RetryPolicy(max_attempts=4)) as api:
        with pytest.raises(ResponseDecodeError) as cut:
            await api.compositions.fetch(id)
        with pytest.raises(ResponseDecodeError):
            await api.compositions.list()
        with pytest.raises(ResponseDecodeError) as html:
            await api.compositions.fetch(id)
    full = composition_body(emu, provider, id)
    assert full.startswith(cut.value.body) and len(cut.value.body) < len(full)
    assert cut.value.status == 200
    assert "Bad Gateway" in html.value.body
    assert len(emu.requests) == 3  # a body that does not decode is not retried


async def test_a_body_shorter_than_its_content_length_is_retried(
    emu: Emulator, provider: str
) -> None:
    (id,) = seed(emu, provider)
    emu.inject("truncate", method="GET")
    async with client(emu, provider, retry=RetryPolicy(max_attempts=4, jitter=Backoffs())) as api:
        assert (await api.compositions.fetch(id)).id == id
    assert [(r.fault, r.status) for r in emu.requests] == [("truncate", None), (None, 200)]
