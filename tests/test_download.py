"""compositions.download() and media_url() against the emulator's pre-signed media."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from async_compositions import NotFoundError, RetryPolicy
from async_compositions.emulator import Emulator, RecordedRequest
from async_compositions.errors import DownloadError

SIZE = 300_000
# Resumes at once: the test is about what is resumed, not how long the pause is.
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)


@dataclass(frozen=True)
class Side:
    """One provider, as the tests drive it through the emulator."""

    name: str

    def client(self, emu: Emulator, **kwargs: Any) -> Any:
        kwargs.setdefault("retry", FAST)
        if self.name == "twilio":
            return emu.twilio_client(**kwargs)
        return emu.telnyx_client(**kwargs)

    def seed(self, emu: Emulator, status: str = "completed", **kwargs: Any) -> str:
        if self.name == "twilio":
            return emu.seed_twilio(1, status=status, **kwargs)[0]
        return emu.seed_telnyx(1, status=status, **kwargs)[0]


@pytest.fixture(params=["twilio", "telnyx"])
def side(request: pytest.FixtureRequest) -> Side:
    return Side(request.param)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=5, media_size=SIZE, manual=True) as emulator:
        yield emulator


def media_requests(emu: Emulator) -> list[RecordedRequest]:
    return [r for r in emu.requests if r.path.startswith("/_media/")]


def files_in(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


async def test_download_to_a_file_path(emu: Emulator, side: Side, tmp_path: Path) -> None:
    id = side.seed(emu)
    dest = tmp_path / "out.mp4"
    async with side.client(emu) as client:
        result = await client.compositions.download(id, dest)
    assert result.path == dest and result.size == SIZE
    assert result.content_type == "video/mp4"
    assert dest.read_bytes() == emu.media_bytes(id)
    assert files_in(tmp_path) == ["out.mp4"]  # no temporary file left beside it
    (request,) = media_requests(emu)
    assert "Range" not in request.headers and request.status == 200


async def test_download_to_a_str_path(emu: Emulator, side: Side, tmp_path: Path) -> None:
    id = side.seed(emu)
    async with side.client(emu) as client:
        result = await client.compositions.download(id, str(tmp_path / "x.bin"))
    assert result.path == tmp_path / "x.bin"
    assert result.path.read_bytes() == emu.media_bytes(id)


async def test_download_into_a_directory_names_the_file(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    id = side.seed(emu)
    async with side.client(emu) as client:
        result = await client.compositions.download(id, tmp_path)
    assert result.path == tmp_path / f"{id}.mp4"
    assert files_in(tmp_path) == [f"{id}.mp4"]
    assert result.path.read_bytes() == emu.media_bytes(id)


async def test_an_existing_file_is_replaced_whole(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    id = side.seed(emu)
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"old content that is longer than nothing" * 10_000)
    async with side.client(emu) as client:
        await client.compositions.download(id, dest)
    assert dest.read_bytes() == emu.media_bytes(id)


async def test_download_to_a_binary_file_object(emu: Emulator, side: Side) -> None:
    id = side.seed(emu)
    buffer = io.BytesIO()
    async with side.client(emu) as client:
        result = await client.compositions.download(id, buffer)
    assert result.path is None and result.size == SIZE
    assert buffer.getvalue() == emu.media_bytes(id)


class AsyncSink:
    """A file-like object whose write() is a coroutine (as with aiofiles)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    async def write(self, data: bytes) -> int:
        await asyncio.sleep(0)
        self.parts.append(bytes(data))
        return len(data)


async def test_download_to_an_async_file_object(emu: Emulator, side: Side) -> None:
    id = side.seed(emu)
    sink = AsyncSink()
    async with side.client(emu) as client:
        result = await client.compositions.download(id, sink, chunk_size=50_000)
    assert result.path is None
    assert b"".join(sink.parts) == emu.media_bytes(id)
    assert len(sink.parts) >= SIZE // 50_000  # streamed in pieces, not read whole
    assert max(len(p) for p in sink.parts) <= 50_000


