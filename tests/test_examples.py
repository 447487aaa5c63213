"""The programs in examples/, run against the in-process emulator over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import json
import os
import signal
import socket
import sqlite3
import sys
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from helpers import stray_tasks

from async_compositions.emulator import Emulator, RecordedRequest, twilio_signature

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (the directory is not a package)."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


webhook_app = _load("webhook_app")
archive_last_month = _load("archive_last_month")
bot = _load("new_compositions_bot")

ROOM = "RM" + "ab" * 16
OTHER_ROOM = "RM" + "cd" * 16
MEDIA_SIZE = 4096


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=23, media_size=MEDIA_SIZE, manual=True) as emulator:
        yield emulator


@pytest.fixture
def twilio_env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment the scripts read, pointing at the emulator (no API key pair)."""
    for name in ("TWILIO_API_KEY", "TWILIO_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", emu.twilio_account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", emu.twilio_auth_token)
    monkeypatch.setenv("TWILIO_VIDEO_BASE_URL", emu.twilio_base_url)


@pytest.fixture
def telnyx_env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELNYX_API_KEY", emu.telnyx_api_key)
    monkeypatch.setenv("TELNYX_BASE_URL", emu.telnyx_base_url)


def creates(emu: Emulator) -> list[RecordedRequest]:
    return [r for r in emu.requests if r.method == "POST" and r.path == "/v1/Compositions"]


def media_requests(emu: Emulator) -> list[RecordedRequest]:
    return [r for r in emu.requests if r.path.startswith("/_media/")]


def listings(emu: Emulator, path: str = "/v1/Compositions") -> list[RecordedRequest]:
    return [r for r in emu.requests if r.method == "GET" and r.path == path]


# -- webhook_app ----------------------------------------------------------------------------


@asynccontextmanager
async def running_app(emu: Emulator) -> AsyncIterator[str]:
    """The example app on a socket bound first, so its public URL is known before it starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        settings = webhook_app.Settings(
            account_sid=emu.twilio_account_sid,
            auth_token=emu.twilio_auth_token,
            public_url=base,
            base_url=emu.twilio_base_url,
        )
        app = webhook_app.make_app(settings)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            yield base
        finally:
            await runner.cleanup()
    finally:
        sock.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def room_event(event: str, room_sid: str, account_sid: str) -> list[tuple[str, str]]:
    """A room status callback's form, as Twilio sends it."""
    return [
        ("AccountSid", account_sid),
        ("RoomName", "standup"),
        ("RoomSid", room_sid),
        ("RoomStatus", "completed" if event == "room-ended" else "in-progress"),
        ("RoomType", "group"),
        ("StatusCallbackEvent", event),
        ("Timestamp", "2026-11-30T10:00:00.000Z"),
        ("RoomDuration", "1800"),
        ("SequenceNumber", "4"),
    ]


async def post_signed(
    http: aiohttp.ClientSession,
    url: str,
    form: list[tuple[str, str]],
    token: str,
    *,
    signature: str | None = None,
) -> tuple[int, Any]:
    """POST a form with the signature Twilio would send (or the one given); status, body."""
    signed = twilio_signature(url, form, token) if signature is None else signature
    async with http.post(url, data=form, headers={"X-Twilio-Signature": signed}) as response:
        body = await response.read()
        if response.content_type == "application/json":
            return response.status, json.loads(body)
        return response.status, body.decode()


async def status_of(http: aiohttp.ClientSession, base: str, sid: str) -> tuple[int, Any]:
    async with http.get(f"{base}/compositions/{sid}") as response:
        return response.status, await response.json()


async def test_room_ended_creates_one_composition_and_callbacks_drive_its_status(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    token = emu.twilio_auth_token
    async with running_app(emu) as base:
        room_hook = base + webhook_app.ROOM_HOOK_PATH
        form = room_event("room-ended", ROOM, emu.twilio_account_sid)
        status, body = await post_signed(http, room_hook, form, token)
        assert status == 201
        sid = body["composition_sid"]

        # The same callback again (Twilio retries on timeouts): still one composition.
        again, body_again = await post_signed(http, room_hook, form, token)
        assert (again, body_again["composition_sid"]) == (201, sid)
        assert len(creates(emu)) == 1
        sent = urllib.parse.parse_qs(creates(emu)[0].body.decode())
        assert sent["RoomSid"] == [ROOM]
        assert sent["StatusCallback"] == [base + webhook_app.COMPOSITION_HOOK_PATH]
        assert sent["Format"] == ["mp4"] and sent["AudioSources"] == ["*"]
        assert list(emu.store.twilio) == [sid]

        code, state = await status_of(http, base, sid)
        assert (code, state["sid"], state["status"]) == (200, sid, "enqueued")
        await emu.advance(sid)  # processing: composition-started, delivered on return
        code, state = await status_of(http, base, sid)
        assert (code, state["status"], state["last_event"]) == (
            200,
            "processing",
            "composition-started",
        )
        await emu.advance(sid)  # completed: composition-progress, composition-available
        code, state = await status_of(http, base, sid)
    assert code == 200
    assert state["status"] == "completed" and state["room_sid"] == ROOM
    assert state["percentage_done"] == 100 and state["size"] == MEDIA_SIZE
    assert state["media_uri"] == f"/v1/Compositions/{sid}/Media"
    assert [d.event for d in emu.webhook_deliveries] == [
        "composition-started",
        "composition-progress",
        "composition-available",
    ]
    assert all(d.status == 200 for d in emu.webhook_deliveries)
    assert stray_tasks() == set()


async def test_a_failed_composition_is_served_as_failed(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.mark_failing(ROOM)
    async with running_app(emu) as base:
        form = room_event("room-ended", ROOM, emu.twilio_account_sid)
        hook = base + webhook_app.ROOM_HOOK_PATH
        _, body = await post_signed(http, hook, form, emu.twilio_auth_token)
        sid = body["composition_sid"]
        await emu.finish(sid)
        code, state = await status_of(http, base, sid)
    assert (code, state["status"]) == (200, "failed")
    assert state["error_message"] == "Internal failure while processing media composition"


@pytest.mark.parametrize(
    "forge",
    ["missing", "wrong token", "another URL", "changed body"],
)
async def test_a_forged_room_ended_gets_403_and_creates_nothing(
    emu: Emulator, http: aiohttp.ClientSession, forge: str
) -> None:
    async with running_app(emu) as base:
        url = base + webhook_app.ROOM_HOOK_PATH
        form = room_event("room-ended", ROOM, emu.twilio_account_sid)
        token = emu.twilio_auth_token
        if forge == "missing":
            async with http.post(url, data=form) as response:
                status = response.status
        else:
            if forge == "wrong token":
                signature = twilio_signature(url, form, "0" * 32)
            elif forge == "another URL":
                signature = twilio_signature(base + "/elsewhere", form, token)
            else:
                signature = twilio_signature(url, room_event("room-ended", OTHER_ROOM, "AC"), token)
            status, _ = await post_signed(http, url, form, token, signature=signature)
    assert status == 403
    assert emu.requests == []  # not even the lookup ensure() starts with
    assert emu.store.twilio == {}


async def test_other_room_events_are_acknowledged_and_ignored(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with running_app(emu) as base:
        for event in ("room-created", "participant-connected", "recording-completed"):
            form = room_event(event, ROOM, emu.twilio_account_sid)
            status, _ = await post_signed(
                http, base + webhook_app.ROOM_HOOK_PATH, form, emu.twilio_auth_token
            )
            assert status == 204
    assert emu.requests == []


async def test_composition_callbacks_are_verified_and_never_move_a_status_back(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    sid = "CJ" + "12" * 16
    token = emu.twilio_auth_token

    def callback(event: str, *extra: tuple[str, str]) -> list[tuple[str, str]]:
        return [
            ("AccountSid", emu.twilio_account_sid),
            ("RoomSid", ROOM),
            ("CompositionSid", sid),
            ("StatusCallbackEvent", event),
            ("Timestamp", "2026-11-30T10:00:00.000Z"),
            *extra,
        ]

    async with running_app(emu) as base:
        hook = base + webhook_app.COMPOSITION_HOOK_PATH
        assert (await status_of(http, base, sid))[0] == 404
        available = callback(
            "composition-available",
            ("MediaUri", f"/v1/Compositions/{sid}/Media"),
            ("Size", "777"),
            ("Duration", "12"),
        )
        assert (await post_signed(http, hook, available, token))[0] == 200
        # A late composition-started, delivered after the composition was available.
        assert (await post_signed(http, hook, callback("composition-started"), token))[0] == 200
        forged = callback("composition-failed", ("ErrorMessage", "forged"))
        status, _ = await post_signed(
            http, hook, forged, token, signature=twilio_signature(hook, forged, "f" * 32)
        )
        assert status == 403
        code, state = await status_of(http, base, sid)
    assert code == 200
    assert (state["status"], state["size"], state["duration"]) == ("completed", 777, 12)
    assert state["last_event"] == "composition-available"
    assert state["error_message"] is None
    assert emu.requests == []


def test_settings_come_from_the_environment_and_hide_the_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "s3cr3t-token-value",
        "TWILIO_VIDEO_BASE_URL": "http://127.0.0.1:9/v1",
        "WEBHOOK_PUBLIC_URL": "https://hooks.example.test/",
    }
    settings = webhook_app.Settings.from_env(env)
    assert settings.callback_url(webhook_app.ROOM_HOOK_PATH) == (
        "https://hooks.example.test/hooks/twilio/room"
    )
    assert (settings.host, settings.port, settings.base_url) == (
        "127.0.0.1",
        8000,
        "http://127.0.0.1:9/v1",
    )
    assert "s3cr3t" not in repr(settings)
    local = webhook_app.Settings.from_env({**env, "WEBHOOK_PUBLIC_URL": "", "WEBHOOK_PORT": "81"})
    assert local.public_url == "http://127.0.0.1:81"
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        webhook_app.Settings.from_env({"TWILIO_ACCOUNT_SID": "AC" + "1" * 32})
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    assert webhook_app.main([]) == 2  # refused before anything listens
    assert capsys.readouterr().err == "error: set TWILIO_AUTH_TOKEN\n"


# -- archive_last_month ---------------------------------------------------------------------

TODAY = date(2026, 3, 15)  # last month: February 2026, 28 days
FEB_FIRST = datetime(2026, 2, 1, tzinfo=UTC)
MARCH_FIRST = datetime(2026, 3, 1, tzinfo=UTC)


def seed_months(emu: Emulator) -> tuple[list[str], list[str]]:
    """Twilio compositions inside February 2026 (at both ends) and just outside it."""
    inside = [
        *emu.seed_twilio(1, start=FEB_FIRST),
        *emu.seed_twilio(1, start=datetime(2026, 2, 14, 12, 30, tzinfo=UTC)),
        *emu.seed_twilio(1, start=MARCH_FIRST - timedelta(seconds=1)),
    ]
    outside = [
        *emu.seed_twilio(1, start=FEB_FIRST - timedelta(seconds=1)),
        *emu.seed_twilio(1, start=MARCH_FIRST),
        *emu.seed_twilio(1, start=datetime(2026, 3, 10, tzinfo=UTC)),
    ]
    return inside, outside


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def media_files(root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )


async def run_archive(*argv: str, today: date = TODAY) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    options = archive_last_month.parse_args(list(argv))
    code = await archive_last_month.run(options, today=today, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_last_month_is_the_previous_calendar_month_in_utc() -> None:
    previous = archive_last_month.previous_month
    month_range = archive_last_month.month_range
    assert previous(date(2026, 3, 15)) == date(2026, 2, 1)
    assert previous(date(2026, 1, 1)) == date(2025, 12, 1)
    assert previous(date(2024, 3, 31)) == date(2024, 2, 1)
    assert month_range(date(2024, 2, 1)) == (
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    )
    assert month_range(date(2025, 12, 1))[1] == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.usefixtures("twilio_env")
async def test_archives_last_month_only_then_a_rerun_skips(emu: Emulator, tmp_path: Path) -> None:
    inside, outside = seed_months(emu)
    emu.seed_twilio(1, status="processing", start=datetime(2026, 2, 20, tzinfo=UTC))
    dest = tmp_path / "archive"
    code, out, err = await run_archive(str(dest))
    assert (code, err) == (0, "")
    assert media_files(dest) == sorted(f"2026/02/{sid}.mp4" for sid in inside)
    for sid in inside:
        assert (dest / "2026" / "02" / f"{sid}.mp4").read_bytes() == emu.media_bytes(sid)
    assert f"archived 3 ({3 * MEDIA_SIZE} bytes)" in out and "failed 0" in out
    manifest = dest / ".async-compositions-twilio.sqlite3"
    assert f"manifest: {manifest}" in out
    with contextlib.closing(sqlite3.connect(manifest)) as db:
        recorded = dict(db.execute("SELECT id, state FROM compositions").fetchall())
    assert recorded == dict.fromkeys(inside, "archived")
    (query,) = {r.query_string for r in listings(emu)}
    sent = urllib.parse.parse_qs(query)
    assert sent["DateCreatedAfter"] == ["2026-02-01T00:00:00Z"]
    assert sent["DateCreatedBefore"] == ["2026-03-01T00:00:00Z"]
    assert sent["Status"] == ["completed"]
    assert all(emu.store.twilio[sid].status == "completed" for sid in inside + outside)

    emu.clear_requests()
    code, out, _ = await run_archive(str(dest))
    assert code == 0 and "archived 0" in out and "already archived 3" in out
    assert media_requests(emu) == []


@pytest.mark.usefixtures("twilio_env")
async def test_dry_run_changes_nothing(emu: Emulator, tmp_path: Path) -> None:
    seed_months(emu)
    code, out, _ = await run_archive(str(tmp_path), "--dry-run", "--delete-after")
    assert code == 0
    assert "dry run:" in out and "would archive 3" in out and "would delete 3" in out
    assert names(tmp_path) == []
    assert media_requests(emu) == [] and [r for r in emu.requests if r.method == "DELETE"] == []


@pytest.mark.usefixtures("twilio_env")
async def test_delete_after_deletes_only_what_was_archived(emu: Emulator, tmp_path: Path) -> None:
    inside, outside = seed_months(emu)
    code, out, _ = await run_archive(str(tmp_path), "--delete-after", "--name", "{id}{ext}")
    assert code == 0 and "deleted 3" in out
    assert media_files(tmp_path) == sorted(f"{sid}.mp4" for sid in inside)
    assert {sid: emu.store.twilio[sid].status for sid in inside + outside} == {
        **dict.fromkeys(inside, "deleted"),
        **dict.fromkeys(outside, "completed"),
    }


@pytest.mark.usefixtures("twilio_env")
async def test_a_failed_download_gives_a_non_zero_exit(emu: Emulator, tmp_path: Path) -> None:
    inside, _ = seed_months(emu)
    broken = inside[1]
    emu.inject("status", status=500, path=f"/_media/*{broken}*", times=50)
    code, out, err = await run_archive(str(tmp_path), "--delete-after")
    assert code == 1
    assert "failed 1" in out and f"failed: {broken} (download)" in err
    assert media_files(tmp_path) == sorted(f"2026/02/{sid}.mp4" for sid in inside if sid != broken)
    assert emu.store.twilio[broken].status == "completed"  # not deleted without a copy


@pytest.mark.usefixtures("twilio_env")
async def test_a_refused_listing_gives_a_non_zero_exit(emu: Emulator, tmp_path: Path) -> None:
    seed_months(emu)
    emu.inject("status", status=403, path="/v1/Compositions")
    code, out, err = await run_archive(str(tmp_path))
    assert code == 1 and err.startswith("error: ") and len(out.splitlines()) == 1
    assert emu.twilio_auth_token not in err + out
    assert media_files(tmp_path) == []


@pytest.mark.usefixtures("telnyx_env")
async def test_telnyx_last_month_by_day(emu: Emulator, tmp_path: Path) -> None:
    inside = [
        *emu.seed_telnyx(1, start=FEB_FIRST),
        *emu.seed_telnyx(1, start=MARCH_FIRST - timedelta(seconds=1)),
    ]
    emu.seed_telnyx(1, start=FEB_FIRST - timedelta(seconds=1))
    emu.seed_telnyx(1, start=MARCH_FIRST)
    code, _, err = await run_archive(str(tmp_path), "--provider", "telnyx")
    assert (code, err) == (0, "")
    assert media_files(tmp_path) == sorted(f"2026/02/{id}.mp4" for id in inside)
    (query,) = {r.query_string for r in listings(emu, "/v2/room_compositions")}
    sent = urllib.parse.parse_qs(query)
    assert sent["filter[date_created_at][gte]"] == ["2026-02-01"]
    assert sent["filter[date_created_at][lte]"] == ["2026-02-28"]


@pytest.mark.usefixtures("twilio_env")
async def test_main_uses_todays_date_in_utc(emu: Emulator, tmp_path: Path) -> None:
    this_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    inside = emu.seed_twilio(1, start=last_month + timedelta(days=2, hours=3))
    emu.seed_twilio(1, start=this_month)
    emu.seed_twilio(1, start=last_month - timedelta(seconds=1))
    # main() runs its own event loop, so it goes to a thread; the emulator serves from here.
    code = await asyncio.to_thread(archive_last_month.main, [str(tmp_path), "-q"])
    assert code == 0
    assert media_files(tmp_path) == [f"{last_month:%Y/%m}/{inside[0]}.mp4"]


def test_an_s3_destination_needs_a_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        archive_last_month.parse_args(["s3://bucket/prefix"])
    assert raised.value.code == 2 and "--manifest" in capsys.readouterr().err


@pytest.mark.usefixtures("twilio_env", "aws_environment")
async def test_archive_into_s3(
    emu: Emulator, moto_url: str, bucket: str, admin: S3Client, tmp_path: Path
) -> None:
    inside, _ = seed_months(emu)
    manifest = tmp_path / "manifest.sqlite3"
    code, out, err = await run_archive(
        f"s3://{bucket}/compositions",
        "--manifest",
        str(manifest),
        "--s3-endpoint-url",
        moto_url,
    )
    assert (code, err) == (0, ""), out
    listed = await admin.list_objects_v2(Bucket=bucket)
    keys = {o["Key"]: o["Size"] for o in listed.get("Contents", [])}
    assert keys == {f"compositions/2026/02/{sid}.mp4": MEDIA_SIZE for sid in inside}
    assert manifest.exists()


# -- new_compositions_bot -------------------------------------------------------------------


@pytest.fixture
async def twilio(emu: Emulator) -> AsyncIterator[Any]:
    async with emu.twilio_client() as client:
        yield client


async def test_the_bot_reports_each_completed_composition_once(emu: Emulator, twilio: Any) -> None:
    done = emu.seed_twilio(2, room_sid=ROOM)
    (pending,) = emu.seed_twilio(1, status="processing")
    emu.seed_twilio(1, status="failed")
    emu.seed_twilio(1, status="enqueued")
    emu.seed_twilio(1, start=datetime.now(UTC) - timedelta(days=3))  # outside the window
    lines: list[str] = []
    seen = bot.Seen()

    polls = await bot.run_bot(twilio, seen, interval=0.01, iterations=3, report=lines.append)
    assert polls == 3 and len(listings(emu)) == 3
    assert [line.split()[1] for line in lines] == done  # oldest first
    assert all(f"of room {ROOM} is ready" in line for line in lines)

    await emu.finish(pending)
    await bot.run_bot(twilio, seen, interval=0.01, iterations=2, report=lines.append)
    assert [line.split()[1] for line in lines] == [*done, pending]

    # A composition created (and completed) after the bot started is reported too.
    created = await twilio.compositions.create(OTHER_ROOM, audio_sources=["*"])
    await bot.run_bot(twilio, seen, interval=0.01, iterations=1, report=lines.append)
    assert len(lines) == 3
    await emu.finish(created.sid)
    await bot.run_bot(twilio, seen, interval=0.01, iterations=1, report=lines.append)
    assert [line.split()[1] for line in lines] == [*done, pending, created.sid]


async def test_a_composition_completing_after_a_newer_one_is_still_reported(
    emu: Emulator, twilio: Any
) -> None:
    (older,) = emu.seed_twilio(1, status="processing", start=datetime.now(UTC) - timedelta(hours=2))
    (newer,) = emu.seed_twilio(1)
    lines: list[str] = []
    seen = bot.Seen()
    await bot.poll_once(twilio, seen, report=lines.append)
    await emu.finish(older)
    await bot.poll_once(twilio, seen, report=lines.append)
    assert [line.split()[1] for line in lines] == [newer, older]


async def test_skip_existing_and_async_report(emu: Emulator, twilio: Any) -> None:
    emu.seed_twilio(2)
    lines: list[str] = []

    async def post(line: str) -> None:
        await asyncio.sleep(0)
        lines.append(line)

    seen = bot.Seen()
    await bot.run_bot(twilio, seen, interval=0.01, iterations=1, report=post, skip_existing=True)
    assert lines == [] and len(seen.ids) == 2
    (later,) = emu.seed_twilio(1, start=datetime.now(UTC))
    await bot.run_bot(twilio, seen, interval=0.01, iterations=1, report=post, skip_existing=True)
    assert [line.split()[1] for line in lines] == [later]


async def test_a_failed_poll_is_reported_and_the_next_one_goes_on(
    emu: Emulator, twilio: Any
) -> None:
    (sid,) = emu.seed_twilio(1)
    emu.inject("status", status=403, path="/v1/Compositions")
    lines: list[str] = []
    errors: list[str] = []
    await bot.run_bot(
        twilio, bot.Seen(), interval=0.01, iterations=2, report=lines.append, on_error=errors.append
    )
    assert len(errors) == 1 and errors[0].startswith("poll failed: ")
    assert [line.split()[1] for line in lines] == [sid]


@pytest.mark.usefixtures("twilio_env")
async def test_main_once_with_a_state_file(emu: Emulator, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = emu.seed_twilio(2)
    lines: list[str] = []

    def once() -> int:
        code: int = bot.main(["--once", "--state", str(state)], report=lines.append)
        return code

    assert await asyncio.to_thread(once) == 0
    assert await asyncio.to_thread(once) == 0  # a new process would remember the same
    assert [line.split()[1] for line in lines] == first
    assert set(json.loads(state.read_text())["seen"]) == set(first)
    (later,) = emu.seed_twilio(1, start=datetime.now(UTC))
    assert await asyncio.to_thread(once) == 0
    assert [line.split()[1] for line in lines] == [*first, later]
    assert names(tmp_path) == ["state.json"]  # no temporary file left


async def test_cancelling_the_bot_mid_poll_leaves_nothing_behind(emu: Emulator) -> None:
    emu.seed_twilio(1)
    polled = asyncio.Event()

    async def forever() -> None:
        async with emu.twilio_client() as client:
            await bot.run_bot(client, bot.Seen(), interval=0.01, report=lambda _: polled.set())

    task = asyncio.create_task(forever())
    await asyncio.wait_for(polled.wait(), 10)
    hold = emu.hold(method="GET", path="/v1/Compositions")
    await hold.wait_held(1)  # the next poll is in flight
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    hold.lift()
    assert stray_tasks() == set()


async def test_stop_ends_the_bot_between_polls(emu: Emulator, twilio: Any) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(bot.run_bot(twilio, bot.Seen(), interval=30, stop=stop))
    await emu.wait_until(lambda: len(listings(emu)) == 1 and emu.requests[0].finished)
    stop.set()
    assert await asyncio.wait_for(task, 5) == 1


@pytest.fixture
def bot_env(emu: Emulator) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
    env.update(
        TWILIO_ACCOUNT_SID=emu.twilio_account_sid,
        TWILIO_AUTH_TOKEN=emu.twilio_auth_token,
        TWILIO_VIDEO_BASE_URL=emu.twilio_base_url,
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_the_bot_process_stops_cleanly_on_a_signal(
    emu: Emulator, bot_env: dict[str, str], signum: signal.Signals
) -> None:
    (sid,) = emu.seed_twilio(1)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "new_compositions_bot.py"),
        "--interval",
        "0.05",
        env=bot_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        assert line.decode().split()[1] == sid
        await emu.wait_until(lambda: len(listings(emu)) >= 2)  # it goes on polling
        process.send_signal(signum)
        out, err = await asyncio.wait_for(process.communicate(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert err == b"" and out == b""  # the one line was reported once
