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
from ._transport import wrap_transport_error
from .errors import APIConnectionError, CompositionsError, DownloadError, error_class_for_status
from .retry import RetryPolicy

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Destination",
    "DownloadResult",
    "ProgressCallback",
    "check_chunk_size",
    "check_destination",
    "check_progress",
    "download_media",
]

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


@attrs.frozen(slots=True)
class Destination:
    """A checked download destination: a file path, a directory, or a file object."""

    path: Path | None = None
    directory: bool = False
    file: Any = None

    def sink(self, default_name: str) -> _Sink:
        """Open the sink the media is written to (the file name is needed for a directory)."""
        if self.path is None:
            return _FileSink(self.file)
        return _PathSink(self.path / default_name if self.directory else self.path)


def check_destination(dest: object) -> Destination:
    """Check ``dest`` without sending anything: its directory must exist.

    A str ending in a separator always means a directory. Checking costs a stat call, not
    worth a thread.
    """
    if isinstance(dest, str | os.PathLike):
        text = os.fspath(dest)
        if not isinstance(text, str):
            raise TypeError("dest must be a str path, a pathlib.Path or a file object")
        path = Path(text)
        if path.is_dir():
            return Destination(path=path, directory=True)
        if text.endswith(("/", os.sep)):
            raise FileNotFoundError(f"download directory does not exist: {text}")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"download directory does not exist: {path.parent}")
        return Destination(path=path)
    if callable(getattr(dest, "write", None)):
        return Destination(file=dest)
    raise TypeError(
        f"dest must be a path or a binary file object with write(), not {type(dest).__name__}"
    )


def check_progress(progress: object) -> ProgressCallback | None:
    """``progress``: None or a callable taking (done, total)."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a callable or None, not {type(progress).__name__}")
    return progress


def check_chunk_size(chunk_size: object) -> int:
    """``chunk_size``: a positive int."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int):
        raise TypeError(f"chunk_size must be an int, not {type(chunk_size).__name__}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    return chunk_size


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
    sink: _Sink,
    *,
    progress: ProgressCallback | None,
    chunk_size: int,
    timeout: aiohttp.ClientTimeout,
    retry: RetryPolicy,
) -> DownloadResult:
    """Stream ``url`` into ``sink``; resume after a dropped connection; never leave a partial file.

    The URL is fetched without provider credentials: media URLs are pre-signed.
    """
    shown = redact_url(str(url))
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
            except _Retryable as exc:
                failure: CompositionsError = exc.error(shown)
                cut_short = True
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                # ValueError: aiohttp refusing a URL it cannot fetch.
                failure = wrap_transport_error(exc, "GET", shown, before_send=False)
                cut_short = isinstance(exc, aiohttp.ClientPayloadError)
            if attempt >= retry.max_attempts:
                # A body cut short (by the server, or a connection dropped mid-body) is an
                # incomplete file: say how much arrived rather than "connection failed".
                if total is not None and cut_short:
                    failure = DownloadError(
                        f"media download incomplete after {attempt} attempts: "
                        f"{done} of {total} bytes",
                        expected=total,
                        received=done,
                    )
                # Raised here, outside the except clause: nothing chains to the aiohttp
                # exception (its request_info holds the pre-signed URL).
                raise failure
            delay = retry.backoff(attempt)
            logger.debug(
                "resuming download of %s at byte %d after %s (attempt %d of %d) in %.3fs",
                shown,
                done,
                failure,
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

    def error(self, shown: str) -> CompositionsError:
        """The error to raise when no attempt is left."""
        return APIConnectionError(f"media download failed: GET {shown} ({self})", url=shown)
