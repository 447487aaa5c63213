"""Small helpers shared by tests: no server here (the emulator is the only one)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from async_compositions.emulator import Emulator

__all__ = [
    "CliRun",
    "basic_auth",
    "emulator_environment",
    "run_cli",
    "stray_tasks",
    "unused_port",
]


@dataclass(frozen=True)
class CliRun:
    """What one run of the command-line tool did: its exit status and its output."""

    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        return self.out.splitlines()

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.splitlines()]

    def fields(self) -> dict[str, str]:
        """A field/value table (one composition) as a dict of its cells."""
        return dict(line.split(maxsplit=1) for line in self.lines())


def emulator_environment(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment `python -m async_compositions.emulator` prints, and nothing else."""
    for name in list(os.environ):
        if name.startswith(("TWILIO_", "TELNYX_", "ASYNC_COMPOSITIONS_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TWILIO_VIDEO_BASE_URL", emu.twilio_base_url)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", emu.twilio_account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", emu.twilio_auth_token)
    monkeypatch.setenv("TELNYX_BASE_URL", emu.telnyx_base_url)
    monkeypatch.setenv("TELNYX_API_KEY", emu.telnyx_api_key)


async def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    """Run the tool in this process (on a thread: it runs its own event loop)."""
    from async_compositions.cli import main

    code = await asyncio.to_thread(main, list(args))
    captured = capsys.readouterr()
    return CliRun(code, captured.out, captured.err)


def basic_auth(user: str, password: str) -> str:
    """The Authorization header value for HTTP Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def stray_tasks() -> set[asyncio.Task[Any]]:
    """Tasks still pending besides the caller's own and the emulator's request handlers."""
    current = asyncio.current_task()
    stray = set()
    for task in asyncio.all_tasks():
        if task is current or task.done():
            continue
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        # aiohttp.web keeps one task per connection and one per request it is serving.
        if filename.endswith(("aiohttp/web_protocol.py", "aiohttp\\web_protocol.py")):
            continue
        stray.add(task)
    return stray
