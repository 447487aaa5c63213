"""``python -m async_compositions.emulator`` as a process, and the opt-in pytest plugin."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from async_compositions import TwilioClient

PLUGIN = "async_compositions.emulator._pytest_plugin"


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
    assert process.stdout is not None
    try:
        settings: dict[str, str] = {}
        while "TELNYX_PUBLIC_KEY" not in settings:
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=15)).decode()
            assert line, "the emulator exited before printing its settings"
            if "=" in line and not line.startswith("#"):
                name, _, value = line.strip().partition("=")
                settings[name] = value
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
    assert "1 passed" in result.stdout
