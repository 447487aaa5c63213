"""A resumed download never stitches two versions of a file together."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aioresponses import aioresponses

from async_compositions import RetryPolicy, TelnyxClient
from async_compositions._download import check_destination

OLD = bytes(range(256)) * 400  # 102,400 bytes
NEW = bytes(reversed(range(256))) * 400
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)


class Media:
    """Serves OLD, cuts the first response mid-body, then has changed (or not) to NEW."""

    def __init__(self, *, changes: bool) -> None:
        self.changes = changes
        self.requests: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.headers))
        if len(self.requests) == 1:
            response = web.StreamResponse(headers={"ETag": '"v1"', "Accept-Ranges": "bytes"})
            response.content_length = len(OLD)
            await response.prepare(request)
            await response.write(OLD[:40_000])
            assert request.transport is not None
            request.transport.close()  # the connection drops mid-body
            return response
        body, etag = (NEW, '"v2"') if self.changes else (OLD, '"v1"')
        range_header = request.headers.get("Range", "")
        if range_header.startswith("bytes=") and request.headers.get("If-Range") == etag:
            start = int(range_header[6:].rstrip("-"))
            content_range = f"bytes {start}-{len(body) - 1}/{len(body)}"
            return web.Response(
                status=206,
                body=body[start:],
                headers={"ETag": etag, "Content-Range": content_range},
            )
        return web.Response(body=body, headers={"ETag": etag})


ID = "7103dc53-ee59-4b54-a58b-c77d99ceb037"
API = "https://api.telnyx.com/v2"


async def serve(media: Media) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_get("/media.mp4", media.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/media.mp4"


@pytest.mark.parametrize("changes", [False, True])
async def test_resume_sends_if_range_and_restarts_when_the_file_changed(
    tmp_path: Path, changes: bool
) -> None:
    media = Media(changes=changes)
    runner, url = await serve(media)
    try:
        with aioresponses(passthrough=[url.rsplit("/", 1)[0]]) as api:
            api.get(
                f"{API}/room_compositions/{ID}", payload={"data": {"id": ID, "download_url": url}}
            )
            async with TelnyxClient("KEY1", retry=FAST) as client:
                result = await client.compositions.download(
                    ID, tmp_path / "out.mp4", chunk_size=8192
                )
    finally:
        await runner.cleanup()
    assert len(media.requests) == 2
    assert media.requests[1]["Range"] == "bytes=40000-"
    assert media.requests[1]["If-Range"] == '"v1"'
    expected = NEW if changes else OLD
    assert (tmp_path / "out.mp4").read_bytes() == expected
    assert result.size == len(expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # noqa: ASYNC240


async def test_a_directory_destination_must_exist(tmp_path: Path) -> None:
    assert check_destination(str(tmp_path) + "/").directory
    assert check_destination(tmp_path).directory
    out = check_destination(str(tmp_path / "out.mp4"))
    assert (out.path, out.directory) == (tmp_path / "out.mp4", False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_destination(str(tmp_path / "missing") + "/")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_destination(tmp_path / "missing" / "out.mp4")
