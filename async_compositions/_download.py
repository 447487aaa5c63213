"""Streaming media download: atomic rename, resume with Range, byte-count check."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from yarl import URL

from ._attempts import Attempts
from ._http import HttpRequest
from ._stores import StoredObject, Writer, file_writer
from ._transport import Transport
from .errors import APIConnectionError, APIError, DownloadError, error_class_for_status

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Destination",
    "DownloadResult",
    "ProgressCallback",
    "check_chunk_size",
    "check_destination",
    "check_progress",
    "download_media",
    "media_request",
]

DEFAULT_CHUNK_SIZE = 256 * 1024
ProgressCallback = Callable[[int, int | None], object]
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@attrs.frozen(slots=True)
class DownloadResult:
    """Where the media went and how many bytes it has."""

    path: Path | None
    size: int
    content_type: str | None = None


@attrs.frozen(slots=True)
class Transfer:
    """What a media transfer moved: the bytes written and the media's content type."""

    size: int
    content_type: str | None = None


class _FileSink:
    """Writes to a caller's binary file object, sync or async."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.start = target.tell() if _can(target, "tell") and _can(target, "seekable") else None
        self.size = 0

    async def write(self, data: bytes) -> None:
        result = self.target.write(data)
        if inspect.isawaitable(result):
            await result
        self.size += len(data)

    async def restart(self) -> None:
        if self.start is None or not self.target.seekable():
            raise DownloadError("the server restarted the download and the file is not seekable")
        self.target.seek(self.start)
        self.target.truncate()
        self.size = 0

    async def commit(self) -> StoredObject:
        return StoredObject(self.size)

    async def abort(self) -> None:
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

    def target(self, default_name: str) -> Path | None:
        """The file the media goes to (a directory gets the provider's file name)."""
        if self.path is None:
            return None
        return self.path / default_name if self.directory else self.path

    def writer(self, default_name: str) -> Writer:
        """Where the media is written: a hidden temporary file renamed when complete, or
        the caller's file object."""
        path = self.target(default_name)
        return _FileSink(self.file) if path is None else file_writer(path)


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


def media_request(url: URL, offset: int = 0, validator: str | None = None) -> HttpRequest:
    """GET a pre-signed media URL, without credentials, from byte ``offset`` on."""
    # identity: with gzip, aiohttp would count decoded bytes against the encoded
    # Content-Length and a Range offset would point into the wrong representation.
    headers = [("Accept-Encoding", "identity")]
    if offset:
        headers.append(("Range", f"bytes={offset}-"))
        if validator:
            # The server sends the rest only if the file is unchanged, else all of it.
            headers.append(("If-Range", validator))
    return HttpRequest("GET", url, headers=tuple(headers), authenticated=False)


async def _media_error(resp: aiohttp.ClientResponse) -> APIError:
    text = (await resp.text(errors="replace"))[:200]
    cls = error_class_for_status(resp.status)
    message = f"media download failed: {text or resp.reason or ''}".strip()
    return cls(message, status=resp.status, body=text)


#: Statuses a media host answers a pre-signed URL whose signature has expired with.
_EXPIRED = frozenset({401, 403})
#: Fresh URLs asked for in one transfer, at most: a URL refused at once is not expiring.
_RENEWALS = 3


async def download_media(
    transport: Transport,
    url: URL,
    sink: Writer,
    *,
    progress: ProgressCallback | None,
    chunk_size: int,
    timeout: aiohttp.ClientTimeout,
    renew: Callable[[], Awaitable[URL]] | None = None,
) -> Transfer:
    """Stream ``url`` into ``sink``, resuming after a dropped connection; the caller commits.

    Every attempt goes through the client's retry policy (statuses, Retry-After, logging);
    the URL is pre-signed, so it is fetched without provider credentials. When the media
    host refuses a URL that has expired mid-transfer (401 or 403), ``renew`` gives a fresh
    one and the transfer continues with Range where it stopped.
    """
    done = 0
    total: int | None = None
    content_type: str | None = None
    validator: str | None = None
    attempts: Attempts | None = None
    renewals = 0
    while True:
        request = media_request(url, done, validator)
        attempts = attempts or transport.attempts(request)
        error: APIError | None = None
        failure: APIConnectionError | None = None
        receiving = False
        try:
            async with transport.open(request, timeout) as resp:
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
                else:
                    error = await _media_error(resp)
                    headers = resp.headers
                if error is None:
                    receiving = True
                    async for chunk in resp.content.iter_chunked(chunk_size):
                        await sink.write(chunk)
                        done += len(chunk)
                        await _report(progress, done, total)
        except APIConnectionError as exc:
            failure = exc
        if error is not None:
            if error.status in _EXPIRED and renew is not None and renewals < _RENEWALS:
                renewals += 1
                url = await renew()
                continue
            await attempts.retry_after_status(error, headers)
            continue
        if failure is None and (total is None or done == total):
            break
        if receiving and total is not None:
            # A body cut short (by the server, or a connection dropped mid-body) is an
            # incomplete file: say how much arrived rather than "connection failed".
            short = DownloadError(
                f"media download incomplete after {attempts.number} attempts: "
                f"{done} of {total} bytes",
                expected=total,
                received=done,
            )
            await attempts.retry_after_failure(short)
        else:
            assert failure is not None
            await attempts.retry_after_failure(failure)
    return Transfer(done, content_type)
