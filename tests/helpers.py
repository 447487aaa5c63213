"""Small helpers shared by tests: no server here (the emulator is the only one)."""

from __future__ import annotations

import asyncio
import base64
import socket
from typing import Any

__all__ = ["basic_auth", "stray_tasks", "unused_port"]


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