async def test_progress_reports_done_and_total(emu: Emulator, side: Side, tmp_path: Path) -> None:
    id = side.seed(emu)
    calls: list[tuple[int, int | None]] = []
    async with side.client(emu) as client:
        await client.compositions.download(
            id,
            tmp_path,
            progress=lambda done, total: calls.append((done, total)),
            chunk_size=65_536,
        )
    assert len(calls) >= SIZE // 65_536
    assert calls[-1] == (SIZE, SIZE)
    assert all(total == SIZE for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(set(done))  # strictly increasing


async def test_an_async_progress_callback_is_awaited(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    id = side.seed(emu)
    calls: list[int] = []

    async def progress(done: int, total: int | None) -> None:
        await asyncio.sleep(0)
        calls.append(done)

    async with side.client(emu) as client:
        await client.compositions.download(id, tmp_path, progress=progress)
    assert calls and calls[-1] == SIZE


async def test_resumes_after_a_dropped_connection(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    id = side.seed(emu)
    emu.inject("truncate", path="/_media/*")
    calls: list[tuple[int, int | None]] = []
    async with side.client(emu) as client:
        result = await client.compositions.download(
            id, tmp_path, progress=lambda d, t: calls.append((d, t))
        )
    assert result.size == SIZE and result.path is not None
    assert result.path.read_bytes() == emu.media_bytes(id)
    assert files_in(tmp_path) == [result.path.name]
    first, second = media_requests(emu)
    assert (first.fault, first.headers.get("Range"), first.status) == ("truncate", None, None)
    # The emulator cut the body after half of it; the rest was asked for, not everything.
    assert (second.fault, second.headers.get("Range"), second.status) == (
        None,
        f"bytes={SIZE // 2}-",
        206,
    )
    done = [d for d, _ in calls]
    assert done == sorted(set(done)) and calls[-1] == (SIZE, SIZE)


async def test_resumes_into_a_file_object(emu: Emulator, side: Side) -> None:
    id = side.seed(emu)
    emu.inject("truncate", path="/_media/*")
    buffer = io.BytesIO()
    async with side.client(emu) as client:
        await client.compositions.download(id, buffer)
    assert buffer.getvalue() == emu.media_bytes(id)
    assert [r.headers.get("Range") for r in media_requests(emu)] == [None, f"bytes={SIZE // 2}-"]


async def test_a_server_error_on_the_media_is_retried(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    id = side.seed(emu)
    emu.inject("status", status=503, path="/_media/*")
    async with side.client(emu) as client:
        result = await client.compositions.download(id, tmp_path)
    assert result.path is not None and result.path.read_bytes() == emu.media_bytes(id)
    assert [r.status for r in media_requests(emu)] == [503, 200]


async def test_a_server_that_always_cuts_short(emu: Emulator, side: Side, tmp_path: Path) -> None:
    id = side.seed(emu)
    emu.inject("truncate", path="/_media/*", times=10)
    dest = tmp_path / "out.mp4"
    async with side.client(emu) as client:
        with pytest.raises(DownloadError) as info:
            await client.compositions.download(id, dest)
    error = info.value
    assert error.expected == SIZE
    # Each attempt got half of what it asked for: 1/2, then 3/4, then 7/8 of the file.
    assert error.received == SIZE - SIZE // 8
    assert "of 300000 bytes" in str(error)
    assert files_in(tmp_path) == []  # nothing under the final name, no temporary file
    assert len(media_requests(emu)) == FAST.max_attempts


async def test_cancelled_midway_leaves_no_file(emu: Emulator, side: Side, tmp_path: Path) -> None:
    id = side.seed(emu)
    started = asyncio.Event()

    async def progress(done: int, total: int | None) -> None:
        started.set()
        await asyncio.Event().wait()  # hold the download here, part-way through

    async with side.client(emu) as client:
        task = asyncio.ensure_future(
            client.compositions.download(id, tmp_path, progress=progress, chunk_size=4096)
        )
        async with asyncio.timeout(10):  # a guard against hanging, not a measure
            await started.wait()
        assert len(files_in(tmp_path)) == 1  # the temporary file exists while it runs
        assert not (tmp_path / f"{id}.mp4").exists()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert files_in(tmp_path) == []


async def test_the_media_request_carries_no_credentials(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    id = side.seed(emu)
    async with side.client(emu) as client:
        await client.compositions.download(id, tmp_path)
    api = [r for r in emu.requests if not r.path.startswith("/_media/")]
    assert api and all("Authorization" in r.headers for r in api)
    (media,) = media_requests(emu)
    # The emulator, like S3, refuses a pre-signed URL that also carries credentials.
    assert "Authorization" not in media.headers and media.status == 200


async def test_empty_media(side: Side, tmp_path: Path) -> None:
    async with Emulator(seed=5, media_size=0) as emu:
        id = side.seed(emu)
        async with side.client(emu) as client:
            result = await client.compositions.download(id, tmp_path)
    assert result.size == 0 and result.path is not None and result.path.read_bytes() == b""


async def test_a_missing_directory_fails_before_the_media_request(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    id = side.seed(emu)
    async with side.client(emu) as client:
        with pytest.raises(FileNotFoundError):
            await client.compositions.download(id, tmp_path / "nope" / "out.mp4")
    assert media_requests(emu) == []


@pytest.mark.parametrize(("dest", "error"), [(42, TypeError), (b"bytes", TypeError)])
async def test_an_unusable_destination(
    emu: Emulator, side: Side, dest: Any, error: type[Exception]
) -> None:
    id = side.seed(emu)
    async with side.client(emu) as client:
        with pytest.raises(error):
            await client.compositions.download(id, dest)
    assert media_requests(emu) == []


@pytest.mark.parametrize(
    ("chunk_size", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)],
)
async def test_an_invalid_chunk_size(
    emu: Emulator, side: Side, tmp_path: Path, chunk_size: Any, error: type[Exception]
) -> None:
    id = side.seed(emu)
    async with side.client(emu) as client:
        with pytest.raises(error, match="chunk_size"):
            await client.compositions.download(id, tmp_path, chunk_size=chunk_size)
    assert media_requests(emu) == [] and files_in(tmp_path) == []


async def test_media_of_an_unfinished_composition_is_not_found(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    id = side.seed(emu, "processing")
    async with side.client(emu) as client:
        with pytest.raises(NotFoundError) as info:
            await client.compositions.media_url(id)
        with pytest.raises(NotFoundError):
            await client.compositions.download(id, tmp_path)
    assert info.value.status == 404
    assert media_requests(emu) == [] and files_in(tmp_path) == []


# -- media_url ----------------------------------------------------------------------------


async def test_twilio_media_url_default_and_ttl(emu: Emulator) -> None:
    (sid,) = emu.seed_twilio(1)
    async with emu.twilio_client() as client:
        default = await client.compositions.media_url(sid)
        short = await client.compositions.media_url(sid, ttl=120)
        longest = await client.compositions.media_url(sid, ttl=3600)
    sent = [r.url_path_qs for r in emu.requests]
    assert sent == [
        f"/v1/Compositions/{sid}/Media",
        f"/v1/Compositions/{sid}/Media?Ttl=120",
        f"/v1/Compositions/{sid}/Media?Ttl=3600",
    ]
    assert isinstance(default, URL) and default.path.endswith(f"/{sid}.mp4")
    assert default.query["X-Amz-Expires"] == "600"  # Twilio's default lifetime
    assert short.query["X-Amz-Expires"] == "120"
    assert longest.query["X-Amz-Expires"] == "3600"


@pytest.mark.parametrize(
    ("ttl", "error"),
    [(0, ValueError), (3601, ValueError), (-5, ValueError), (True, TypeError), ("60", TypeError)],
)
async def test_twilio_media_url_rejects_a_bad_ttl(emu: Emulator, ttl: Any, error: type) -> None:
    (sid,) = emu.seed_twilio(1)
    async with emu.twilio_client() as client:
        with pytest.raises(error, match="ttl"):
            await client.compositions.media_url(sid, ttl=ttl)
    assert emu.requests == []


async def test_telnyx_media_url_is_the_download_url(emu: Emulator) -> None:
    (id,) = emu.seed_telnyx(1)
    async with emu.telnyx_client() as client:
        url = await client.compositions.media_url(id)
        with pytest.raises(ValueError, match="ttl"):
            await client.compositions.media_url(id, ttl=60)
    assert url == URL(emu.composition(id)["download_url"], encoded=True)
    assert len(emu.requests) == 1  # the bad ttl sent nothing


# -- the transfer itself, against a host that compresses when allowed ----------------------


async def test_media_is_fetched_without_content_encoding(
    emu: Emulator, side: Side, tmp_path: Path
) -> None:
    id = side.seed(emu)
    # Gzip whenever the request accepts gzip or deflate, as some CDNs do.
    emu.inject("compress", path="/_media/*")
    async with side.client(emu) as client:
        result = await client.compositions.download(id, tmp_path / "m.mp4", chunk_size=65_536)
    (media,) = media_requests(emu)
    assert media.fault == "compress" and media.status == 200
    assert media.headers["Accept-Encoding"] == "identity"
    content = emu.media_bytes(id)
    assert result.size == len(content) and (tmp_path / "m.mp4").read_bytes() == content
