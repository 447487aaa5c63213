"""`async-compositions archive`, run in-process against the emulator: what it prints and does.

The command runs on a worker thread (it has its own event loop, as from a shell) while the
emulator serves on the test's loop; stdout and stderr are what a user sees in a pipe, or,
with streams that say they are a terminal, on a screen.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import emulator_environment
from helpers import run_cli as cli

from async_compositions.cli import main
from async_compositions.emulator import Emulator

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

SIZE = 120_000
GUARD = 10  # seconds; only stops a broken test from hanging, never asserted on
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=7, media_size=SIZE, manual=True) as emulator:
        yield emulator


@pytest.fixture
def env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator_environment(emu, monkeypatch)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def media_requests(emu: Emulator) -> int:
    return sum(r.path.startswith("/_media/") for r in emu.requests)


def visible(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if not p.name.startswith("."))


def entries(path: Path) -> list[str]:
    """Every name in a directory, hidden ones included."""
    return sorted(p.name for p in path.iterdir())


# -- into a pipe: one line per composition, then the summary ---------------------------------


@pytest.mark.usefixtures("env")
async def test_archive_prints_a_line_per_composition_then_a_summary(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sids = emu.seed_twilio(3)
    run = await cli(capsys, "archive", str(tmp_path), "--concurrency", "2")
    assert run.code == 0 and run.err == ""
    *lines, summary = run.lines()
    assert sorted(lines) == sorted(f"archived   {sid}  {sid}.mp4" for sid in sids)
    assert summary == (
        "done: archived 3, skipped 0, deleted 0, left alone 0, failed 0; 360,000 bytes"
    )
    assert visible(tmp_path) == sorted(f"{sid}.mp4" for sid in sids)
    for sid in sids:
        assert (tmp_path / f"{sid}.mp4").read_bytes() == emu.media_bytes(sid)

    # A rerun finds every copy in place: nothing is downloaded again.
    emu.clear_requests()
    again = await cli(capsys, "archive", str(tmp_path))
    assert again.code == 0 and again.err == ""
    *lines, summary = again.lines()
    assert sorted(lines) == sorted(f"skipped    {sid}  {sid}.mp4" for sid in sids)
    assert summary == "done: archived 0, skipped 3, deleted 0, left alone 0, failed 0; 0 bytes"
    assert media_requests(emu) == 0


@pytest.mark.usefixtures("env")
async def test_archive_json_lines_with_delete_after_on_telnyx(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = emu.seed_telnyx(2)
    expected = {id: emu.media_bytes(id) for id in ids}
    run = await cli(
        capsys, "--provider", "telnyx", "archive", str(tmp_path), "--delete-after", "--json"
    )
    assert run.code == 0 and run.err == ""
    *events, last = run.json_lines()
    archived = [e for e in events if "archived" in e]
    assert sorted(archived, key=lambda e: e["id"]) == [
        {"id": id, "archived": f"{id}.mp4", "size": SIZE, "sha256": sha(expected[id])}
        for id in sorted(ids)
    ]
    assert sorted(e["id"] for e in events if e.get("deleted") is True) == sorted(ids)
    assert len(events) == 4
    # Each composition is deleted only after its copy is reported archived.
    for id in ids:
        kinds = [next(k for k in e if k != "id") for e in events if e["id"] == id]
        assert kinds == ["archived", "deleted"]
    manifest = tmp_path / ".async-compositions-telnyx.sqlite3"
    assert last == {
        "summary": {
            "archived": 2,
            "skipped": 0,
            "deleted": 2,
            "left_alone": 0,
            "failed": 0,
            "bytes": 2 * SIZE,
            "interrupted": False,
            "dry_run": False,
            "manifest": str(manifest),
        }
    }
    assert manifest.is_file()
    for id in ids:
        assert emu.store.find(id) is None  # gone at the provider
        assert (tmp_path / f"{id}.mp4").read_bytes() == expected[id]


@pytest.mark.usefixtures("env")
async def test_dry_run_says_what_would_be_done_and_does_nothing(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.seed_twilio(2)
    run = await cli(capsys, "archive", str(tmp_path), "--dry-run", "--delete-after")
    assert run.code == 0 and run.err == ""
    assert run.out == (
        "would do: archived 2, skipped 0, deleted 2, left alone 0, failed 0; 0 bytes\n"
    )
    assert entries(tmp_path) == []  # not even a manifest
    assert media_requests(emu) == 0
    assert [r.method for r in emu.requests] == ["GET"]  # the listing only


@pytest.mark.usefixtures("env")
async def test_compositions_not_completed_are_left_alone(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sid,) = emu.seed_twilio(1, status="processing")
    run = await cli(capsys, "archive", str(tmp_path), "--status", "processing")
    assert run.code == 0 and run.err == ""
    assert run.lines() == [
        f"left_alone {sid}  processing",
        "done: archived 0, skipped 0, deleted 0, left alone 1, failed 0; 0 bytes",
    ]
    assert visible(tmp_path) == []
    assert media_requests(emu) == 0


@pytest.mark.usefixtures("env")
async def test_a_failed_download_is_reported_and_exits_1(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sid,) = emu.seed_twilio(1)
    emu.inject("status", status=403, path="/_media/*", times=10)
    run = await cli(capsys, "archive", str(tmp_path), "--json", "--retries", "0")
    assert run.code == 1 and run.err == ""
    failure, last = run.json_lines()
    assert failure["id"] == sid and failure["failed"] == "download"
    assert "403" in failure["error"]
    assert last["summary"]["failed"] == 1 and last["summary"]["archived"] == 0
    assert visible(tmp_path) == []  # no partial file left


@pytest.mark.usefixtures("env")
async def test_a_failure_quoting_a_multi_line_body_is_still_one_line(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sid,) = emu.seed_twilio(1)
    body = b"<?xml version='1.0'?>\n<Error>\n  <Code>AccessDenied</Code>\n</Error>\n"
    emu.inject("status", status=403, path="/_media/*", body=body, times=10)
    run = await cli(capsys, "archive", str(tmp_path), "--retries", "0")
    assert run.code == 1
    (failed,) = [line for line in run.out.splitlines() if sid in line]
    assert failed.startswith(f"failed     {sid}  download  PermissionDeniedError: HTTP 403")
    assert "<Error> <Code>AccessDenied</Code> </Error>" in failed
    assert not any(line.lstrip().startswith("<") for line in run.out.splitlines())


# -- refused before anything is sent -----------------------------------------------------------


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["archive", "/no/such/dir"], "error: cannot archive to /no/such/dir: not an existing"),
        (["archive", "s3://bucket/prefix"], "error: an s3:// destination needs --manifest PATH"),
        (["archive", "{tmp}", "--name", "media{ext}"], "must contain {id}, so names never"),
        (["archive", "{tmp}", "--name", "{id}/{nope}"], "uses unknown fields nope"),
        (["archive", "{tmp}", "--name", "../{id}{ext}"], "which leaves the destination"),
    ],
)
async def test_bad_archive_options_exit_2_before_any_request(
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    run = await cli(capsys, *(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert run.code == 2 and run.out == ""
    assert run.err.count("\n") == 1 and message in run.err
    assert emu.requests == []
    assert entries(tmp_path) == []


# -- to S3 -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("env")
async def test_archive_to_s3_with_a_local_manifest(
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    moto_url: str,
    bucket: str,
    admin: S3Client,
) -> None:
    sids = emu.seed_twilio(2)
    manifest = tmp_path / "manifest.sqlite3"
    run = await cli(
        capsys,
        *("archive", f"s3://{bucket}/calls", "--manifest", str(manifest)),
        *("--s3-endpoint-url", moto_url, "--json"),
    )
    assert run.code == 0 and run.err == ""
    *events, last = run.json_lines()
    assert sorted(e["archived"] for e in events) == sorted(f"{sid}.mp4" for sid in sids)
    assert last["summary"]["archived"] == 2 and last["summary"]["manifest"] == str(manifest)
    listed = await admin.list_objects_v2(Bucket=bucket)
    assert sorted(obj["Key"] for obj in listed["Contents"]) == sorted(
        f"calls/{sid}.mp4" for sid in sids
    )
    for sid in sids:
        got = await admin.get_object(Bucket=bucket, Key=f"calls/{sid}.mp4")
        async with got["Body"] as body:
            assert await body.read() == emu.media_bytes(sid)


# -- on a terminal: progress bars on stderr, only failures and the summary on stdout ---------


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as the tool's stdout and stderr on a screen."""

    def isatty(self) -> bool:
        return True


