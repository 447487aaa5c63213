"""What list, get, create, delete, wait and download print, run in-process on the emulator.

The tool runs on a worker thread (it has its own event loop, as from a shell) while the
emulator serves on the test's loop. Output is what a user sees in a pipe or, with streams
that say they are a terminal, on a screen.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
import urllib.parse
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from helpers import emulator_environment
from helpers import run_cli as cli

from async_compositions.cli import main
from async_compositions.emulator import Emulator

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=5, media_size=90_000, manual=True) as emulator:
        yield emulator


@pytest.fixture
def env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator_environment(emu, monkeypatch)


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, as the tool's stdout and stderr on a screen."""

    def isatty(self) -> bool:
        return True


def on_terminal(monkeypatch: pytest.MonkeyPatch, columns: int) -> tuple[_Terminal, _Terminal]:
    """Put stdout and stderr on a (fake) terminal, from here to the test's end.

    Called in the test itself: pytest sets its own capture streams again after the fixtures.
    """
    out, err = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    return out, err


def when(text: str) -> str:
    """A provider timestamp as the tables print it: to the second, Z for UTC."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%SZ")


def clock(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}:{seconds:02d}"


def entries(path: Path) -> list[str]:
    """Every name in a directory, hidden ones included."""
    return sorted(p.name for p in path.iterdir())


# -- list ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("env")
async def test_an_empty_listing_says_so_on_stderr(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await cli(capsys, "list", "--status", "failed")
    assert (run.code, run.out, run.err) == (0, "", "no compositions\n")
    (request,) = emu.requests
    assert urllib.parse.parse_qs(request.query_string) == {"Status": ["failed"]}


@pytest.mark.usefixtures("env")
async def test_list_telnyx_table_cells(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    session = "5e551011-0000-4000-8000-0000000000e1"
    (tid,) = emu.seed_telnyx(1, session_id=session, media_size=2_500_000)
    run = await cli(capsys, "--provider", "telnyx", "list")
    assert run.code == 0 and run.err == ""
    header, _rule, row = run.lines()
    assert header.split() == [
        "ID", "STATUS", "SESSION", "CREATED", "DURATION", "SIZE", "FORMAT", "RESOLUTION"
    ]  # fmt: skip
    expected = emu.composition(tid)
    assert row.split() == [
        tid,
        "completed",
        session,
        *when(expected["created_at"]).split(),
        clock(expected["duration_secs"]),
        *["2.5", "MB"],
        "mp4",
        "1280x720",
    ]


@pytest.mark.usefixtures("env")
async def test_list_on_a_narrow_terminal_drops_minor_columns_before_ids(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = "RM" + "d4" * 16
    sids = emu.seed_twilio(2, room_sid=room)
    out, err = on_terminal(monkeypatch, columns=90)
    code = await asyncio.to_thread(main, ["list"])
    monkeypatch.undo()
    assert code == 0
    header, *rest = ANSI.sub("", out.getvalue()).splitlines()
    # The room (and whatever else does not fit) is left out; every SID is whole.
    assert header.split()[:3] == ["SID", "STATUS", "CREATED"]
    assert "ROOM" not in header and room not in out.getvalue()
    assert all(len(line) <= 90 for line in rest)
    for sid in sids:
        assert re.search(rf"\b{sid}\b", out.getvalue())
    # The spinner ran on stderr, and was wiped when the listing ended.
    assert "fetching compositions" in ANSI.sub("", err.getvalue())


# -- get -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("env")
async def test_get_twilio_table_shows_each_kind_of_value(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    (sid,) = emu.seed_twilio(1, resolution="1280x720")
    run = await cli(capsys, "get", sid)
    assert run.code == 0 and run.err == ""
    fields = run.fields()
    expected = emu.composition(sid)
    assert fields["sid"] == sid and fields["status"] == "completed"
    assert fields["date_created"] == when(expected["date_created"])
    assert fields["trim"] == "true"  # JSON spelling, not Python's
    assert fields["audio_sources"] == '["*"]'
    # The layout as compact JSON, without the region's unset (null) properties.
    layout = json.loads(fields["video_layout"])
    assert layout["grid"]["video_sources"] == ["*"]
    assert None not in layout["grid"].values()
    assert fields["size"] == str(expected["size"])
    # Empty values (no callback, nothing deleted) are not shown.
    assert "status_callback" not in fields and "date_deleted" not in fields


@pytest.mark.usefixtures("env")
async def test_get_json_is_the_composition_as_decoded(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    (tid,) = emu.seed_telnyx(1)
    run = await cli(capsys, "--provider", "telnyx", "--json", "get", tid)
    assert run.code == 0 and run.err == ""
    (item,) = run.json_lines()
    expected = emu.composition(tid)
    assert item["id"] == tid and item["status"] == "completed"
    assert item["download_url"] == expected["download_url"]  # the full URL, token and all
    assert datetime.fromisoformat(item["created_at"]) == datetime.fromisoformat(
        expected["created_at"].replace("Z", "+00:00")
    )
    assert item["video_layout"]["first"]["video_sources"] == ["*"]


# -- create ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("env")
async def test_create_twilio_prints_the_new_composition(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    room = "RM" + "e5" * 16
    run = await cli(capsys, "create", "--room-sid", room, "--audio-source", "*")
    assert run.code == 0 and run.err == ""
    fields = run.fields()
    assert fields["status"] == "enqueued" and fields["room_sid"] == room
    assert emu.composition(fields["sid"])["status"] == "enqueued"
    (request,) = emu.requests
    assert urllib.parse.parse_qsl(request.body.decode()) == [
        ("RoomSid", room),
        ("AudioSources", "*"),
    ]


@pytest.mark.usefixtures("env")
async def test_create_telnyx_with_a_layout_file(
    emu: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    session = "5e551011-0000-4000-8000-0000000000e2"
    layout = {"main": {"video_sources": ["*"], "x_pos": 0, "y_pos": 0, "z_pos": 1}}
    path = tmp_path / "layout.json"
    path.write_text(json.dumps(layout), encoding="utf-8")
    run = await cli(
        capsys, "--provider", "telnyx", "create", "--session-id", session, "--layout", f"@{path}"
    )
    assert run.code == 0 and run.err == ""
    assert run.fields()["session_id"] == session
    (request,) = emu.requests
    assert json.loads(request.body) == {"session_id": session, "video_layout": layout}


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layout", "[1, 2]"], "error: --layout must be a JSON object of regions, like {"),
        (["--layout", "{}"], "error: --layout must be a JSON object of regions"),
    ],
)
async def test_a_layout_that_is_not_an_object_is_refused(
    emu: Emulator, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    run = await cli(capsys, "create", "--room-sid", "RM" + "f6" * 16, *args)
    assert run.code == 2 and run.out == ""
    assert run.err.startswith(message) and run.err.count("\n") == 1
    assert emu.requests == []


@pytest.mark.usefixtures("env")
async def test_list_filters_by_creation_time(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await cli(
        capsys,
        *("list", "--json", "--created-after", "2024-05-01T02:00:00+02:00"),
        *("--created-before", "2024-06-01T00:00:00Z"),
    )
    assert (run.code, run.out, run.err) == (0, "", "")
    (request,) = emu.requests
    query = urllib.parse.parse_qs(request.query_string)
    assert query["DateCreatedAfter"] == ["2024-05-01T00:00:00Z"]
    assert query["DateCreatedBefore"] == ["2024-06-01T00:00:00Z"]


@pytest.mark.usefixtures("env")
async def test_a_timestamp_that_is_not_iso_8601_is_refused(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    run = await cli(capsys, "list", "--created-before", "yesterday")
    assert run.code == 2 and run.out == ""
    assert run.err == (
        "error: --created-before must be an ISO-8601 timestamp like 2024-05-01T00:00:00Z, "
        "got 'yesterday'\n"
    )
    assert emu.requests == []


# -- delete, wait ----------------------------------------------------------------------------


@pytest.mark.usefixtures("env")
async def test_delete_confirms_in_one_line(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    (tid,) = emu.seed_telnyx(1)
    run = await cli(capsys, "--provider", "telnyx", "delete", tid)
    assert (run.code, run.out, run.err) == (0, f"deleted {tid}\n", "")
    assert emu.store.find(tid) is None
    assert [r.method for r in emu.requests] == ["DELETE"]


@pytest.mark.usefixtures("env")
async def test_wait_prints_the_failed_composition_then_exits_3(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    room = "RM" + "a7" * 16
    emu.mark_failing(room)
    (sid,) = emu.seed_twilio(1, room_sid=room, status="failed")
    run = await cli(capsys, "wait", sid, "--poll-interval", "0.01")
    assert run.code == 3
    fields = run.fields()
    assert fields["sid"] == sid and fields["status"] == "failed"
    assert run.err == f"error: composition {sid} failed\n"


@pytest.mark.usefixtures("env")
async def test_wait_for_a_completed_composition_prints_it(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    (sid,) = emu.seed_twilio(1)
    run = await cli(capsys, "wait", sid, "--json")
    assert run.code == 0 and run.err == ""
    (item,) = run.json_lines()
    assert item["sid"] == sid and item["status"] == "completed"
    assert len(emu.requests) == 1  # already settled: one fetch


# -- download --------------------------------------------------------------------------------


@pytest.mark.usefixtures("env")
async def test_download_into_a_directory_names_the_file_after_the_composition(
    emu: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (sid,) = emu.seed_twilio(1, format="webm")
    run = await cli(capsys, "download", sid, str(tmp_path), "--json")
    assert run.code == 0 and run.err == ""
    saved = tmp_path / f"{sid}.webm"
    assert run.json_lines() == [
        {"id": sid, "path": str(saved), "size": 90_000, "content_type": "video/webm"}
    ]
    assert saved.read_bytes() == emu.media_bytes(sid)


@pytest.mark.usefixtures("env")
async def test_download_shows_a_bar_on_a_terminal(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (sid,) = emu.seed_twilio(1)
    dest = tmp_path / "media.mp4"
    out, err = on_terminal(monkeypatch, columns=100)
    code = await asyncio.to_thread(main, ["download", sid, str(dest)])
    monkeypatch.undo()
    assert code == 0
    assert out.getvalue() == f"{dest}  90,000 bytes\n"
    assert "90.0/90.0 kB" in ANSI.sub("", err.getvalue())  # the finished bar
    assert dest.read_bytes() == emu.media_bytes(sid)


@pytest.mark.usefixtures("env")
async def test_a_file_that_cannot_be_written_exits_1_and_leaves_nothing(
    emu: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (sid,) = emu.seed_twilio(1)
    dest = tmp_path / ("x" * 300 + ".mp4")  # longer than a file name may be
    run = await cli(capsys, "download", sid, str(dest))
    assert run.code == 1 and run.out == ""
    assert run.err.startswith("error: [Errno 36] File name too long")
    assert run.err.count("\n") == 1
    assert entries(tmp_path) == []
