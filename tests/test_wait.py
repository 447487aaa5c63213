"""compositions.wait(): settle, fail, time out, cancel, back off, and wake on notify()."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from async_compositions import CompositionStatus, NotFoundError, TelnyxClient, TwilioClient
from async_compositions.emulator import Emulator
from async_compositions.errors import CompositionFailedError, WaitTimeoutError


@dataclass(frozen=True)
class Side:
    """One provider, as the tests drive it through the emulator."""

    name: str

    def client(self, emu: Emulator) -> Any:
        return emu.twilio_client() if self.name == "twilio" else emu.telnyx_client()

    def seed(self, emu: Emulator, status: str) -> str:
        if self.name == "twilio":
            return emu.seed_twilio(1, status=status)[0]
        return emu.seed_telnyx(1, status=status)[0]

    def path(self, id: str) -> str:
        if self.name == "twilio":
            return f"/v1/Compositions/{id}"
        return f"/v2/room_compositions/{id}"

    def id_of(self, model: Any) -> str:
        return str(model.sid if self.name == "twilio" else model.id)


@pytest.fixture(params=["twilio", "telnyx"])
def side(request: pytest.FixtureRequest) -> Side:
    return Side(request.param)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=21, manual=True) as emulator:
        yield emulator


def fetches(emu: Emulator, path: str) -> int:
    """GET requests for one composition, from the emulator's request log."""
    return sum(1 for r in emu.requests if r.method == "GET" and r.path == path)


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition()`` holds (a guard against hanging, not a measure)."""
    async with asyncio.timeout(10):
        # The emulator's request log is a plain list: nothing to await on.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def library_tasks() -> list[asyncio.Task[Any]]:
    """Unfinished tasks running this library's code (the emulator's own excluded)."""
    found = []
    for task in asyncio.all_tasks():
        if task is asyncio.current_task() or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if "async_compositions" in filename and "emulator" not in filename:
            found.append(task)
    return found


async def test_waits_until_completed(emu: Emulator, side: Side) -> None:
    id = side.seed(emu, "enqueued")
    async with side.client(emu) as client:
        waiting = asyncio.ensure_future(client.compositions.wait(id, poll_interval=0.01))
        await until(lambda: fetches(emu, side.path(id)) >= 2)
        assert not waiting.done()  # still enqueued: it keeps polling
        await emu.finish(id)
        done = await waiting
        assert done == await client.compositions.fetch(id)
    assert side.id_of(done) == id and done.status is CompositionStatus.COMPLETED


async def test_an_already_settled_composition_costs_one_fetch(emu: Emulator, side: Side) -> None:
    id = side.seed(emu, "completed")
    async with side.client(emu) as client:
        done = await client.compositions.wait(id, poll_interval=30)
    assert done.status is CompositionStatus.COMPLETED
    assert fetches(emu, side.path(id)) == 1


async def test_failure_raises_with_the_model(emu: Emulator, side: Side) -> None:
    id = side.seed(emu, "processing")
    emu.mark_failing(id)
    async with side.client(emu) as client:
        waiting = asyncio.ensure_future(client.compositions.wait(id, poll_interval=0.01))
        await until(lambda: fetches(emu, side.path(id)) >= 1)
        await emu.finish(id)
        with pytest.raises(CompositionFailedError) as info:
            await waiting
    failed = info.value.composition
    assert side.id_of(failed) == id and failed.status is CompositionStatus.FAILED
    assert id in str(info.value)


async def test_twilio_deleted_is_terminal(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1, status="processing")
    async with emu.twilio_client() as client:
        waiting = asyncio.ensure_future(client.compositions.wait(sid, poll_interval=30))
        await until(lambda: fetches(emu, f"/v1/Compositions/{sid}") == 1)
        await client.compositions.delete(sid)
        assert client.compositions.notify(sid) == 1
        done = await waiting
    assert done.status is CompositionStatus.DELETED and done.sid == sid


async def test_telnyx_deleted_while_waiting_is_not_found(emu: Emulator) -> None:
    # Telnyx deletes outright: the next fetch is a 404, which wait() raises.
    (id,) = emu.seed_telnyx(1, status="processing")
    async with emu.telnyx_client() as client:
        waiting = asyncio.ensure_future(client.compositions.wait(id, poll_interval=30))
        await until(lambda: fetches(emu, f"/v2/room_compositions/{id}") == 1)
        await client.compositions.delete(id)
        client.compositions.notify(id)
        with pytest.raises(NotFoundError):
            await waiting


async def test_timeout_carries_the_last_model(emu: Emulator, side: Side) -> None:
    id = side.seed(emu, "processing")
    async with side.client(emu) as client:
        with pytest.raises(WaitTimeoutError) as info:
            await client.compositions.wait(id, timeout=0.3, poll_interval=0.05)
    error = info.value
    assert isinstance(error, TimeoutError)  # `except TimeoutError` catches it too
    assert side.id_of(error.composition) == id
    assert error.composition.status is CompositionStatus.PROCESSING
    assert "processing" in str(error) and fetches(emu, side.path(id)) >= 2


async def test_timeout_during_a_slow_first_fetch(emu: Emulator, side: Side) -> None:
    id = side.seed(emu, "processing")
    emu.inject("delay", delay=5, path=side.path(id))
    async with side.client(emu) as client:
        with pytest.raises(WaitTimeoutError) as info:
            await client.compositions.wait(id, timeout=0.2, poll_interval=0.05)
        assert client.compositions.notify(id) == 0  # the waiter was unregistered
    assert info.value.composition is None  # nothing was seen before the deadline
    assert not library_tasks()


@pytest.mark.parametrize("during", ["sleep", "fetch"])
async def test_cancellation_leaves_nothing_behind(emu: Emulator, side: Side, during: str) -> None:
    id = side.seed(emu, "processing")
    path = side.path(id)
    async with side.client(emu) as client:
        if during == "fetch":
            emu.inject("delay", delay=5, path=path)
        waiting = asyncio.ensure_future(client.compositions.wait(id, poll_interval=30))
        await until(lambda: fetches(emu, path) == 1)
        assert library_tasks() == [waiting]  # the check below would see a leftover
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert waiting.cancelled()
        assert client.compositions.notify(id) == 0  # the waiter was unregistered
        assert not library_tasks()
    assert fetches(emu, path) == 1


async def test_polls_back_off(emu: Emulator, side: Side) -> None:
    id = side.seed(emu, "processing")
    async with side.client(emu) as client:
        with pytest.raises(WaitTimeoutError):
            await client.compositions.wait(id, timeout=0.85, poll_interval=0.05)
    # Polls at 0, .05, .125, .24, .41, .66 s (each gap x1.5): 6 fetches, where a fixed
    # 50 ms interval would make 17. The range absorbs a slow machine's latency.
    assert 4 <= fetches(emu, side.path(id)) <= 7


async def test_notify_by_id_or_event_wakes_every_waiter(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1, status="processing")
    path = f"/v1/Compositions/{sid}"

    @dataclass
    class Event:
        id: str

    async with emu.twilio_client() as client:
        first = asyncio.ensure_future(client.compositions.wait(sid, poll_interval=30))
        second = asyncio.ensure_future(client.compositions.wait(sid, poll_interval=30))
        await until(lambda: fetches(emu, path) == 2)
        assert client.compositions.notify("CJ" + "f" * 32) == 0  # another composition
        assert client.compositions.notify(Event(sid)) == 2  # both re-fetch, still processing
        await until(lambda: fetches(emu, path) == 4)
        await emu.finish(sid)
        assert client.compositions.notify(sid) == 2
        results = await asyncio.gather(first, second)
    assert [r.status for r in results] == [CompositionStatus.COMPLETED] * 2
    assert fetches(emu, path) == 6


async def test_notify_rejects_what_names_no_composition(emu: Emulator) -> None:
    async with emu.twilio_client() as client:
        for bad in (None, 42, object()):
            with pytest.raises(TypeError, match="notify"):
                client.compositions.notify(bad)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"timeout": 0}, ValueError),
        ({"timeout": -1}, ValueError),
        ({"timeout": math.nan}, ValueError),
        ({"timeout": "10"}, TypeError),
        ({"timeout": None}, TypeError),
        ({"timeout": True}, TypeError),
        ({"poll_interval": 0}, ValueError),
        ({"poll_interval": -0.5}, ValueError),
        ({"poll_interval": "1"}, TypeError),
        ({"poll_interval": False}, TypeError),
    ],
)
async def test_invalid_arguments_raise_before_any_request(
    emu: Emulator, side: Side, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    id = side.seed(emu, "processing")
    async with side.client(emu) as client:
        with pytest.raises(error):
            await client.compositions.wait(id, **kwargs)
        assert client.compositions.notify(id) == 0
    assert emu.requests == []


@pytest.mark.parametrize("bad_id", ["a/b", "..", " x", ""])
async def test_an_invalid_id_raises_before_any_request(
    emu: Emulator, side: Side, bad_id: str
) -> None:
    async with side.client(emu) as client:
        with pytest.raises(ValueError):
            await client.compositions.wait(bad_id)
    assert emu.requests == []


def test_the_deadline_raises_wait_timeout_even_when_uvloop_fires_it_early() -> None:
    """uvloop may run a timer up to a millisecond before its loop.time() reaches it."""
    uvloop = pytest.importorskip("uvloop")
    sid = "CJ" + "8" * 32
    url = f"https://video.twilio.com/v1/Compositions/{sid}"

    async def wait_many() -> list[Exception]:
        errors: list[Exception] = []
        with aioresponses() as mock:
            mock.get(url, payload={"sid": sid, "status": "processing"}, repeat=True)
            async with TwilioClient("AC" + "a" * 32, "token") as client:
                # Deadlines at varied fractions of a millisecond, each reached while
                # waiting to poll again: about half fire early by loop.time().
                for n in range(20):
                    try:
                        await client.compositions.wait(
                            sid, timeout=0.005 + n * 0.00037, poll_interval=10
                        )
                    except Exception as exc:
                        errors.append(exc)
        return errors

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        errors = runner.run(wait_many())
    assert [type(e) for e in errors] == [WaitTimeoutError] * 20


async def test_an_unknown_status_is_logged_once_and_waited_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sid = "CJ" + "7" * 32
    url = f"https://video.twilio.com/v1/Compositions/{sid}"
    with aioresponses() as mock:
        mock.get(url, payload={"sid": sid, "status": "archived"}, repeat=True)
        async with TwilioClient("AC" + "a" * 32, "token") as client:
            with (
                caplog.at_level(logging.WARNING, logger="async_compositions"),
                pytest.raises(WaitTimeoutError, match=r"last status archived") as info,
            ):
                await client.compositions.wait(sid, timeout=0.3, poll_interval=0.02)
        polls = len(mock.requests[("GET", URL(url))])
    assert polls >= 3
    assert info.value.composition.status.value == "archived"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'archived'" in warnings[0].getMessage() and sid in warnings[0].getMessage()


async def test_a_record_without_a_status_is_waited_on_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    id = "00000000-0000-4000-a000-000000000008"
    url = f"https://api.telnyx.com/v2/room_compositions/{id}"
    with aioresponses() as mock:
        mock.get(url, payload={"data": {"id": id}})  # Telnyx's status is optional
        mock.get(url, payload={"data": {"id": id, "status": "completed"}})
        async with TelnyxClient("KEY0123456789") as client:
            with caplog.at_level(logging.DEBUG, logger="async_compositions"):
                comp = await client.compositions.wait(id, timeout=5, poll_interval=0.01)
    assert comp.status is CompositionStatus.COMPLETED
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
