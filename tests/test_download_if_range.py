"""A resumed download never stitches two versions of a file together."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from async_compositions import RetryPolicy
from async_compositions._download import check_destination
from async_compositions.emulator import Emulator
from async_compositions.emulator._media import media_etag

SIZE = 102_400
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.001)
GUARD = 10  # seconds; only stops a broken test from hanging, never asserted on


@pytest.mark.parametrize("changes", [False, True])
async def test_resume_sends_if_range_and_restarts_when_the_file_changed(
    tmp_path: Path, changes: bool
) -> None:
    async with Emulator(manual=True, seed=37, media_size=SIZE) as emu:
        id, other = emu.seed_telnyx(2)
        old = emu.store.telnyx[id]
        old_bytes, new_bytes = emu.media_bytes(id), emu.media_bytes(other)
        assert old_bytes != new_bytes and len(old_bytes) == len(new_bytes) == SIZE
        # The first media response is cut mid-body (half way); every media request waits
        # at the door, so the file can change between the cut and the resume.
        emu.inject("truncate", path="/_media/*")
        hold = emu.hold(path="/_media/*")
        async with emu.telnyx_client(retry=FAST) as client:
            download = asyncio.create_task(
                client.compositions.download(id, tmp_path / "out.mp4", chunk_size=8192)
            )
            await hold.wait_held(1, timeout=GUARD)
            hold.release()
            await hold.wait_held(1, timeout=GUARD)  # the resume, not yet answered
            if changes:
                # Same URL, same length, other bytes and another ETag.
                emu.store.telnyx[id] = emu.store.telnyx[other]
            hold.lift()
            async with asyncio.timeout(GUARD):
                result = await download
    expected = new_bytes if changes else old_bytes
    first, second = (r for r in emu.requests if r.path.startswith("/_media/"))
    assert first.fault == "truncate" and "Range" not in first.headers
    assert second.headers["Range"] == f"bytes={SIZE // 2}-"
    assert second.headers["If-Range"] == media_etag(old.media_key, SIZE)
    # Unchanged: the rest of the file (206); changed: all of the new one, from the start.
    assert second.status == (200 if changes else 206)
    assert (tmp_path / "out.mp4").read_bytes() == expected
    assert result.size == SIZE
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
