"""The command-line tool, run as a process against an in-process emulator."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from helpers import CliRun as Run

from async_compositions.cli import main
from async_compositions.emulator import Emulator

module_loop = pytest.mark.asyncio(loop_scope="module")

MISSING_SID = "CJ" + "0" * 32
MISSING_UUID = "00000000-0000-4000-8000-000000000000"
MISSING_ROOM = "RM" + "0" * 32
ESC = "\x1b"


def _clean_env() -> dict[str, str]:
    """The test process's environment without any provider settings of the developer's."""
    prefixes = ("TWILIO_", "TELNYX_", "ASYNC_COMPOSITIONS_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def emulator_env(emu: Emulator) -> dict[str, str]:
    """What `python -m async_compositions.emulator` prints, as a child's environment."""
    return _clean_env() | {
        "TWILIO_VIDEO_BASE_URL": emu.twilio_base_url,
        "TWILIO_ACCOUNT_SID": emu.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": emu.twilio_auth_token,
        "TELNYX_BASE_URL": emu.telnyx_base_url,
        "TELNYX_API_KEY": emu.telnyx_api_key,
    }


async def cli(*args: str, env: dict[str, str], program: list[str] | None = None) -> Run:
    """Run the tool with stdout and stderr piped (not a terminal); the loop keeps serving."""
    command = program or [sys.executable, "-W", "error", "-m", "async_compositions"]
    process = await asyncio.create_subprocess_exec(
        *command,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def one_error_line(run: Run) -> str:
    """The single `error: ...` line a failure prints, with nothing on stdout."""
    assert run.out == ""
    lines = run.err.splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in run.err
    return lines[0]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def emu() -> AsyncIterator[Emulator]:
    """One manual emulator for the module: nothing changes state unless a test says so."""
    async with Emulator(seed=11, manual=True) as emulator:
        yield emulator


@pytest.fixture
def env(emu: Emulator) -> Iterator[dict[str, str]]:
    emu.clear_requests()
    yield emulator_env(emu)


def requests_to(emu: Emulator, prefix: str) -> list[Any]:
    return [r for r in emu.requests if r.path.startswith(prefix)]


# -- help ------------------------------------------------------------------------------------


@module_loop
async def test_module_help_lists_commands_and_exit_codes(env: dict[str, str]) -> None:
    run = await cli("--help", env=env)
    assert run.code == 0 and run.err == ""
    assert run.out.startswith("usage: async-compositions")
    for command in ("list", "get", "create", "delete", "wait", "download", "emulator"):
        assert f"\n    {command} " in run.out
    assert "exit status:" in run.out
    for code in ("0 ", "1 ", "2 ", "3 ", "130 "):
        assert f"\n  {code}" in run.out
    assert "TELNYX_API_KEY" in run.out and "TWILIO_AUTH_TOKEN" in run.out


@pytest.mark.parametrize("command", ["list", "get", "create", "delete", "wait", "download"])
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: async-compositions {command}")
    assert "--provider" in out and "--json" in out


def test_create_help_groups_provider_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", "--help"]) == 0
    out = capsys.readouterr().out
    twilio, _, telnyx = out.partition("Telnyx options:")
    assert "--room-sid" in twilio and "--audio-source" in twilio and "--no-trim" in twilio
    assert "--session-id" in telnyx and "--webhook-url" in telnyx


def test_emulator_command_passes_options_through(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["emulator", "--help"]) == 0
    assert "--processing-delay" in capsys.readouterr().out
    assert main(["emulator", "--port", "not-a-port"]) == 2
    assert "--port" in capsys.readouterr().err


# -- list ------------------------------------------------------------------------------------


@module_loop
async def test_list_twilio_table(emu: Emulator, env: dict[str, str]) -> None:
    room = "RM" + "a1" * 16
    sids = emu.seed_twilio(3, room_sid=room, media_size=2_000_000)
    run = await cli("list", "--room-sid", room, env=env)
    assert run.code == 0 and run.err == ""
    assert ESC not in run.out
    header, rule, *rows = run.lines()
    assert header.split() == [
        "SID", "STATUS", "ROOM", "CREATED", "DURATION", "SIZE", "FORMAT", "RESOLUTION"
    ]  # fmt: skip
    assert set(rule) == {"─"}
    assert {row.split()[0] for row in rows} == set(sids)
    for row in rows:
        sid, status, row_room, day, time, _duration, size, unit, fmt, res = row.split()
        created = datetime.fromisoformat(emu.composition(sid)["date_created"])
        assert (status, row_room, fmt, res) == ("completed", room, "mp4", "640x480")
        assert f"{day} {time}" == created.strftime("%Y-%m-%d %H:%M:%SZ")
        assert (size, unit) == ("2.0", "MB")
    (request,) = requests_to(emu, "/v1/Compositions")
    assert urllib.parse.parse_qs(request.query_string) == {"RoomSid": [room]}


@module_loop
async def test_list_twilio_json_lines_stream_every_page(emu: Emulator, env: dict[str, str]) -> None:
    room = "RM" + "b2" * 16
    sids = emu.seed_twilio(3, room_sid=room)
    emu.seed_twilio(1, room_sid=room, status="failed")
    run = await cli(
        "list",
        "--json",
        "--room-sid",
        room,
        "--status",
        "completed",
        "--created-after",
        "2000-01-01T01:00:00+01:00",
        "--page-size",
        "2",
        env=env,
    )
    assert run.code == 0 and run.err == ""
    items = run.json_lines()
    assert sorted(item["sid"] for item in items) == sorted(sids)
    for item in items:
        expected = emu.composition(item["sid"])
        assert item["status"] == "completed"
        assert item["room_sid"] == room
        assert item["size"] == expected["size"]
        when = datetime.fromisoformat(item["date_created"])
        assert when.utcoffset() is not None
        assert when == datetime.fromisoformat(expected["date_created"].replace("Z", "+00:00"))
    pages = requests_to(emu, "/v1/Compositions")
    assert len(pages) == 2  # three items at two per page
    first = urllib.parse.parse_qs(pages[0].query_string)
    assert first["Status"] == ["completed"] and first["PageSize"] == ["2"]
    assert first["DateCreatedAfter"] == ["2000-01-01T00:00:00Z"]


@module_loop
async def test_list_telnyx_table_with_provider_from_env(emu: Emulator, env: dict[str, str]) -> None:
    session = "5e551011-0000-4000-8000-00000000000a"
    ids = emu.seed_telnyx(2, session_id=session)
    run = await cli(
        "list", "--session-id", session, env=env | {"ASYNC_COMPOSITIONS_PROVIDER": "telnyx"}
    )
    assert run.code == 0 and run.err == ""
    assert ESC not in run.out
    header, _rule, *rows = run.lines()
    assert header.split()[:4] == ["ID", "STATUS", "SESSION", "CREATED"]
    assert {row.split()[0] for row in rows} == set(ids)
    assert all(row.split()[1:3] == ["completed", session] for row in rows)
    assert requests_to(emu, "/v1") == []
    (request,) = requests_to(emu, "/v2/room_compositions")
    assert urllib.parse.parse_qs(request.query_string) == {"filter[session_id]": [session]}


@module_loop
async def test_list_telnyx_json_with_filters_limit_and_prefetch(
    emu: Emulator, env: dict[str, str]
) -> None:
    session = "5e551011-0000-4000-8000-00000000000b"
    ids = emu.seed_telnyx(3, session_id=session)
    run = await cli(
        *("--provider", "telnyx", "list", "--json", "--session-id", session),
        *("--status", "completed", "--created-after", "2000-01-31", "--limit", "2"),
        *("--page-size", "1", "--prefetch", "2"),
        env=env,
    )
    assert run.code == 0 and run.err == ""
    items = run.json_lines()
    assert len(items) == 2 and {item["id"] for item in items} <= set(ids)
    for item in items:
        expected = emu.composition(item["id"])
        assert item["status"] == "completed" and item["session_id"] == session
        assert item["download_url"] == expected["download_url"]
        assert datetime.fromisoformat(item["created_at"]).utcoffset() is not None
    pages = requests_to(emu, "/v2/room_compositions")
    assert len(pages) == 2  # the limit needs two pages of one; none beyond
    query = urllib.parse.parse_qs(pages[0].query_string)
    assert query == {
        "filter[date_created_at][gte]": ["2000-01-31"],
        "filter[session_id]": [session],
        "filter[status]": ["completed"],
        "page[size]": ["1"],
    }


# -- get, create, delete ---------------------------------------------------------------------


@module_loop
async def test_get_twilio_json_and_telnyx_table(emu: Emulator, env: dict[str, str]) -> None:
    (sid,) = emu.seed_twilio(1)
    (tid,) = emu.seed_telnyx(1)
    twilio, telnyx = await asyncio.gather(
        cli("get", sid, "--json", env=env), cli("--provider", "telnyx", "get", tid, env=env)
    )
    assert twilio.code == 0 and twilio.err == ""
    (item,) = twilio.json_lines()
    expected = emu.composition(sid)
    for key in ("sid", "status", "room_sid", "resolution", "format", "size", "duration"):
        assert item[key] == expected[key]
    assert item["video_layout"]["grid"]["video_sources"] == ["*"]

    assert telnyx.code == 0 and telnyx.err == ""
    fields = dict(line.split(maxsplit=1) for line in telnyx.lines())
    assert fields["id"] == tid and fields["status"] == "completed"
    assert fields["duration_secs"] == str(emu.composition(tid)["duration_secs"])
    # The pre-signed download URL is shown without its token (it is in --json output).
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(emu.composition(tid)["download_url"]).query)
    assert fields["download_url"].endswith("&token=***")
    assert query["token"][0] not in telnyx.out


