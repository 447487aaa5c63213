"""Ctrl-C during `async-compositions archive`, in-process: what it says, and what it keeps.

The tool runs on the main thread, as from a shell, so that SIGINT reaches its event loop;
the emulator serves from a thread of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import sqlite3
import threading
from collections.abc import Coroutine, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest

from async_compositions.cli import main
from async_compositions.emulator import Emulator, Hold

SIZE = 120_000
GUARD = 10  # seconds; only stops a broken test from hanging, never asserted on
T = TypeVar("T")


class EmulatorThread:
    """An Emulator serving on its own event loop, in a thread."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.emu: Emulator | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()))

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with Emulator(seed=17, media_size=SIZE, manual=True) as emu:
            self.emu = emu
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> Emulator:
        self._thread.start()
        assert self._ready.wait(GUARD), "the emulator did not start"
        assert self.emu is not None
        return self.emu

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(GUARD)

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop)


@pytest.fixture
def server() -> Iterator[EmulatorThread]:
    yield EmulatorThread()


def env_for(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "TELNYX_", "ASYNC_COMPOSITIONS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TWILIO_VIDEO_BASE_URL", emu.twilio_base_url)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", emu.twilio_account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", emu.twilio_auth_token)


def states(manifest: Path) -> dict[str, str]:
    with closing(sqlite3.connect(manifest)) as db:
        return dict(db.execute("SELECT id, state FROM compositions").fetchall())


def test_ctrl_c_prints_what_was_done_and_keeps_it(
    server: EmulatorThread,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # asyncio.run turns SIGINT into cancelling the command only with Python's own handler.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with server as emu:
        env_for(emu, monkeypatch)

        async def prepare() -> tuple[list[str], Hold]:
            # On the emulator's loop: its state is that loop's alone.
            return emu.seed_twilio(2), emu.hold(path="/_media/*")

        async def lift() -> None:
            hold.lift()

        sids, hold = server.submit(prepare()).result(GUARD)

        async def ctrl_c_during_the_second_download() -> bool:
            try:
                await hold.wait_held(1, timeout=GUARD)
                hold.release()  # the first composition's media goes through
                await hold.wait_held(1, timeout=GUARD)  # the second one's waits
            except TimeoutError:
                hold.lift()
                return False
            os.kill(os.getpid(), signal.SIGINT)
            return True

        interrupted = server.submit(ctrl_c_during_the_second_download())
        try:
            code = main(["archive", str(tmp_path), "--concurrency", "1"])
        finally:
            server.submit(lift()).result(GUARD)
        assert interrupted.result(GUARD), "the second download never started"
        media = {sid: emu.media_bytes(sid) for sid in sids}
    captured = capsys.readouterr()
    assert code == 130
    (line,) = captured.out.splitlines()
    done = line.split()[1]
    assert line == f"archived   {done}  {done}.mp4"
    (stopped,) = set(sids) - {done}
    # What was done, on stderr: stdout keeps only the per-composition lines.
    assert captured.err == (
        "interrupted after: archived 1, skipped 0, deleted 0, left alone 0, failed 0; "
        "120,000 bytes\n"
    )
    assert (tmp_path / f"{done}.mp4").read_bytes() == media[done]
    manifest = tmp_path / ".async-compositions-twilio.sqlite3"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{done}.mp4", manifest.name])
    # The stopped download left no temporary file; a rerun starts it again.
    assert states(manifest) == {done: "archived", stopped: "downloading"}