def on_terminal(monkeypatch: pytest.MonkeyPatch) -> tuple[_Terminal, _Terminal]:
    """Put stdout and stderr on a (fake) 100-column terminal, from here to the test's end.

    Called in the test itself: pytest sets its own capture streams again after the fixtures.
    """
    out, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    return out, err


@pytest.mark.usefixtures("env")
async def test_on_a_terminal_only_failures_and_the_summary_are_printed(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = emu.seed_twilio(2)
    emu.inject("status", status=403, path=f"/_media/*{bad}*", times=10)
    # The good download waits at the door until the bad one's failure is on the screen.
    hold = emu.hold(path=f"/_media/*{good}*")
    out, err = on_terminal(monkeypatch)
    run = asyncio.create_task(asyncio.to_thread(main, ["archive", str(tmp_path), "--retries", "0"]))
    try:
        await hold.wait_held(1, timeout=GUARD)
        async with asyncio.timeout(GUARD):
            while "failed " not in err.getvalue():  # noqa: ASYNC110 - written by a thread
                await asyncio.sleep(0.01)
    finally:
        hold.lift()
        code = await run
    monkeypatch.undo()
    assert code == 1
    assert out.getvalue() == (
        "done: archived 1, skipped 0, deleted 0, left alone 0, failed 1; 120,000 bytes\n"
    )
    assert good not in out.getvalue()  # a success shows on the bars, not as a line
    drawn = err.getvalue()
    assert drawn.rindex("\x1b[?25h") > drawn.rindex("\x1b[?25l")  # the cursor is shown again
    assert drawn.endswith("\x1b[2K")  # and the bars are erased at the end
    screen = ANSI.sub("", drawn)
    # The failure is printed above the bars; each download had a bar of its own size.
    assert f"failed     {bad}  download  PermissionDeniedError: HTTP 403" in screen
    assert f"  {good}.mp4 " in screen and f"  {bad}.mp4 " in screen
    assert "0.0/120.0 kB" in screen
    # The last frame: the whole run's tally, every file's bar gone.
    final = screen.rstrip().splitlines()[-1]
    tally = final.split(" ━", 1)[0]
    assert sorted(tally.split(", ")) == ["archived 1", "failed 1"] and ".mp4" not in final
    assert (tmp_path / f"{good}.mp4").read_bytes() == emu.media_bytes(good)
