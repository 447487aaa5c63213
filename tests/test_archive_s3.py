"""archive() into S3: moto's server and the emulator, both on 127.0.0.1."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from async_compositions import RetryPolicy
from async_compositions.emulator import Emulator
from async_compositions.errors import StoreError

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

pytestmark = pytest.mark.usefixtures("aws_environment")

SIZE = 9 * 1024 * 1024  # two parts of the store's 8 MiB
FAST = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.001)


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(seed=81, media_size=SIZE, manual=True) as emulator:
        yield emulator


async def objects(admin: S3Client, bucket: str) -> dict[str, int]:
    listed = await admin.list_objects_v2(Bucket=bucket)
    return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}


async def uploads(admin: S3Client, bucket: str) -> list[str]:
    return [
        u["Key"] for u in (await admin.list_multipart_uploads(Bucket=bucket)).get("Uploads", [])
    ]


async def read(admin: S3Client, bucket: str, key: str) -> bytes:
    response = await admin.get_object(Bucket=bucket, Key=key)
    async with response["Body"] as body:
        return await body.read()


def manifest_rows(path: Path) -> dict[str, tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return {
            r[0]: r[1:]
            for r in db.execute("SELECT id, state, key, size, checksum FROM compositions")
        }


async def test_archive_to_s3_then_rerun_skips_by_head(
    emu: Emulator, moto_url: str, bucket: str, admin: S3Client, tmp_path: Path
) -> None:
    ids = emu.seed_twilio(2)
    manifest = tmp_path / "archive.sqlite3"
    dest = f"s3://{bucket}/compositions"
    async with emu.twilio_client(retry=FAST) as client:
        report = await client.compositions.archive(
            dest, manifest=manifest, s3_endpoint_url=moto_url, concurrency=2
        )
        assert sorted(report.archived) == sorted(ids) and report.ok
        assert report.destination == dest and report.bytes == 2 * SIZE
        stored = await objects(admin, bucket)
        assert stored == {f"compositions/{id}.mp4": SIZE for id in ids}
        for id in ids:
            content = await read(admin, bucket, f"compositions/{id}.mp4")
            assert hashlib.sha256(content).digest() == hashlib.sha256(emu.media_bytes(id)).digest()
        rows = manifest_rows(manifest)
        assert {row[0] for row in rows.values()} == {"archived"}
        assert all(row[3] and row[3].endswith("-2") for row in rows.values())  # multipart checksum
        emu.clear_requests()
        again = await client.compositions.archive(dest, manifest=manifest, s3_endpoint_url=moto_url)
    assert sorted(again.skipped) == sorted(ids) and again.archived == ()
    assert [r for r in emu.requests if r.path.startswith("/_media/")] == []


async def test_an_object_changed_in_the_bucket_is_archived_again(
    emu: Emulator, moto_url: str, bucket: str, admin: S3Client, tmp_path: Path
) -> None:
    (id,) = emu.seed_twilio(1)
    manifest = tmp_path / "archive.sqlite3"
    dest = f"s3://{bucket}/x"
    async with emu.twilio_client(retry=FAST) as client:
        await client.compositions.archive(dest, manifest=manifest, s3_endpoint_url=moto_url)
        await admin.put_object(Bucket=bucket, Key=f"x/{id}.mp4", Body=b"replaced")
        report = await client.compositions.archive(
            dest, manifest=manifest, s3_endpoint_url=moto_url, delete_after=True
        )
    assert report.archived == (id,) and report.deleted == (id,)
    assert await objects(admin, bucket) == {f"x/{id}.mp4": SIZE}


async def test_an_interrupted_upload_is_aborted_and_nothing_deleted(
    emu: Emulator, moto_url: str, bucket: str, admin: S3Client, tmp_path: Path
) -> None:
    (id,) = emu.seed_twilio(1)
    # Every media response is cut short: the first 8 MiB part is uploaded, then it fails.
    emu.inject("truncate", path="/_media/*", times=10)
    async with emu.twilio_client(retry=FAST) as client:
        report = await client.compositions.archive(
            f"s3://{bucket}/p",
            manifest=tmp_path / "m.sqlite3",
            s3_endpoint_url=moto_url,
            delete_after=True,
        )
    assert [(f.id, f.stage) for f in report.failed] == [(id, "download")]
    assert await uploads(admin, bucket) == [] and await objects(admin, bucket) == {}
    assert not [r for r in emu.requests if r.method == "DELETE"]


async def test_a_missing_bucket_fails_before_any_download(
    emu: Emulator, moto_url: str, tmp_path: Path
) -> None:
    emu.seed_twilio(1)
    async with emu.twilio_client(retry=FAST) as client:
        with pytest.raises(StoreError, match="no-such-bucket-here"):
            await client.compositions.archive(
                "s3://no-such-bucket-here/x",
                manifest=tmp_path / "m.sqlite3",
                s3_endpoint_url=moto_url,
            )
    assert emu.requests == []
