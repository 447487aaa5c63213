"""A resumed download the server answers from the start, or from the wrong byte."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from async_compositions import RetryPolicy
from async_compositions.emulator import Emulator
from async_compositions.errors import DownloadError

SIZE = 102_400
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)
GUARD = 10  # seconds; only stops a broken test from hanging, never asserted on


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(manual=True, seed=38, media_size=SIZE) as emulator:
        yield emulator


def media_requests(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if r.path.startswith("/_media/")]


async def download_while_the_file_changes(emu: Emulator, dest: object) -> tuple[Any, bytes]:
    """Download a composition whose media is cut half way, then replaced before the resume:
    the resume (Range with If-Range) is answered with all of the new file (200)."""
    id, other = emu.seed_telnyx(2)
    new_bytes = emu.media_bytes(other)
    emu.inject("truncate", path="/_media/*")
    hold = emu.hold(path="/_media/*")
    async with emu.telnyx_client(retry=FAST) as client:
        download = asyncio.create_task(client.compositions.download(id, dest, chunk_size=8192))
        await hold.wait_held(1, timeout=GUARD)
        hold.release()
        await hold.wait_held(1, timeout=GUARD)  # the resume, not yet answered
        emu.store.telnyx[id] = emu.store.telnyx[other]  # same URL and length, other bytes
        hold.lift()
        async with asyncio.timeout(GUARD):
            result = await download
    return result, new_bytes


async def test_a_restart_rewinds_a_file_object_to_where_the_download_began(
    emu: Emulator,
) -> None:
    buffer = io.BytesIO()
    buffer.write(b"already here: ")
    result, new_bytes = await download_while_the_file_changes(emu, buffer)
    # Whatever the caller had written before stays; the half of the old file does not.
    assert buffer.getvalue() == b"already here: " + new_bytes
    assert (result.path, result.size) == (None, SIZE)
    assert [r.status for r in media_requests(emu)][1:] == [200]


class _Pipe:
    """A write-only destination, like a socket or a pipe: it cannot seek back."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


async def test_a_restart_into_a_destination_that_cannot_seek_is_an_error(
    emu: Emulator,
) -> None:
    pipe = _Pipe()
    with pytest.raises(DownloadError) as info:
        await download_while_the_file_changes(emu, pipe)
    assert str(info.value) == "the server restarted the download and the file is not seekable"
    assert len(pipe.data) == SIZE // 2  # what arrived before the cut, and nothing after


async def test_a_resume_answered_from_the_wrong_byte_is_refused(
    emu: Emulator, tmp_path: Path
) -> None:
    (id,) = emu.seed_twilio(1)
    emu.inject("truncate", path="/_media/*")
    wrong = (
        b"HTTP/1.1 206 Partial Content\r\nContent-Type: video/mp4\r\n"
        b"Content-Range: bytes 0-51199/102400\r\nContent-Length: 51200\r\n"
        b"Connection: close\r\n\r\n"
    )
    emu.inject("raw", path="/_media/*", body=wrong)
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(DownloadError) as info:
            await client.compositions.download(id, tmp_path / "out.mp4")
    assert str(info.value) == "resume at byte 51200 got Content-Range 'bytes 0-51199/102400'"
    assert info.value.received == SIZE // 2
    assert [r.headers.get("Range") for r in media_requests(emu)] == [None, "bytes=51200-"]
    assert sorted(tmp_path.iterdir()) == []  # noqa: ASYNC240 - the temporary file is gone


class _BytesPath:
    """An os.PathLike whose path is bytes."""

    def __fspath__(self) -> bytes:
        return b"/tmp/out.mp4"


async def test_a_bytes_path_is_refused_before_any_request(emu: Emulator) -> None:
    (id,) = emu.seed_twilio(1)
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(TypeError) as info:
            await client.compositions.download(id, _BytesPath())
    assert str(info.value) == "dest must be a str path, a pathlib.Path or a file object"
    assert emu.requests == []
