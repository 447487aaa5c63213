"""S3Store refusing misuse, and S3 failures at each step of a multipart upload (moto)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

from async_compositions._s3 import MIN_PART_SIZE, S3Store
from async_compositions.errors import StoreError

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

pytestmark = pytest.mark.usefixtures("aws_environment")

PART = MIN_PART_SIZE


@pytest.fixture
async def doomed(admin: S3Client) -> AsyncIterator[str]:
    """A bucket the test deletes itself (what is left in it is cleaned up here)."""
    name = f"doomed-{uuid.uuid4().hex[:12]}"
    await admin.create_bucket(Bucket=name)
    yield name
    try:
        uploads = await admin.list_multipart_uploads(Bucket=name)
    except ClientError:  # already gone, as the test meant
        return
    for upload in uploads.get("Uploads", []):
        await admin.abort_multipart_upload(
            Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    await admin.delete_bucket(Bucket=name)


def test_a_bucket_name_is_required() -> None:
    with pytest.raises(ValueError, match=r"^an S3 destination needs a bucket name$"):
        S3Store("")


async def test_a_store_cannot_be_opened_twice(moto_url: str, bucket: str) -> None:
    store = S3Store(bucket, "p", endpoint_url=moto_url)
    async with store:
        with pytest.raises(RuntimeError, match=rf"S3Store\('s3://{bucket}/p'\) is already open"):
            await store.__aenter__()
    # Closed once, it may be closed again without effect.
    await store.__aexit__(None, None, None)


async def test_a_committed_writer_cannot_restart(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    async with S3Store(bucket, "p", endpoint_url=moto_url) as store:
        writer = store.writer("done.mp4")
        await writer.write(b"media")
        await writer.commit()
        with pytest.raises(StoreError) as info:
            await writer.restart()
    assert str(info.value) == f"the writer for s3://{bucket}/p/done.mp4 is closed"
    assert info.value.key == "done.mp4"
    # What was committed stays.
    got = await admin.get_object(Bucket=bucket, Key="p/done.mp4")
    async with got["Body"] as body:
        assert await body.read() == b"media"


async def test_bucket_gone_before_the_first_part_fails_creating_the_upload(
    moto_url: str, doomed: str, admin: S3Client
) -> None:
    async with S3Store(doomed, endpoint_url=moto_url, part_size=PART) as store:
        writer = store.writer("big.mp4")
        await writer.write(b"x" * (PART - 1))  # still in memory: nothing sent yet
        await admin.delete_bucket(Bucket=doomed)
        with pytest.raises(StoreError) as info:
            await writer.write(b"x")  # the first full part starts the multipart upload
        await writer.abort()
    err = info.value
    assert (err.operation, err.code, err.key) == (
        "CreateMultipartUpload",
        "NoSuchBucket",
        "big.mp4",
    )
    assert str(err).startswith(
        f"CreateMultipartUpload for s3://{doomed}/big.mp4: bucket {doomed!r} does not exist: "
    )
