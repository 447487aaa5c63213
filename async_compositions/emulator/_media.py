"""Deterministic media bytes, served with Content-Length, ETag and single-range requests."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterator

from aiohttp import web

from ._errors import Problem

__all__ = [
    "MediaSigner",
    "media_bytes",
    "media_etag",
    "parse_range",
    "serve_media",
]

_BLOCK = 64 * 1024
TRUNCATE_KEY = web.RequestKey("truncate", bool)
# A "compress" fault: encode the media as the request's Accept-Encoding allows, as a CDN may.
COMPRESS_KEY = web.RequestKey("compress", bool)


@functools.lru_cache(maxsize=64)
def _block(key: str, index: int) -> bytes:
    # SHAKE-128 in counter mode: any byte range can be produced without the bytes before it.
    return hashlib.shake_128(f"{key}\0{index}".encode()).digest(_BLOCK)


def _iter_bytes(key: str, start: int, end: int) -> Iterator[bytes]:
    """Bytes ``start..end`` (end exclusive) of the media identified by ``key``, in pieces."""
    position = start
    while position < end:
        index, offset = divmod(position, _BLOCK)
        piece = _block(key, index)[offset : offset + min(_BLOCK - offset, end - position)]
        yield piece
        position += len(piece)


def media_bytes(key: str, size: int, start: int = 0, end: int | None = None) -> bytes:
    """The media content of ``key`` (``size`` bytes long), or the slice ``start:end``."""
    stop = size if end is None else min(end, size)
    return b"".join(_iter_bytes(key, max(start, 0), stop))


def media_etag(key: str, size: int) -> str:
    """A strong ETag: same key and size, same bytes."""
    return '"' + hashlib.sha256(f"{key}\0{size}".encode()).hexdigest()[:32] + '"'


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``(start, end_exclusive)`` of a single ``bytes=`` range; None to send everything.

    Raises ``Problem(416)`` when the range is well-formed but no byte of it exists.
    Multiple ranges and malformed headers are ignored (RFC 9110 lets a server do that).
    """
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - suffix, 0), size
    start = int(first)
    end = size if not last else int(last) + 1
    if last and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size)


def _unsatisfiable(size: int) -> Problem:
    return Problem(
        416,
        "The requested range is not satisfiable",
        headers={"Content-Range": f"bytes */{size}", "Accept-Ranges": "bytes"},
    )


async def serve_media(
    request: web.Request,
    key: str,
    size: int,
    *,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """Answer GET/HEAD for media ``key`` with ``Range``/``If-Range`` support (200, 206, 416)."""
    etag = media_etag(key, size)
    start, end, status = 0, size, 200
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if range_header is not None and (if_range is None or if_range == etag):
        picked = parse_range(range_header, size)
        if picked is not None:
            start, end = picked
            status = 206
    response = web.StreamResponse(status=status)
    response.headers.update(headers or {})
    response.headers["Content-Type"] = content_type
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["ETag"] = etag
    if status == 206:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response.content_length = end - start
    if request.get(COMPRESS_KEY):
        response.enable_compression()  # only if Accept-Encoding allows it; drops the length
    await response.prepare(request)
    if request.method == "HEAD":
        return response
    # A "truncate" fault: promise the whole length, send part of it, then cut the connection.
    stop = start + (end - start) // 2 if request.get(TRUNCATE_KEY) else end
    for piece in _iter_bytes(key, start, stop):
        await response.write(piece)
    if stop < end:
        transport = request.transport
        if transport is not None:
            transport.close()
        return response
    await response.write_eof()
    return response


class MediaSigner:
    """Signs media URLs so that they work without provider credentials, like pre-signed S3."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, *parts: str) -> str:
        """Hex HMAC-SHA256 over the parts."""
        message = "\n".join(parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def check(self, signature: str, *parts: str) -> bool:
        """True when ``signature`` signs exactly these parts."""
        return hmac.compare_digest(signature, self.sign(*parts))