@module_loop
async def test_create_twilio_sends_every_field(
    emu: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    room = "RM" + "c3" * 16
    layout = {"main": {"video_sources": ["alice*"], "max_columns": 2}}
    layout_file = tmp_path / "layout.json"
    layout_file.write_text(json.dumps(layout))
    run = await cli(
        *("create", "--json", "--room-sid", room, "--layout", f"@{layout_file}"),
        *("--audio-source", "*", "--audio-source", "alice", "--audio-source-excluded", "bob"),
        *("--resolution", "1280x720", "--format", "mp4", "--no-trim"),
        *("--status-callback", "https://example.com/cb", "--status-callback-method", "GET"),
        env=env,
    )
    assert run.code == 0 and run.err == ""
    (item,) = run.json_lines()
    assert item["status"] == "enqueued" and item["room_sid"] == room
    assert emu.composition(item["sid"])["room_sid"] == room
    (request,) = requests_to(emu, "/v1/Compositions")
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    fields = urllib.parse.parse_qsl(request.body.decode())
    assert [(k, v) for k, v in fields if k != "VideoLayout"] == [
        ("RoomSid", room),
        ("AudioSources", "*"),
        ("AudioSources", "alice"),
        ("AudioSourcesExcluded", "bob"),
        ("Resolution", "1280x720"),
        ("Format", "mp4"),
        ("StatusCallback", "https://example.com/cb"),
        ("StatusCallbackMethod", "GET"),
        ("Trim", "false"),
    ]
    assert json.loads(dict(fields)["VideoLayout"]) == layout


@module_loop
async def test_create_telnyx_sends_json_body(emu: Emulator, env: dict[str, str]) -> None:
    session = "5e551011-0000-4000-8000-00000000000c"
    layout = {"first": {"video_sources": ["*"], "x_pos": 0, "y_pos": 0, "z_pos": 1}}
    run = await cli(
        *("--provider", "telnyx", "create", "--session-id", session),
        *("--layout", json.dumps(layout), "--resolution", "640x360", "--format", "mp4"),
        *("--webhook-url", "https://example.com/hook"),
        *("--webhook-failover-url", "https://example.com/failover", "--webhook-timeout", "7"),
        env=env,
    )
    assert run.code == 0 and run.err == ""
    fields = dict(line.split(maxsplit=1) for line in run.lines())
    assert fields["status"] == "enqueued" and fields["session_id"] == session
    (request,) = requests_to(emu, "/v2/room_compositions")
    assert request.method == "POST"
    assert json.loads(request.body) == {
        "format": "mp4",
        "resolution": "640x360",
        "session_id": session,
        "video_layout": layout,
        "webhook_event_failover_url": "https://example.com/failover",
        "webhook_event_url": "https://example.com/hook",
        "webhook_timeout_secs": 7,
    }
    assert emu.composition(fields["id"])["session_id"] == session


@module_loop
async def test_delete_both_providers(emu: Emulator, env: dict[str, str]) -> None:
    (sid,) = emu.seed_twilio(1)
    (tid,) = emu.seed_telnyx(1)
    twilio, telnyx = await asyncio.gather(
        cli("delete", sid, env=env), cli("--provider", "telnyx", "delete", tid, "--json", env=env)
    )
    assert twilio.code == 0 and twilio.err == ""
    assert twilio.out == f"deleted {sid}\n"
    assert emu.composition(sid)["status"] == "deleted"
    assert telnyx.code == 0 and telnyx.err == ""
    assert telnyx.json_lines() == [{"id": tid, "deleted": True}]
    with pytest.raises(KeyError):
        emu.composition(tid)
    assert sorted(r.method for r in emu.requests) == ["DELETE", "DELETE"]


# -- wait ------------------------------------------------------------------------------------


@module_loop
async def test_wait_until_completed_and_until_failed() -> None:
    async with Emulator(processing_delay=0.05, completion_delay=0.05) as timed:
        env = emulator_env(timed)
        (sid,) = timed.seed_twilio(1, status="enqueued")
        session = "5e551011-0000-4000-8000-00000000000d"
        timed.mark_failing(session)
        (tid,) = timed.seed_telnyx(1, status="enqueued", session_id=session)
        done, failed = await asyncio.gather(
            cli("wait", sid, "--json", "--poll-interval", "0.05", "--timeout", "30", env=env),
            cli("--provider", "telnyx", "--json", "wait", tid, "--poll-interval", "0.05", env=env),
        )
    assert done.code == 0 and done.err == ""
    (item,) = done.json_lines()
    assert item["sid"] == sid and item["status"] == "completed"
    assert datetime.fromisoformat(item["date_completed"]) >= datetime.fromisoformat(
        item["date_created"]
    )

    # The failed composition is printed (its final state) and the exit status says so.
    assert failed.code == 3
    (item,) = failed.json_lines()
    assert item["id"] == tid and item["status"] == "failed"
    assert failed.err == f"error: composition {tid} failed\n"


@module_loop
async def test_wait_timeout_exits_3(emu: Emulator, env: dict[str, str]) -> None:
    (sid,) = emu.seed_twilio(1, status="processing")
    run = await cli("wait", sid, "--timeout", "1", "--poll-interval", "0.1", env=env)
    line = one_error_line(run)
    assert run.code == 3
    # The last status is known once a poll has answered (always, unless the machine stalls).
    assert re.fullmatch(
        rf"error: composition {sid} not settled after 1s( \(last status processing\))?", line
    )
    assert len(requests_to(emu, f"/v1/Compositions/{sid}")) >= 1


@module_loop
async def test_ctrl_c_exits_130_quietly(emu: Emulator, env: dict[str, str]) -> None:
    (sid,) = emu.seed_twilio(1, status="enqueued")
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-W", "error", "-m", "async_compositions"),
        *("wait", sid, "--poll-interval", "30"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        async with asyncio.timeout(20):
            # Until the tool is waiting between polls (the emulator has no event for this).
            while not requests_to(emu, f"/v1/Compositions/{sid}"):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 130
    assert (out, err) == (b"", b"")


# -- download --------------------------------------------------------------------------------


@module_loop
async def test_download_writes_exact_bytes_quietly_when_piped(
    emu: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    (sid,) = emu.seed_twilio(1, media_size=300_000)
    (tid,) = emu.seed_telnyx(1, media_size=50_000)
    into = tmp_path / "telnyx.mp4"
    twilio, telnyx = await asyncio.gather(
        cli("download", sid, str(tmp_path), "--chunk-size", "4096", env=env),
        cli("--provider", "telnyx", "download", tid, str(into), "--json", env=env),
    )
    assert twilio.code == 0 and twilio.err == ""
    saved = tmp_path / f"{sid}.mp4"
    assert saved.read_bytes() == emu.media_bytes(sid)
    assert twilio.out == f"{saved}  300,000 bytes\n"
    assert telnyx.code == 0 and telnyx.err == ""
    assert telnyx.json_lines() == [
        {"id": tid, "path": str(into), "size": 50_000, "content_type": "video/mp4"}
    ]
    assert into.read_bytes() == emu.media_bytes(tid)
    # Nothing else is left behind (the temporary .part files were renamed).
    assert sorted(os.listdir(tmp_path)) == sorted([saved.name, into.name])


def _run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the tool with stdout and stderr on a pseudo-terminal; return (status, output)."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-W", "error", "-m", "async_compositions", *args],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
            env=env | {"TERM": "xterm-256color", "COLUMNS": "120"},
        )
    finally:
        os.close(follower)
    chunks = []
    try:
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=30)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
            process.wait()
    return code, b"".join(chunks).decode(errors="replace")


