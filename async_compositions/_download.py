"""Streaming media download: atomic rename, resume with Range, byte-count check."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import attrs
from yarl import URL

from ._log import logger, redact_url
from .errors import APIConnectionError, APITimeoutError, DownloadError, error_class_for_status
from .retry import RetryPolicy

__all__ = ["DEFAULT_CHUNK_SIZE", "DownloadResult", "ProgressCallback", "download_media"]

DEFAULT_CHUNK_SIZE = 256 * 1024
ProgressCallback = Callable[[int, int | None], object]
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})


@attrs.frozen(slots=True)
class DownloadResult:
    """Where the media went and how many bytes it has."""

    path: Path | None
    size: int
    content_type: str | None = None


class _Sink(Protocol):
    async def write(self, data: bytes) -> None: ...
    async def restart(self) -> None: ...
    def commit(self) -> Path | None: ...
    def abort(self) -> None: ...


class _PathSink:
    """Writes to a hidden temporary file beside the destination, renamed when complete."""

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
        self.file = self.tmp.open("wb")

    async def write(self, data: bytes) -> None:
        self.file.write(data)

    async def restart(self) -> None:
        self.file.seek(0)
        self.file.truncate()

    def commit(self) -> Path:
        self.file.close()
        os.replace(self.tmp, self.dest)
        return self.dest

    def abort(self) -> None:
        self.file.close()
        self.tmp.unlink(missing_ok=True)


class _FileSink:
    """Writes to a caller's binary file object, sync or async."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.start = target.tell() if _can(target, "tell") and _can(target, "seekable") else None

    async def write(self, data: bytes) -> None:
        result = self.target.write(data)
        if inspect.isawaitable(result):
            await result

    async def restart(self) -> None:
        if self.start is None or not self.target.seekable():
            raise DownloadError("the server restarted the download and the file is not seekable")
        self.target.seek(self.start)
        self.target.truncate()

    def commit(self) -> None:
        return None

    def abort(self) -> None:
        return None


def _can(obj: Any, name: str) -> bool:
    method = getattr(obj, name, None)
    return callable(method) and not inspect.iscoroutinefunction(method)


def _sink_for(dest: Any) -> _Sink:
    if isinstance(dest, str | os.PathLike):
        path = Path(dest)
        if not path.parent.is_dir():
            raise FileNotFoundError(f"download directory does not exist: {path.parent}")
        return _PathSink(path)
    if callable(getattr(dest, "write", None)):
        return _FileSink(dest)
    raise TypeError(
        f"dest must be a path or a binary file object with write(), not {type(dest).__name__}"
    )


async def _report(progress: ProgressCallback | None, done: int, total: int | None) -> None:
    if progress is not None:
        result = progress(done, total)
        if inspect.isawaitable(result):
            await result


def _strong_validator(resp: aiohttp.ClientResponse) -> str | None:
    """A strong ETag (or Last-Modified) for If-Range; weak ETags may not be used there."""
    etag = resp.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return resp.headers.get("Last-Modified")


def _resume_total(resp: aiohttp.ClientResponse, offset: int) -> int | None:
    """The full size from a 206 Content-Range, after checking it starts where we stopped."""
    match = _CONTENT_RANGE.fullmatch(resp.headers.get("Content-Range", ""))
    if match is None or int(match[1]) != offset:
        raise DownloadError(
            f"resume at byte {offset} got Content-Range {resp.headers.get('Content-Range')!r}",
            received=offset,
        )
    return None if match[3] == "*" else int(match[3])


async def download_media(
    session: aiohttp.ClientSession,
    url: URL,
    dest: Any,
    *,
    progress: ProgressCallback | None,
    chunk_size: int,
    timeout: aiohttp.ClientTimeout,
    retry: RetryPolicy,
) -> DownloadResult:
    """Stream ``url`` into ``dest``; resume after a dropped connection; never leave a partial file.

    The URL is fetched without provider credentials: media URLs are pre-signed.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    shown = redact_url(str(url))
    sink = _sink_for(dest)
    done = 0
    total: int | None = None
    content_type: str | None = None
    validator: str | None = None
    attempt = 1
    try:
        while True:
            # identity: with gzip, aiohttp would count decoded bytes against the encoded
            # Content-Length and a Range offset would point into the wrong representation.
            headers = {"Accept-Encoding": "identity"}
            if done:
                headers["Range"] = f"bytes={done}-"
                if validator:
                    # The server sends the rest only if the file is unchanged, else all of it.
                    headers["If-Range"] = validator
            try:
                async with session.get(
                    url, headers=headers, timeout=timeout, raise_for_status=False
                ) as resp:
                    if resp.status == 206 and done:
                        total = _resume_total(resp, done)
                    elif resp.status == 200:
                        if done:
                            # The server ignored Range: start again from the first byte.
                            await sink.restart()
                            done = 0
                        total = resp.content_length
                        content_type = resp.content_type
                        validator = _strong_validator(resp)
                    elif resp.status in _RETRYABLE_STATUSES and attempt < retry.max_attempts:
                        raise _Retryable(f"HTTP {resp.status}")
                    else:
                        text = (await resp.text(errors="replace"))[:200]
                        cls = error_class_for_status(resp.status)
                        raise cls(
                            f"media download failed: {text or resp.reason or ''}".strip(),
                            status=resp.status,
                            body=text,
                        )
                    async for chunk in resp.content.iter_chunked(chunk_size):
                        await sink.write(chunk)
                        done += len(chunk)
                        await _report(progress, done, total)
                if total is not None and done != total:
                    raise _Retryable(f"connection closed after {done} of {total} bytes")
                break
            except (_Retryable, aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
                failure: Exception = exc
            except TimeoutError as exc:
                failure = exc
            if attempt >= retry.max_attempts:
                if isinstance(failure, TimeoutError):
                    raise APITimeoutError(f"media download timed out: GET {shown}") from failure
                # A body cut short (by the server, or a connection dropped mid-body) is an
                # incomplete file: say how much arrived rather than "connection failed".
                if total is not None and isinstance(
                    failure, _Retryable | aiohttp.ClientPayloadError
                ):
                    raise DownloadError(
                        f"media download incomplete after {attempt} attempts: "
                        f"{done} of {total} bytes",
                        expected=total,
                        received=done,
                    ) from failure
                raise APIConnectionError(
                    f"media download failed: GET {shown} ({type(failure).__name__}: {failure})"
                ) from failure
            delay = retry.backoff(attempt)
            logger.debug(
                "resuming download of %s at byte %d after %s (attempt %d of %d) in %.3fs",
                shown,
                done,
                type(failure).__name__,
                attempt + 1,
                retry.max_attempts,
                delay,
            )
            await asyncio.sleep(delay)
            attempt += 1
    except BaseException:
        sink.abort()
        raise
    return DownloadResult(path=sink.commit(), size=done, content_type=content_type)


class _Retryable(Exception):
    """A failure worth another attempt (a 5xx, or a body shorter than announced)."""
