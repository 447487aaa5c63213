"""archive() never deletes at the provider without a verified copy, even when the copy
changes under it, and leaves what it cannot settle for a later run."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from async_compositions import ArchiveReport, RetryPolicy
from async_compositions.archive import ArchiveEvent, CompositionArchived
from async_compositions.emulator import Emulator

SIZE = 50_000
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)
MANIFEST = ".async-compositions-twilio.sqlite3"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=43, media_size=SIZE, manual=True) as emulator:
        yield emulator


async def archive(emu: Emulator, dest: Path, **kwargs: Any) -> ArchiveReport:
    async with emu.twilio_client(retry=FAST) as client:
        report: ArchiveReport = await client.compositions.archive(dest, **kwargs)
    return report


def states(dest: Path) -> dict[str, str]:
    """Each composition's state in the run's SQLite manifest."""
    with closing(sqlite3.connect(dest / MANIFEST)) as db:
        return dict(db.execute("SELECT id, state FROM compositions").fetchall())


def deletes(emu: Emulator) -> int:
    return sum(r.method == "DELETE" for r in emu.requests)


async def test_a_copy_gone_before_its_delete_is_not_deleted(emu: Emulator, tmp_path: Path) -> None:
    (sid,) = emu.seed_twilio(1)

    def lose_the_copy(event: ArchiveEvent) -> None:
        # Another process removes the file between its archiving and its delete.
        if isinstance(event, CompositionArchived):
            (tmp_path / event.key).unlink()

    report = await archive(emu, tmp_path, delete_after=True, progress=lose_the_copy)
    assert report.archived == (sid,) and report.deleted == ()
    (failure,) = report.failed
    assert (failure.id, failure.stage) == (sid, "delete")
    assert failure.message == (
        f"DownloadError: the copy of {sid} at {sid}.mp4 is missing or changed; not deleting"
    )
    assert deletes(emu) == 0
    assert emu.composition(sid)["status"] == "completed"
    assert states(tmp_path) == {sid: "archived"}

    # The next run notices the copy is missing, archives it again, then deletes.
    again = await archive(emu, tmp_path, delete_after=True)
    assert again.ok and again.archived == (sid,) and again.deleted == (sid,)
    assert (tmp_path / f"{sid}.mp4").read_bytes() == emu.media_bytes(sid)
    assert emu.composition(sid)["status"] == "deleted"


async def test_a_lost_delete_stays_unsettled_while_the_provider_cannot_be_asked(
    emu: Emulator, tmp_path: Path
) -> None:
    (sid,) = emu.seed_twilio(1)
    # The provider deletes, and every answer is lost: the run cannot know it happened.
    emu.inject("disconnect", method="DELETE", processed=True, times=50)
    first = await archive(emu, tmp_path, delete_after=True)
    assert [(f.id, f.stage) for f in first.failed] == [(sid, "delete")]
    assert states(tmp_path) == {sid: "deleting"}
    emu.clear_faults()
    emu.clear_requests()

    # The next run asks the provider about it, and the provider fails every time.
    emu.inject("status", status=500, method="GET", path=f"/v1/Compositions/{sid}", times=50)
    second = await archive(emu, tmp_path, delete_after=True)
    assert second.ok and second.archived == second.deleted == ()
    assert states(tmp_path) == {sid: "deleting"}  # left for a later run, not guessed
    asked = [(r.method, r.status) for r in emu.requests if r.path == f"/v1/Compositions/{sid}"]
    assert asked == [("GET", 500)] * FAST.max_attempts
    emu.clear_faults()

    third = await archive(emu, tmp_path, delete_after=True)
    assert third.ok and states(tmp_path) == {sid: "deleted"}
    assert (tmp_path / f"{sid}.mp4").read_bytes() == emu.media_bytes(sid)


async def test_a_copy_that_cannot_be_checked_is_a_verify_failure(
    emu: Emulator, tmp_path: Path
) -> None:
    room = "RM" + "b8" * 16
    (sid,) = emu.seed_twilio(1, room_sid=room)
    first = await archive(emu, tmp_path, name="{room}/{id}{ext}")
    assert first.archived == (sid,)
    assert (tmp_path / room / f"{sid}.mp4").is_file()
    # The room's directory is replaced by a file: the recorded copy cannot even be looked at.
    for item in (tmp_path / room).iterdir():
        item.unlink()
    (tmp_path / room).rmdir()
    (tmp_path / room).write_bytes(b"not a directory")

    report = await archive(emu, tmp_path, name="{room}/{id}{ext}", delete_after=True)
    (failure,) = report.failed
    assert (failure.id, failure.stage) == (sid, "verify")
    assert failure.message.startswith("NotADirectoryError: ")
    assert report.deleted == () and deletes(emu) == 0
    assert emu.composition(sid)["status"] == "completed"