@module_loop
async def test_download_shows_progress_on_a_terminal(
    emu: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    (sid,) = emu.seed_twilio(1, media_size=120_000)
    dest = tmp_path / "media.mp4"
    code, output = await asyncio.to_thread(_run_on_terminal, ["download", sid, str(dest)], env)
    assert code == 0, output
    assert ESC in output  # drawn with terminal control sequences
    assert "120.0/120.0 kB" in output  # the finished bar: bytes done / total
    assert f"{dest}  120,000 bytes" in output
    assert dest.read_bytes() == emu.media_bytes(sid)


@module_loop
async def test_wait_shows_a_spinner_on_a_terminal(emu: Emulator, env: dict[str, str]) -> None:
    (sid,) = emu.seed_twilio(1)
    code, output = await asyncio.to_thread(_run_on_terminal, ["wait", sid], env)
    assert code == 0, output
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    assert f"waiting for {sid}" in plain  # the transient status line
    status_line = plain.index("waiting for")
    assert re.search(rf"\bsid\s+{sid}\s", plain[status_line:])  # then the final composition
    assert re.search(r"\bstatus\s+completed\s", plain[status_line:])


# -- errors ----------------------------------------------------------------------------------


@module_loop
async def test_missing_credentials_exit_2_before_any_request(
    emu: Emulator, env: dict[str, str]
) -> None:
    run = await cli("list", env={k: v for k, v in env.items() if k != "TWILIO_AUTH_TOKEN"})
    assert run.code == 2
    assert one_error_line(run) == (
        "error: incomplete Twilio credentials: TWILIO_ACCOUNT_SID is set but neither "
        "TWILIO_AUTH_TOKEN nor TWILIO_API_KEY and TWILIO_API_SECRET are"
    )
    assert emu.requests == []


@module_loop
async def test_api_key_in_the_environment_works_as_in_the_library(
    emu: Emulator, env: dict[str, str]
) -> None:
    keyed = {k: v for k, v in env.items() if k != "TWILIO_AUTH_TOKEN"}
    keyed |= {
        "TWILIO_API_KEY": emu.twilio_api_key_sid,
        "TWILIO_API_SECRET": emu.twilio_api_key_secret,
    }
    run = await cli("list", "--json", env=keyed)
    assert run.code == 0, run.err
    assert emu.requests[-1].headers["Authorization"].startswith("Basic ")


@module_loop
async def test_not_found_exit_1_with_status_code_and_request_id(
    emu: Emulator, env: dict[str, str]
) -> None:
    twilio = await cli("get", MISSING_SID, env=env)
    telnyx = await cli("--provider", "telnyx", "delete", MISSING_UUID, env=env)
    first, second = emu.requests
    assert twilio.code == telnyx.code == 1
    line = one_error_line(twilio)
    assert line.startswith("error: HTTP 404 code 20404: ")
    assert line.endswith(f"(request id {first.request_id})")
    line = one_error_line(telnyx)
    assert line.startswith("error: HTTP 404 code 10005: ")
    assert line.endswith(f"(request id {second.request_id})")
    for secret in (emu.twilio_auth_token, emu.telnyx_api_key):
        assert secret not in twilio.err + telnyx.err


@module_loop
async def test_malformed_sid_exit_2_before_any_request(emu: Emulator, env: dict[str, str]) -> None:
    run = await cli("get", "CJ../../Rooms", env=env)
    assert run.code == 2
    assert one_error_line(run) == (
        "error: composition sid must be 'CJ' followed by 32 hex digits, got 'CJ../../Rooms'"
    )
    assert emu.requests == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--provider", "telnyx", "list", "--room-sid", MISSING_ROOM], "--room-sid is a Twilio"),
        (["create", "--session-id", MISSING_UUID], "--session-id is a Telnyx option"),
        (["list", "--created-after", "2024-05-01T00:00:00"], "--created-after needs a time zone"),
        (
            ["--provider", "telnyx", "list", "--created-on", "2024-5-1"],
            "--created-on must be a day",
        ),
        (["create", "--room-sid", MISSING_ROOM, "--layout", "{oops"], "--layout is not valid"),
        (["create", "--room-sid", MISSING_ROOM, "--layout", "@/no/such.json"], "cannot read"),
        (["create", "--audio-source", "*"], "create needs --room-sid"),
        (["create", "--room-sid", MISSING_ROOM], "--layout and/or --audio-source"),
        (["download", MISSING_SID, "/no/such/dir/x.mp4"], "directory /no/such/dir does not"),
        (["delete", "CJ 1"], "composition sid must be 'CJ' followed by 32 hex digits"),
        (["--provider", "telnyx", "wait", "not-a-uuid"], "must be a UUID"),
        (["--provider", "telnyx", "list", "--page-size", "500"], "between 1 and 250"),
        (["list", "--status", "completed", "--room-sid", "RM1"], "room_sid must be 'RM'"),
        (["create", "--room-sid", MISSING_ROOM, "--audio-source", "*", "--format", "avi"], "avi"),
        (["create", "--room-sid", MISSING_ROOM, "--layout", '{"a": {"x_pos": 1}}'], "video_s"),
        (["--base-url", "ftp://example.com", "list"], "base_url must be an absolute http(s)"),
        (["list", "--status", "completed", "--retries", "0"], None),
    ],
)
def test_usage_errors_are_one_line(
    argv: list[str],
    message: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Valid credentials for an address where nothing listens: any request would exit 1.
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "TELNYX_", "ASYNC_COMPOSITIONS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t" * 32)
    monkeypatch.setenv("TELNYX_API_KEY", "KEY_test")
    monkeypatch.setenv("TWILIO_VIDEO_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("TELNYX_BASE_URL", "http://127.0.0.1:9/v2")
    code = main(argv)
    captured = capsys.readouterr()
    if message is None:  # the control: a valid command gets as far as the network
        assert code == 1
        assert captured.err.startswith("error: connection failed: GET http://127.0.0.1:9/v1/")
        return
    assert code == 2
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("error: ")
    assert message in captured.err


def test_missing_telnyx_key_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELNYX_API_KEY", raising=False)
    assert main(["--provider", "telnyx", "get", MISSING_UUID]) == 2
    # The client's own message: the CLI uses the library's credential lookup.
    assert capsys.readouterr().err == (
        "error: no Telnyx credentials: pass api_key or set TELNYX_API_KEY\n"
    )


def test_provider_from_env_must_be_known(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASYNC_COMPOSITIONS_PROVIDER", "vonage")
    assert main(["list"]) == 2
    assert capsys.readouterr().err == (
        "error: $ASYNC_COMPOSITIONS_PROVIDER must be one of twilio, telnyx, got 'vonage'\n"
    )


@module_loop
async def test_without_rich_one_line_names_the_extra(
    emu: Emulator, env: dict[str, str], tmp_path: Path
) -> None:
    hidden = tmp_path / "rich"
    hidden.mkdir()
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'rich'\", name='rich')\n"
    )
    run = await cli("list", env=env | {"PYTHONPATH": str(tmp_path)})
    assert run.code == 2
    assert "pip install 'async-compositions[cli]'" in one_error_line(run)
    assert emu.requests == []


@module_loop
async def test_importing_the_library_loads_neither_cli_nor_rich(env: dict[str, str]) -> None:
    code = (
        "import sys, async_compositions; "
        "print(sorted(m for m in sys.modules if m == 'rich' or m.endswith('.cli')))"
    )
    run = await cli("-c", code, env=env, program=[sys.executable, "-W", "error"])
    assert (run.code, run.out, run.err) == (0, "[]\n", "")


@module_loop
async def test_console_script(emu: Emulator, env: dict[str, str]) -> None:
    script = Path(sys.executable).with_name("async-compositions")
    assert script.exists(), "install the package (pip install -e '.[test]') for its script"
    (tid,) = emu.seed_telnyx(1)
    run = await cli("--provider", "telnyx", "get", tid, "--json", env=env, program=[str(script)])
    assert run.code == 0 and run.err == ""
    assert [item["id"] for item in run.json_lines()] == [tid]
