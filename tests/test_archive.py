"""compositions.archive() against the emulator, over real sockets, for both providers."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import stray_tasks

from async_compositions import ArchiveReport, RetryPolicy
from async_compositions._manifest import Manifest
from async_compositions._stores import _FileWriter
from async_compositions.archive import (
    ArchiveFinished,
    ArchiveStarted,
    CompositionArchived,
    CompositionDeleted,
    CompositionFailed,
    TransferProgress,
    TransferStarted,
)
from async_compositions.emulator import Emulator, RecordedRequest

SIZE = 200_000
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)


@dataclass(frozen=True)
class Side:
    """One provider, as the tests drive it through the emulator."""

    name: str

    def client(self, emu: Emulator, **kwargs: Any) -> Any:
        kwargs.setdefault("retry", FAST)
        if self.name == "twilio":
            return emu.twilio_client(**kwargs)
        return emu.telnyx_client(**kwargs)

    def seed(self, emu: Emulator, n: int, **kwargs: Any) -> list[str]:
        if self.name == "twilio":
            return emu.seed_twilio(n, **kwargs)
        return emu.seed_telnyx(n, **kwargs)

    def gone(self, emu: Emulator, id: str) -> bool:
        """Deleted at the provider (Twilio keeps the record, marked deleted)."""
        record = emu.store.find(id)
        return record is None or record.status == "deleted"

    @property
    def manifest_name(self) -> str:
        return f".async-compositions-{self.name}.sqlite3"


@pytest.fixture(params=["twilio", "telnyx"])
def side(request: pytest.FixtureRequest) -> Side:
    return Side(request.param)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=41, media_size=SIZE, manual=True) as emulator:
        yield emulator


def media(emu: Emulator) -> list[RecordedRequest]:
    return [r for r in emu.requests if r.path.startswith("/_media/")]


def deletes(emu: Emulator) -> list[RecordedRequest]:
    return [r for r in emu.requests if r.method == "DELETE"]


def rows(manifest: Path) -> dict[str, tuple[Any, ...]]:
    with closing(sqlite3.connect(manifest)) as db:
        found = db.execute("SELECT id, state, key, size, sha256 FROM compositions").fetchall()
    return {row[0]: row[1:] for row in found}


def files(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if not p.name.startswith("."))


def everything(path: Path) -> list[Path]:
    return sorted(path.rglob("*"))


def hidden(path: Path) -> list[str]:
    return sorted(p.name for p in path.rglob(".*") if ".sqlite3" not in p.name)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def archive(side: Side, emu: Emulator, dest: Any, **kwargs: Any) -> ArchiveReport:
    async with side.client(emu) as client:
        report: ArchiveReport = await client.compositions.archive(dest, **kwargs)
    return report


# -- the whole job ------------------------------------------------------------------------


async def test_a_full_archive(emu: Emulator, side: Side, tmp_path: Path) -> None:
    ids = side.seed(emu, 5)
    events: list[Any] = []
    report = await archive(side, emu, tmp_path, progress=events.append, concurrency=2)
    assert sorted(report.archived) == sorted(ids)
    assert report.ok and report.bytes == 5 * SIZE and not report.dry_run
    assert (report.skipped, report.deleted, report.left_alone) == ((), (), ())
    assert files(tmp_path) == sorted(f"{id}.mp4" for id in ids)
    assert hidden(tmp_path) == []  # no temporary file left behind
    manifest = tmp_path / side.manifest_name
    assert report.manifest == str(manifest)
    recorded = rows(manifest)
    for id in ids:
        content = (tmp_path / f"{id}.mp4").read_bytes()
        assert content == emu.media_bytes(id)
        assert recorded[id] == ("archived", f"{id}.mp4", SIZE, sha(content))
    assert all(not side.gone(emu, id) for id in ids)  # nothing deleted without asking
    kinds = [type(e) for e in events]
    assert kinds[0] is ArchiveStarted and kinds[-1] is ArchiveFinished
    assert kinds.count(TransferStarted) == kinds.count(CompositionArchived) == 5
    assert TransferProgress in kinds
    archived = [e for e in events if isinstance(e, CompositionArchived)]
    assert {e.sha256 for e in archived} == {sha(emu.media_bytes(id)) for id in ids}


async def test_a_rerun_downloads_nothing(emu: Emulator, side: Side, tmp_path: Path) -> None:
    ids = side.seed(emu, 4)
    await archive(side, emu, tmp_path)
    emu.clear_requests()
    again = await archive(side, emu, tmp_path)
    assert sorted(again.skipped) == sorted(ids)
    assert again.archived == () and again.bytes == 0
    assert media(emu) == []


async def test_left_alone_until_completed(emu: Emulator, side: Side, tmp_path: Path) -> None:
    (done,) = side.seed(emu, 1)
    (busy,) = side.seed(emu, 1, status="processing")
    default = await archive(side, emu, tmp_path)
    assert default.archived == (done,) and default.left_alone == ()  # status=completed
    every = await archive(side, emu, tmp_path, status=None)
    assert every.skipped == (done,) and every.left_alone == (busy,)
    assert files(tmp_path) == [f"{done}.mp4"]


# -- deleting only what is safe ------------------------------------------------------------


async def test_delete_after_deletes_only_verified_copies(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    kept, removed, changed, broken = side.seed(emu, 4)
    content = {id: emu.media_bytes(id) for id in (kept, removed, changed)}
    await archive(side, emu, tmp_path)
    (tmp_path / f"{removed}.mp4").unlink()  # the copy went missing since
    (tmp_path / f"{changed}.mp4").write_bytes(b"not the media")  # or changed
    emu.clear_requests()
    # The re-archived broken one cannot be downloaded now: it must not be deleted.
    (tmp_path / f"{broken}.mp4").unlink()
    emu.inject("status", status=500, path=f"/_media/*{broken}*", times=50)
    report = await archive(side, emu, tmp_path, delete_after=True)
    assert report.skipped == (kept,)
    assert sorted(report.archived) == sorted([removed, changed])
    assert sorted(report.deleted) == sorted([kept, removed, changed])
    assert [f.id for f in report.failed] == [broken] and report.failed[0].stage == "download"
    for id in (kept, removed, changed):
        assert side.gone(emu, id)
        assert (tmp_path / f"{id}.mp4").read_bytes() == content[id]
    assert not side.gone(emu, broken)
    assert all(broken not in r.path for r in deletes(emu))
    recorded = rows(tmp_path / side.manifest_name)
    assert {recorded[id][0] for id in (kept, removed, changed)} == {"deleted"}
    assert recorded[broken][0] == "failed"


async def test_a_failed_delete_is_reported_and_retried_later(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    (id,) = side.seed(emu, 1)
    content = emu.media_bytes(id)
    emu.inject("status", status=500, method="DELETE", times=50)
    first = await archive(side, emu, tmp_path, delete_after=True)
    assert first.archived == (id,) and first.deleted == ()
    assert [(f.id, f.stage) for f in first.failed] == [(id, "delete")]
    assert (tmp_path / f"{id}.mp4").read_bytes() == content  # the copy is safe
    assert rows(tmp_path / side.manifest_name)[id][0] == "archived"
    emu.clear_faults()
    second = await archive(side, emu, tmp_path, delete_after=True)
    assert second.skipped == (id,) and second.deleted == (id,) and second.ok
    assert side.gone(emu, id)


async def test_a_delete_lost_in_flight_is_settled_by_the_next_run(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    # The provider deletes, then the connection drops before the answer, on every
    # attempt: the run cannot know whether the delete happened.
    (id,) = side.seed(emu, 1)
    emu.inject("disconnect", method="DELETE", processed=True, times=50)
    first = await archive(side, emu, tmp_path, delete_after=True)
    assert [(f.id, f.stage) for f in first.failed] == [(id, "delete")]
    assert side.gone(emu, id)
    assert rows(tmp_path / side.manifest_name)[id][0] == "deleting"
    emu.clear_faults()
    sent, asked = len(deletes(emu)), len(emu.requests)
    second = await archive(side, emu, tmp_path, delete_after=True)
    assert second.ok and second.failed == ()
    assert rows(tmp_path / side.manifest_name)[id][0] == "deleted"
    # Settled by asking the provider about that one composition, not by deleting again.
    assert len(deletes(emu)) == sent
    assert [r.method for r in emu.requests[asked:] if id in r.path] == ["GET"]


async def test_a_delete_that_never_happened_goes_back_to_archived(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    # Dropped before the provider acted: the composition is still there. A later run
    # without delete_after records it as archived again and leaves it alone.
    (id,) = side.seed(emu, 1)
    emu.inject("disconnect", method="DELETE", times=50)
    first = await archive(side, emu, tmp_path, delete_after=True)
    assert [(f.id, f.stage) for f in first.failed] == [(id, "delete")]
    assert not side.gone(emu, id)
    assert rows(tmp_path / side.manifest_name)[id][0] == "deleting"
    emu.clear_faults()
    sent = len(deletes(emu))
    second = await archive(side, emu, tmp_path)
    assert second.ok and second.skipped == (id,)
    assert rows(tmp_path / side.manifest_name)[id][0] == "archived"
    assert len(deletes(emu)) == sent and not side.gone(emu, id)


async def test_a_media_file_that_is_not_the_composition_is_refused(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    (id,) = side.seed(emu, 1)
    short = b"x" * 1000  # a complete, consistent response, but not this composition's size
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {len(short)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    emu.inject("raw", path="/_media/*", body=head + short, times=10)
    report = await archive(side, emu, tmp_path, delete_after=True)
    assert [(f.id, f.stage) for f in report.failed] == [(id, "verify")]
    assert "1000 bytes arrived" in report.failed[0].message
    assert files(tmp_path) == [] and hidden(tmp_path) == []
    assert deletes(emu) == [] and not side.gone(emu, id)


# -- transfers that break -----------------------------------------------------------------


async def test_a_media_drop_mid_body_resumes(emu: Emulator, side: Side, tmp_path: Path) -> None:
    (id,) = side.seed(emu, 1)
    emu.inject("truncate", path="/_media/*")
    report = await archive(side, emu, tmp_path)
    assert report.archived == (id,)
    assert (tmp_path / f"{id}.mp4").read_bytes() == emu.media_bytes(id)
    first, second = media(emu)
    assert first.fault == "truncate"
    assert second.headers.get("Range", "").startswith("bytes=") and second.status == 206


async def test_a_url_that_expires_mid_file_is_renewed(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    (id,) = side.seed(emu, 1)
    real_clock = emu.store.clock

    def clock() -> Any:
        # From the second media request on, an hour has passed: the first URL has expired.
        later = len(media(emu)) >= 2
        return real_clock() + (timedelta(hours=1) if later else timedelta(0))

    emu.store.clock = clock
    emu.inject("truncate", path="/_media/*")
    report = await archive(side, emu, tmp_path)
    assert report.archived == (id,) and report.ok
    assert (tmp_path / f"{id}.mp4").read_bytes() == emu.media_bytes(id)
    cut, refused, resumed = media(emu)
    assert cut.fault == "truncate" and refused.status == 403
    assert resumed.status == 206 and resumed.headers["Range"] == refused.headers["Range"]
    assert resumed.url_path_qs != refused.url_path_qs  # a freshly signed URL


async def test_rate_limits_slow_the_job_never_fail_it(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    ids = side.seed(emu, 3)
    emu.inject("rate_limit", retry_after=0, times=8)
    report = await archive(side, emu, tmp_path, delete_after=True)
    assert report.ok and sorted(report.archived) == sorted(ids) == sorted(report.deleted)
    assert sum(r.status == 429 for r in emu.requests) == 8


# -- destinations that refuse --------------------------------------------------------------


async def test_a_full_disk_is_reported_and_nothing_deleted(
    emu: Emulator, side: Side, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = side.seed(emu, 2)
    original = _FileWriter.write

    async def full(self: _FileWriter, data: bytes) -> None:
        if self._size + len(data) > SIZE // 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        await original(self, data)

    monkeypatch.setattr(_FileWriter, "write", full)
    report = await archive(side, emu, tmp_path, delete_after=True)
    assert sorted(f.id for f in report.failed) == sorted(ids)
    assert {f.stage for f in report.failed} == {"download"}
    assert all("No space left" in f.message for f in report.failed)
    assert files(tmp_path) == [] and hidden(tmp_path) == []
    assert deletes(emu) == []


async def test_a_read_only_destination_is_reported_and_nothing_deleted(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    ids = side.seed(emu, 2)
    # /proc takes no files, whoever runs the tests (root included).
    report = await archive(side, emu, "/proc", manifest=tmp_path / "m.sqlite3", delete_after=True)
    assert sorted(f.id for f in report.failed) == sorted(ids)
    assert deletes(emu) == [] and not any(side.gone(emu, id) for id in ids)
    assert {row[0] for row in rows(tmp_path / "m.sqlite3").values()} == {"failed"}


# -- dry runs, names, bad input -------------------------------------------------------------


async def test_a_dry_run_sends_no_download_or_delete(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    archived, fresh = side.seed(emu, 2)
    await archive(side, emu, tmp_path)
    manifest = tmp_path / side.manifest_name
    (tmp_path / f"{fresh}.mp4").unlink()
    before = manifest.read_bytes()
    emu.clear_requests()
    report = await archive(side, emu, tmp_path, dry_run=True, delete_after=True)
    assert report.dry_run
    assert report.skipped == (archived,) and report.archived == (fresh,)
    assert sorted(report.deleted) == sorted([archived, fresh])
    assert media(emu) == [] and deletes(emu) == []
    assert manifest.read_bytes() == before  # nothing recorded either


async def test_a_dry_run_of_a_new_destination_creates_no_manifest(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    (id,) = side.seed(emu, 1)
    report = await archive(side, emu, tmp_path, dry_run=True)
    assert report.archived == (id,)
    assert everything(tmp_path) == []


async def test_a_name_template_files_by_date(emu: Emulator, side: Side, tmp_path: Path) -> None:
    (id,) = side.seed(emu, 1)
    report = await archive(side, emu, tmp_path, name="{date_created:%Y/%m/%d}/{id}{ext}")
    assert report.archived == (id,)
    (path,) = [p for p in everything(tmp_path) if p.suffix == ".mp4"]
    assert path.name == f"{id}.mp4" and len(path.relative_to(tmp_path).parts) == 4
    assert path.read_bytes() == emu.media_bytes(id)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": "{room}{ext}"}, ValueError, "must contain {id}"),
        ({"name": "../{id}{ext}"}, ValueError, "leaves the destination"),
        ({"name": "{id}{colour}"}, ValueError, "unknown fields colour"),
        ({"name": "{id"}, ValueError, "not a valid template"),
        ({"name": 5}, TypeError, "name must be a str"),
        ({"concurrency": 0}, ValueError, "concurrency"),
        ({"concurrency": 2.5}, TypeError, "concurrency"),
        ({"delete_after": "yes"}, TypeError, "delete_after"),
        ({"progress": 5}, TypeError, "progress"),
        ({"status": "bogus"}, ValueError, "status"),
        ({"manifest": 5}, TypeError, "manifest"),
    ],
)
async def test_bad_input_is_refused_before_anything_is_sent(
    emu: Emulator, side: Side, tmp_path: Path, kwargs: dict[str, Any], error: type, message: str
) -> None:
    side.seed(emu, 1)
    emu.clear_requests()
    with pytest.raises(error, match=message):
        await archive(side, emu, tmp_path, **kwargs)
    assert emu.requests == [] and everything(tmp_path) == []


async def test_a_missing_directory_or_an_s3_dest_without_manifest(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await archive(side, emu, tmp_path / "nope")
    with pytest.raises(ValueError, match="needs manifest="):
        await archive(side, emu, "s3://bucket/prefix")
    with pytest.raises(TypeError, match="dest must be"):
        await archive(side, emu, 42)
    assert emu.requests == []


async def test_two_providers_share_a_directory(emu: Emulator, tmp_path: Path) -> None:
    (sid,) = emu.seed_twilio(1)
    (tid,) = emu.seed_telnyx(1)
    one = await archive(Side("twilio"), emu, tmp_path)
    two = await archive(Side("telnyx"), emu, tmp_path)
    assert (one.archived, two.archived) == ((sid,), (tid,))
    assert files(tmp_path) == sorted([f"{sid}.mp4", f"{tid}.mp4"])


# -- stopping ------------------------------------------------------------------------------


async def test_cancelling_stops_downloads_and_leaves_no_temporary_file(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    side.seed(emu, 4)
    started = asyncio.Event()

    async def progress(event: Any) -> None:
        if isinstance(event, TransferProgress):
            started.set()
            await asyncio.Event().wait()  # hold every transfer part-way through

    async with side.client(emu) as client:
        task = asyncio.ensure_future(
            client.compositions.archive(tmp_path, progress=progress, concurrency=2)
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert files(tmp_path) == [] and hidden(tmp_path) == []
    recorded = rows(tmp_path / side.manifest_name)
    assert recorded and {row[0] for row in recorded.values()} == {"downloading"}
    assert stray_tasks() == set()
    # A rerun starts them again and finishes.
    report = await archive(side, emu, tmp_path)
    assert len(report.archived) == 4 and report.ok


async def test_progress_events_say_what_failed(emu: Emulator, side: Side, tmp_path: Path) -> None:
    (id,) = side.seed(emu, 1)
    emu.inject("status", status=500, path="/_media/*", times=50)
    events: list[Any] = []
    await archive(side, emu, tmp_path, progress=events.append, delete_after=True)
    (failed,) = [e for e in events if isinstance(e, CompositionFailed)]
    assert failed.failure.id == id and failed.failure.stage == "download"
    assert not [e for e in events if isinstance(e, CompositionDeleted)]


async def test_a_manifest_that_fails_to_open_closes_its_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        # Made on the manifest's thread, inspected from this one.
        opened.append(connect(*args, **kwargs, check_same_thread=False))
        return opened[-1]

    monkeypatch.setattr(sqlite3, "connect", recording_connect)
    path = tmp_path / "m.sqlite3"
    async with Manifest(path, provider="twilio", destination=str(tmp_path)):
        pass
    with pytest.raises(ValueError, match="belongs to another archive"):
        async with Manifest(path, provider="telnyx", destination=str(tmp_path)):
            pass
    assert len(opened) == 2
    for db in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
            db.execute("SELECT 1")
