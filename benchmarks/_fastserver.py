"""A minimal HTTP/1.1 responder for single-record GETs, cheap enough that clients are the limit.

aiohttp.web spends about 150 µs of CPU per request, as much as a client does: on two cores a
concurrent-fetch benchmark against it measures the server as often as the client. This
responder answers the same single-record URLs as ``_server`` (zero latency only) from
pre-built response bytes. It handles keep-alive and pipelined requests and nothing else
(no request bodies beyond Content-Length, no chunked uploads).

    GET /twilio/0/{total}/v1/Compositions/{sid}
    GET /telnyx/0/{total}/v2/room_compositions/{id}
"""

from __future__ import annotations

import asyncio
import functools
import json
import re

from ._payloads import telnyx_index, telnyx_record, twilio_index, twilio_record

__all__ = ["ItemProtocol", "response_for"]

_REQUEST_LINE = re.compile(rb"([A-Z]+) (\S+) HTTP/1\.([01])")
_ROUTE = re.compile(
    r"/(?P<shape>twilio|telnyx)/0/(?P<total>\d{1,7})/"
    r"(?:v1/Compositions|v2/room_compositions)/(?P<id>[^/?#]+)(?:\?.*)?"
)
_AUTH = {"twilio": b"basic ", "telnyx": b"bearer "}


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode("ascii") + body


_NOT_FOUND = _response("404 Not Found", b'{"errors": [{"code": "10005", "title": "Not found"}]}')
_UNAUTHORIZED = _response("401 Unauthorized", b'{"code": 20003, "message": "Authenticate"}')
_BAD_REQUEST = _response("400 Bad Request", b'{"message": "bad request"}', "Connection: close\r\n")


@functools.lru_cache(maxsize=8192)
def _record_response(shape: str, index: int) -> bytes:
    if shape == "twilio":
        body = json.dumps(twilio_record(index)).encode()
        return _response("200 OK", body, "Twilio-Request-Id: RQ0\r\n")
    return _response("200 OK", json.dumps({"data": telnyx_record(index)}).encode())


def response_for(path: str, headers: bytes) -> bytes:
    """The full response to ``GET path`` with the raw (lower-cased) header block."""
    match = _ROUTE.fullmatch(path)
    if match is None:
        return _NOT_FOUND
    shape = match["shape"]
    if b"\r\nauthorization: " + _AUTH[shape] not in headers:
        return _UNAUTHORIZED
    index = (twilio_index if shape == "twilio" else telnyx_index)(match["id"])
    if index is None or index >= int(match["total"]):
        return _NOT_FOUND
    return _record_response(shape, index)


class ItemProtocol(asyncio.Protocol):
    """One connection: answers each complete request in the buffer, in order."""

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        out: list[bytes] = []
        close = False
        while not close:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self._buffer[:end]
            line, _, rest = head.partition(b"\r\n")
            headers = b"\r\n" + rest.lower() + b"\r\n"
            length = _content_length(headers)
            if length is None or len(self._buffer) < end + 4 + length:
                if length is None:
                    out.append(_BAD_REQUEST)
                    close = True
                break
            self._buffer = self._buffer[end + 4 + length :]
            match = _REQUEST_LINE.fullmatch(line)
            if match is None or match[1] != b"GET":
                out.append(_BAD_REQUEST)
                close = True
                break
            out.append(response_for(match[2].decode("latin-1"), headers))
            close = b"\r\nconnection: close\r\n" in headers or match[3] == b"0"
        if self._transport is not None and out:
            self._transport.write(b"".join(out))
            if close:
                self._transport.close()


def _content_length(headers: bytes) -> int | None:
    """The request body's length (0 without the header); None if it is not a number."""
    start = headers.find(b"\r\ncontent-length:")
    if start < 0:
        return 0
    value = headers[start + 17 : headers.find(b"\r\n", start + 2)].strip()
    return int(value) if value.isdigit() else None
