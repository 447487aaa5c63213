"""A server on 127.0.0.1 that answers with exactly the bytes a test gives it.

aiohttp.web (and the emulator) only send well-formed HTTP; this one can send a malformed
status line, a header aiohttp would refuse to build, or a body that lies about its length.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

__all__ = ["RawRequest", "RawServer", "http_response"]


@dataclass
class RawRequest:
    """One request as it arrived: the request line and headers, lower-cased names."""

    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)


def http_response(
    body: bytes = b"",
    *,
    status_line: bytes = b"HTTP/1.1 200 OK",
    headers: dict[str, str] | None = None,
) -> bytes:
    """A response's bytes; Content-Length is added unless ``headers`` sets it."""
    fields = {"Content-Type": "application/json", "Connection": "close", **(headers or {})}
    fields.setdefault("Content-Length", str(len(body)))
    head = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in fields.items())
    return status_line + b"\r\n" + head + b"\r\n" + body


class RawServer:
    """Answers every request with ``respond(request)`` and closes the connection."""

    def __init__(self, respond: Callable[[RawRequest], bytes]) -> None:
        self.respond = respond
        self.requests: list[RawRequest] = []
        self._server: asyncio.Server | None = None
        self.origin = ""

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.origin = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if length:
                await reader.readexactly(length)
            request = RawRequest(method, target, headers)
            self.requests.append(request)
            writer.write(self.respond(request))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
