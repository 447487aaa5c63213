"""``python -m async_compositions.emulator`` as a process, and the opt-in pytest plugin."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from async_compositions import CompositionStatus, TelnyxClient, TwilioClient
from async_compositions.emulator import DEFAULT_COMPLETION_DELAY, DEFAULT_PROCESSING_DELAY
from async_compositions.emulator.__main__ import main

PLUGIN = "async_compositions.emulator._pytest_plugin"
SESSION = "7c4da191-2600-4df6-a35e-0ecae6caa5d3"


async def _settings(process: asyncio.subprocess.Process) -> dict[str, str]:
    """The NAME=value lines the emulator prints once it is listening."""
    assert process.stdout is not None
    settings: dict[str, str] = {}
    while "TELNYX_PUBLIC_KEY" not in settings:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=15)).decode()
        assert line, "the emulator exited before printing its settings"
        if "=" in line and not line.startswith("#"):
            name, _, value = line.strip().partition("=")
            settings[name] = value
    return settings


async def test_module_moves_compositions_on_by_default() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        "-m",
        "async_compositions.emulator",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        settings = await _settings(process)
        async with (
            TwilioClient(
                settings["TWILIO_ACCOUNT_SID"],
                settings["TWILIO_AUTH_TOKEN"],
                base_url=settings["TWILIO_VIDEO_BASE_URL"],
            ) as twilio,
            TelnyxClient(
                settings["TELNYX_API_KEY"], base_url=settings["TELNYX_BASE_URL"]
            ) as telnyx,
        ):
            made = await twilio.compositions.create("RM" + "0" * 32, audio_sources=["*"])
            room = await telnyx.compositions.create(session_id=SESSION)
            assert made.status is CompositionStatus.ENQUEUED
            assert room.status is CompositionStatus.ENQUEUED
            done, finished = await asyncio.gather(
                twilio.compositions.wait(made.sid, timeout=5, poll_interval=0.1),
                telnyx.compositions.wait(room.id, timeout=5, poll_interval=0.1),
            )
        assert done.status is CompositionStatus.COMPLETED
        assert finished.status is CompositionStatus.COMPLETED
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0 and stderr == b""


@pytest.mark.parametrize("extra", [["--processing-delay", "1"], ["--completion-delay", "0"]])
def test_manual_with_a_delay_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--port", "0", "--manual", *extra])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith("error: --manual takes no --processing-delay or --completion-delay\n")


def test_a_negative_delay_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--port", "0", "--completion-delay=-1"])
    assert info.value.code == 2
    assert capsys.readouterr().err.endswith("error: --completion-delay must be >= 0\n")


def test_help_shows_the_shared_default_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"seconds from created to processing ({DEFAULT_PROCESSING_DELAY})" in text
    assert f"seconds from processing to completed ({DEFAULT_COMPLETION_DELAY})" in text


async def test_module_serves_until_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-W",
        "error",
        "-m",
        "async_compositions.emulator",
        "--port",
        "0",
        "--seed-twilio",
        "3",
        "--manual",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        settings = await _settings(process)
        assert settings["TWILIO_VIDEO_BASE_URL"].startswith("http://127.0.0.1:")
        assert settings["TWILIO_VIDEO_BASE_URL"].endswith("/v1")
        assert settings["TELNYX_BASE_URL"] == settings["TWILIO_VIDEO_BASE_URL"][:-3] + "/v2"
        assert len(settings["TELNYX_PUBLIC_KEY"]) == 44  # base64 of 32 bytes
        async with TwilioClient(
            settings["TWILIO_ACCOUNT_SID"],
            base_url=settings["TWILIO_VIDEO_BASE_URL"],
            api_key=settings["TWILIO_API_KEY"],
            api_secret=settings["TWILIO_API_SECRET"],
        ) as client:
            assert len(await client.compositions.list()) == 3
            # --manual: a new composition stays enqueued past the default schedule.
            made = await client.compositions.create("RM" + "0" * 32, audio_sources=["*"])
            await asyncio.sleep(DEFAULT_PROCESSING_DELAY + DEFAULT_COMPLETION_DELAY + 0.1)
            still = await client.compositions.fetch(made.sid)
            assert still.status is CompositionStatus.ENQUEUED
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert stderr == b""


async def test_module_reports_a_busy_port() -> None:
    async with asyncio.timeout(15):
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "async_compositions.emulator",
                "--port",
                str(port),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            stdout, stderr = await process.communicate()
        finally:
            server.close()
            await server.wait_closed()
    assert process.returncode == 1
    assert stderr.startswith(b"error: ") and stdout == b""


def test_pytest_plugin_provides_the_emulator_fixture(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n"
        "@pytest.fixture\n"
        "def emulator_options():\n"
        "    return {'media_size': 10, 'seed': 1}\n"
    )
    (tmp_path / "test_uses_emulator.py").write_text(
        "from async_compositions.emulator import Emulator\n\n"
        "async def test_fixture(emulator):\n"
        "    assert isinstance(emulator, Emulator)\n"
        "    assert emulator.store.media_size == 10\n"
        "    emulator.seed_twilio(2)\n"
        "    async with emulator.twilio_client() as client:\n"
        "        assert len(await client.compositions.list()) == 2\n"
        "\n\n"
        "async def test_fixture_moves_compositions_on(emulator):\n"
        "    assert not emulator.manual\n"
        "    async with emulator.telnyx_client() as client:\n"
        "        made = await client.compositions.create(\n"
        "            session_id='7c4da191-2600-4df6-a35e-0ecae6caa5d3'\n"
        "        )\n"
        "        done = await client.compositions.wait(made.id, timeout=5, poll_interval=0.1)\n"
        "    assert (made.status, done.status) == ('enqueued', 'completed')\n"
    )
    (tmp_path / "test_manual_emulator.py").write_text(
        "import asyncio\n\n"
        "import pytest\n\n"
        "@pytest.fixture\n"
        "def emulator_options():\n"
        "    return {'manual': True}\n\n"
        "async def test_manual_fixture(emulator):\n"
        "    assert emulator.manual\n"
        "    (sid,) = emulator.seed_twilio(1, status='enqueued')\n"
        "    await asyncio.sleep(1)\n"
        "    assert emulator.composition(sid)['status'] == 'enqueued'\n"
        "    assert await emulator.finish() == 2\n"
        "    assert emulator.composition(sid)['status'] == 'completed'\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            # Works whether or not the entry point is installed yet.
            "-p",
            "no:async_compositions_emulator",
            "-p",
            PLUGIN,
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "-W",
            "error",
            "-q",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout
