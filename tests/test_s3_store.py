"""S3Store against moto's S3 server, run by these tests on 127.0.0.1 in a subprocess.

Nothing here reaches the internet: the credentials are dummies, the shared AWS config and
credential files are pointed at nothing, and the instance metadata service is disabled.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import logging
import pickle
import random
import socket
import traceback
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import EndpointConnectionError
from s3_server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, MotoServer

from async_compositions import _s3
from async_compositions._s3 import DEFAULT_PART_SIZE, S3Store, S3Writer
from async_compositions._stores import StoredObject, open_store
from async_compositions.errors import CompositionsError, StoreError

if TYPE_CHECKING:
    from types_aiobotocore_s3.client import S3Client

PART = DEFAULT_PART_SIZE
NO_RETRIES = AioConfig(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)

pytestmark = pytest.mark.usefixtures("aws_environment")


def store_for(url: str, moto_url: str, **kwargs: Any) -> S3Store:
    return S3Store.from_url(url, endpoint_url=moto_url, **kwargs)


def chunks(total: int, seed: int = 1) -> Iterator[bytes]:
    """Deterministic pseudo-random 64 KiB chunks adding up to ``total`` bytes."""
    rng = random.Random(seed)
    sent = 0
    while sent < total:
        n = min(65_536, total - sent)
        yield rng.randbytes(n)
        sent += n


def sliced(data: bytes, sizes: tuple[int, ...]) -> Iterator[bytes]:
    """``data`` in chunks of the given sizes, round and round."""
    pos = 0
    i = 0
    while pos < len(data):
        yield data[pos : pos + sizes[i % len(sizes)]]
        pos += sizes[i % len(sizes)]
        i += 1


def expected(total: int, seed: int = 1) -> bytes:
    return b"".join(chunks(total, seed))


def composite_sha256(data: bytes, part_size: int = PART) -> str:
    """S3's ChecksumSHA256 of a multipart object: base64(sha256(part digests))-N."""
    parts = [data[i : i + part_size] for i in range(0, len(data), part_size)]
    digests = b"".join(hashlib.sha256(p).digest() for p in parts)
    return f"{base64.b64encode(hashlib.sha256(digests).digest()).decode()}-{len(parts)}"


def full_sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


async def read_back(admin: S3Client, bucket: str, key: str) -> bytes:
    got = await admin.get_object(Bucket=bucket, Key=key)
    async with got["Body"] as body:
        return await body.read()


async def open_uploads(admin: S3Client, bucket: str) -> list[str]:
    listed = await admin.list_multipart_uploads(Bucket=bucket)
    return [u["Key"] for u in listed.get("Uploads", [])]


def assert_redacted(err: BaseException) -> None:
    """No credential in anything the error shows or keeps, and no SDK exception chained."""
    assert err.__cause__ is None
    assert err.__context__ is None
    shown = [
        str(err),
        repr(err),
        repr(vars(err)),
        repr(err.args),
        "".join(traceback.format_exception(err)),
        repr(pickle.loads(pickle.dumps(err)).__dict__),
    ]
    for text in shown:
        assert SECRET_ACCESS_KEY not in text
        assert ACCESS_KEY_ID not in text


# -- writing and reading back ------------------------------------------------------------


async def test_multipart_object_round_trips_byte_for_byte(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    total = 2 * PART + 1_234_567  # three parts: two full ones and a short last one
    data = expected(total, seed=7)
    async with store_for(f"s3://{bucket}", moto_url) as store:
        writer = store.writer("room/CJ1.mp4")
        # Odd chunk sizes, so chunks straddle the part boundaries.
        for chunk in sliced(data, (65_536, 100_003, 1, 4096, 777_777)):
            await writer.write(chunk)
        assert writer.upload_id is not None  # a multipart upload, not a single put
        stored = await writer.commit()
    assert stored == StoredObject(total, hashlib.sha256(data).hexdigest(), composite_sha256(data))
    assert stored.checksum is not None and stored.checksum.endswith("-3")
    assert await read_back(admin, bucket, "room/CJ1.mp4") == data
    head = await admin.head_object(Bucket=bucket, Key="room/CJ1.mp4", PartNumber=1)
    assert head["PartsCount"] == 3
    assert head["ContentLength"] == PART
    assert await open_uploads(admin, bucket) == []


async def test_chunks_are_not_hashed_with_the_wrong_chunking(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    # The same bytes in one big write: same object, same checksums.
    total = PART + 10
    data = expected(total, seed=3)
    async with store_for(f"s3://{bucket}", moto_url) as store:
        writer = store.writer("big-write.mp4")
        await writer.write(data)
        stored = await writer.commit()
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.checksum == composite_sha256(data)
    assert await read_back(admin, bucket, "big-write.mp4") == data


async def test_small_object_is_one_put_with_the_full_sha256(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    data = b"a small composition" * 1000
    async with store_for(f"s3://{bucket}", moto_url) as store:
        writer = store.writer("small.mp4")
        await writer.write(data[:5000])
        await writer.write(data[5000:])
        assert writer.upload_id is None
        stored = await writer.commit()
    assert stored == StoredObject(
        len(data), hashlib.sha256(data).hexdigest(), full_sha256_b64(data)
    )
    assert await read_back(admin, bucket, "small.mp4") == data
    head = await admin.head_object(Bucket=bucket, Key="small.mp4")
    assert head["ContentType"] == "video/mp4"


async def test_empty_object(moto_url: str, bucket: str, admin: S3Client) -> None:
    async with store_for(f"s3://{bucket}", moto_url) as store:
        stored = await store.writer("empty.webm").commit()
        assert await store.stat("empty.webm") == attrs.evolve(stored, sha256=None)
    assert stored == StoredObject(0, hashlib.sha256(b"").hexdigest(), full_sha256_b64(b""))
    assert await read_back(admin, bucket, "empty.webm") == b""


async def test_exactly_one_part(moto_url: str, bucket: str, admin: S3Client) -> None:
    data = expected(PART, seed=5)
    async with store_for(f"s3://{bucket}", moto_url) as store:
        writer = store.writer("one-part.mp4")
        for chunk in chunks(PART, seed=5):
            await writer.write(chunk)
        stored = await writer.commit()
        assert await store.stat("one-part.mp4") == attrs.evolve(stored, sha256=None)
    assert stored.checksum == composite_sha256(data)
    assert await read_back(admin, bucket, "one-part.mp4") == data


# -- memory -------------------------------------------------------------------------------


async def test_writer_holds_at_most_one_part(moto_url: str, bucket: str, admin: S3Client) -> None:
    total = 3 * PART + 12_345
    session = AioSession()
    in_flight = 0
    most_in_flight = 0
    part_sizes: list[int] = []
    writers: list[S3Writer] = []

    def before_part(params: dict[str, Any], **_: Any) -> None:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        part_sizes.append(len(params["body"]))
        # The part was handed over whole: the writer holds nothing else meanwhile.
        assert writers[0].buffered == 0

    def after_part(**_: Any) -> None:
        nonlocal in_flight
        in_flight -= 1

    session.register("before-call.s3.UploadPart", before_part)
    session.register("after-call.s3.UploadPart", after_part)
    digest = hashlib.sha256()
    async with store_for(f"s3://{bucket}", moto_url, session=session) as store:
        writer = store.writer("bounded.mp4")
        writers.append(writer)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            for chunk in chunks(total, seed=11):
                digest.update(chunk)
                await writer.write(chunk)
                assert writer.buffered < PART
            stored = await writer.commit()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert most_in_flight == 1
    assert part_sizes == [PART, PART, PART, 12_345]
    assert stored.size == total
    assert stored.sha256 == digest.hexdigest()
    # One part buffer, the chunk in hand, and the HTTP stack's reads of the part being
    # sent (botocore hashes a plain-HTTP payload 1 MiB at a time, aiohttp sends 256 KiB
    # at a time): about PART + 2 MiB here, far from the two parts a copy would need.
    assert peak < PART + PART // 2, peak


# -- restart and abort --------------------------------------------------------------------


async def test_restart_mid_upload_aborts_and_starts_over(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    async with store_for(f"s3://{bucket}", moto_url) as store:
        writer = store.writer("restarted.mp4")
        for chunk in chunks(PART + PART // 2, seed=1):
            await writer.write(chunk)
        first_upload = writer.upload_id
        assert first_upload is not None
        assert await open_uploads(admin, bucket) == ["restarted.mp4"]
        await writer.restart()
        assert writer.upload_id is None
        assert (writer.size, writer.buffered) == (0, 0)
        assert await open_uploads(admin, bucket) == []
        data = expected(PART + 99, seed=2)
        for chunk in chunks(PART + 99, seed=2):
            await writer.write(chunk)
        assert writer.upload_id not in (None, first_upload)
        stored = await writer.commit()
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await read_back(admin, bucket, "restarted.mp4") == data
    assert await open_uploads(admin, bucket) == []


async def test_restart_before_any_part_was_sent(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    async with store_for(f"s3://{bucket}", moto_url) as store:
        writer = store.writer("small-restart.bin")
        await writer.write(b"first attempt, discarded")
        await writer.restart()
        await writer.write(b"second")
        stored = await writer.commit()
    assert stored.size == 6
    assert await read_back(admin, bucket, "small-restart.bin") == b"second"


async def test_abort_leaves_no_multipart_upload_and_no_object(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    async with store_for(f"s3://{bucket}", moto_url) as store:
        writer = store.writer("aborted.mp4")
        for chunk in chunks(2 * PART + 5, seed=4):
            await writer.write(chunk)
        assert await open_uploads(admin, bucket) == ["aborted.mp4"]
        await writer.abort()
        await writer.abort()  # twice is harmless
        assert await open_uploads(admin, bucket) == []
        assert await store.stat("aborted.mp4") is None
        with pytest.raises(StoreError, match="closed"):
            await writer.write(b"more")
        # A writer aborted before it sent anything has nothing to clean up.
        await store.writer("never-written.mp4").abort()
    assert await open_uploads(admin, bucket) == []


async def test_failed_abort_is_logged_and_retried_when_the_store_closes(
    moto_url: str, bucket: str, admin: S3Client, caplog: pytest.LogCaptureFixture
) -> None:
    session = AioSession()
    failures = [1]

    def flaky_abort(**_: Any) -> None:
        if failures:
            failures.pop()
            raise EndpointConnectionError(endpoint_url=moto_url)

    session.register("before-call.s3.AbortMultipartUpload", flaky_abort)
    with caplog.at_level(logging.WARNING, logger="async_compositions"):
        async with store_for(f"s3://{bucket}", moto_url, session=session) as store:
            writer = store.writer("flaky.mp4")
            for chunk in chunks(PART + 1, seed=4):
                await writer.write(chunk)
            await writer.abort()  # fails, and says so, but does not raise
            assert await open_uploads(admin, bucket) == ["flaky.mp4"]
    assert "could not abort the multipart upload" in caplog.text
    assert await open_uploads(admin, bucket) == []


async def test_closing_the_store_aborts_uploads_left_open(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    async with store_for(f"s3://{bucket}", moto_url) as store:
        writer = store.writer("forgotten.mp4")
        for chunk in chunks(PART + 1, seed=4):
            await writer.write(chunk)
        assert await open_uploads(admin, bucket) == ["forgotten.mp4"]
    assert await open_uploads(admin, bucket) == []


async def test_cancelled_mid_part_then_aborted_leaves_nothing(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    session = AioSession()
    sending = asyncio.Event()

    async def stall(**_: Any) -> None:
        if not sending.is_set():
            sending.set()
            await asyncio.Event().wait()  # until cancelled

    session.register("before-call.s3.UploadPart", stall)
    async with store_for(f"s3://{bucket}", moto_url, session=session) as store:
        writer = store.writer("cancelled.mp4")

        async def download() -> None:
            for chunk in chunks(2 * PART, seed=4):
                await writer.write(chunk)

        task = asyncio.create_task(download())
        await sending.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await open_uploads(admin, bucket) == ["cancelled.mp4"]
        with pytest.raises(StoreError, match="failed"):
            await writer.write(b"more")  # the part never arrived: the writer is spent
        await writer.abort()
        assert await open_uploads(admin, bucket) == []


async def test_commit_after_a_failed_part_is_refused(
    moto_url: str, bucket: str, admin: S3Client
) -> None:
    session = AioSession()

    def fail_part(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url=moto_url)

    session.register("before-call.s3.UploadPart", fail_part)
    async with store_for(f"s3://{bucket}", moto_url, session=session) as store:
        writer = store.writer("broken.mp4")
        with pytest.raises(StoreError, match="UploadPart") as info:
            for chunk in chunks(PART + 1, seed=4):
                await writer.write(chunk)
        assert info.value.key == "broken.mp4"
        assert_redacted(info.value)
        with pytest.raises(StoreError, match=r"restart\(\) or abort\(\)"):
            await writer.commit()
        await writer.abort()
    assert await open_uploads(admin, bucket) == []


async def test_too_many_parts(
    moto_url: str, bucket: str, admin: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_s3, "MAX_PARTS", 2)
    async with store_for(f"s3://{bucket}", moto_url) as store:
        writer = store.writer("huge.mp4")
        with pytest.raises(StoreError, match="more than 2 parts"):
            for chunk in chunks(3 * PART, seed=4):
                await writer.write(chunk)
        await writer.abort()
    assert await open_uploads(admin, bucket) == []


# -- verification -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1000, 2 * PART + 1])
async def test_stat_later_matches_what_commit_returned(
    moto_url: str, bucket: str, size: int
) -> None:
    async with store_for(f"s3://{bucket}/archive", moto_url) as store:
        writer = store.writer("twilio/CJ2.mp4")
        for chunk in chunks(size, seed=size):
            await writer.write(chunk)
        committed = await writer.commit()
    # A rerun: another store, another client, another session.
    async with store_for(f"s3://{bucket}/archive", moto_url) as store:
        later = await store.stat("twilio/CJ2.mp4")
    assert later is not None
    assert (later.size, later.checksum) == (committed.size, committed.checksum)
    assert later.checksum is not None
    # stat vouches for size and S3's checksum; the full hex SHA-256 is commit's to tell.
    assert later == attrs.evolve(committed, sha256=None)


async def test_stat_of_a_missing_key_is_none(moto_url: str, bucket: str) -> None:
    async with store_for(f"s3://{bucket}/prefix", moto_url) as store:
        assert await store.stat("no/such/key.mp4") is None


async def test_commit_notices_a_checksum_the_server_did_not_keep(
    moto_url: str, bucket: str
) -> None:
    # moto stores whatever checksum it is sent; corrupt it on the way out to see commit's
    # HEAD catch the difference (real S3 would refuse the upload with BadDigest).
    session = AioSession()

    def corrupt(params: dict[str, Any], **_: Any) -> None:
        params["headers"]["x-amz-checksum-sha256"] = full_sha256_b64(b"other bytes")

    session.register("before-call.s3.PutObject", corrupt)
    async with store_for(f"s3://{bucket}", moto_url, session=session) as store:
        writer = store.writer("corrupt.mp4")
        await writer.write(b"the real bytes")
        with pytest.raises(StoreError, match="ChecksumSHA256") as info:
            await writer.commit()
    assert info.value.code == "ChecksumMismatch"


# -- keys, URLs and endpoints -------------------------------------------------------------


async def test_keys_are_under_the_prefix(moto_url: str, bucket: str, admin: S3Client) -> None:
    store = store_for(f"s3://{bucket}/archive/2024/", moto_url)
    assert store.description == f"s3://{bucket}/archive/2024"
    assert store.object_key("twilio/CJ3.mp4") == "archive/2024/twilio/CJ3.mp4"
    async with store:
        writer = store.writer("twilio/CJ3.mp4")
        await writer.write(b"media")
        await writer.commit()
        assert await store.stat("twilio/CJ3.mp4") is not None
    listed = await admin.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed.get("Contents", [])] == ["archive/2024/twilio/CJ3.mp4"]


async def test_bucket_without_prefix(moto_url: str, bucket: str, admin: S3Client) -> None:
    store = store_for(f"s3://{bucket}", moto_url)
    assert store.description == f"s3://{bucket}"
    assert store.object_key("a/b.mp4") == "a/b.mp4"


@pytest.mark.parametrize("key", ["", "/abs.mp4", "a//b.mp4", "a/../b.mp4", "./a.mp4", "a/"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="relative key"):
        S3Store("bucket", "prefix").object_key(key)


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3:///prefix", "http://bucket/prefix", "s3://user:pw@bucket/x", "s3://b/p?x=1"],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError) as info:
        S3Store.from_url(url)
    assert "pw@" not in str(info.value)


def test_part_size_below_the_s3_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="part_size"):
        S3Store("bucket", part_size=1024 * 1024)


async def test_endpoint_from_aws_endpoint_url(
    moto_url: str, bucket: str, admin: S3Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)  # botocore's own setting
    async with S3Store.from_url(f"s3://{bucket}/env") as store:
        writer = store.writer("x.mp4")
        await writer.write(b"via AWS_ENDPOINT_URL")
        await writer.commit()
    assert await read_back(admin, bucket, "env/x.mp4") == b"via AWS_ENDPOINT_URL"


async def test_open_store_picks_s3_for_s3_urls(moto_url: str, bucket: str) -> None:
    store = open_store(f"s3://{bucket}/p", s3_endpoint_url=moto_url)
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.endpoint_url) == (bucket, "p", moto_url)
    async with store:
        assert await store.stat("missing") is None


async def test_the_client_is_closed_cleanly(moto_url: str, bucket: str) -> None:
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    try:
        store = store_for(f"s3://{bucket}", moto_url)
        async with store:
            writer = store.writer("x.bin")
            await writer.write(b"x")
            await writer.commit()
        with pytest.raises(RuntimeError, match="not open"):
            store.writer("y.bin")
        del store, writer
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert problems == []


# -- failures -----------------------------------------------------------------------------


async def test_missing_bucket_is_a_store_error(moto_url: str) -> None:
    store = store_for("s3://no-such-bucket-here/prefix", moto_url)
    with pytest.raises(StoreError) as info:
        async with store:
            pass
    err = info.value
    assert isinstance(err, CompositionsError)
    assert "bucket 'no-such-bucket-here' does not exist" in str(err)
    assert (err.operation, err.status, err.key) == ("HeadBucket", 404, None)
    assert_redacted(err)


async def test_bucket_gone_while_writing_is_a_store_error(moto_url: str, admin: S3Client) -> None:
    name = f"test-{uuid.uuid4().hex[:12]}"
    await admin.create_bucket(Bucket=name)
    async with store_for(f"s3://{name}/p", moto_url) as store:
        writer = store.writer("gone.mp4")
        await writer.write(b"media")
        await admin.delete_bucket(Bucket=name)
        with pytest.raises(StoreError) as info:
            await writer.commit()
    err = info.value
    assert (err.operation, err.code, err.key) == ("PutObject", "NoSuchBucket", "gone.mp4")
    assert f"s3://{name}/p/gone.mp4" in str(err)
    assert "does not exist" in str(err)
    assert_redacted(err)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_endpoint_is_a_store_error() -> None:
    store = S3Store.from_url(
        "s3://media", endpoint_url=f"http://127.0.0.1:{_unused_port()}", client_config=NO_RETRIES
    )
    with pytest.raises(StoreError, match="could not be reached") as info:
        async with store:
            pass
    assert info.value.operation == "HeadBucket"
    assert_redacted(info.value)


async def test_network_failure_while_writing_is_a_store_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = MotoServer(tmp_path / "doomed.log")
    try:
        async with AioSession().create_client("s3", endpoint_url=server.url) as client:
            await client.create_bucket(Bucket="doomed")
        store = S3Store.from_url("s3://doomed", endpoint_url=server.url, client_config=NO_RETRIES)
        async with store:
            writer = store.writer("cut.mp4")
            for chunk in chunks(PART + 1, seed=9):
                await writer.write(chunk)  # the multipart upload is under way
            server.stop()
            with pytest.raises(StoreError, match="could not be reached") as info:
                await writer.commit()
            await writer.abort()  # cannot reach the server either: logged, not raised
    finally:
        server.stop()
    err = info.value
    assert (err.operation, err.key) == ("UploadPart", "cut.mp4")
    assert_redacted(err)
    assert "could not abort" in caplog.text


async def test_no_credentials_is_a_store_error(
    moto_url: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StoreError, match="no usable AWS credentials") as info:
        async with store_for(f"s3://{bucket}", moto_url):
            pass
    assert_redacted(info.value)


def test_store_error_pickles_with_its_attributes() -> None:
    err = StoreError("PutObject for s3://b/k: failed", key="k", operation="PutObject", code="X")
    copy = pickle.loads(pickle.dumps(err))
    assert (str(copy), copy.key, copy.operation, copy.code) == (str(err), "k", "PutObject", "X")


# -- credentials checked by the server ----------------------------------------------------


@attrs.frozen
class AuthServer:
    url: str
    bucket: str
    # A key the server knows, with no policy: it may do nothing.
    powerless_key_id: str
    powerless_secret: str


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """A moto server that checks signatures after the first three (set-up) requests."""
    log = tmp_path_factory.mktemp("moto-auth") / "server.log"
    server = MotoServer(log, INITIAL_NO_AUTH_ACTION_COUNT="3")

    async def set_up() -> AuthServer:
        session = AioSession()
        creds: dict[str, Any] = {
            "endpoint_url": server.url,
            "region_name": REGION,
            "aws_access_key_id": "AKIASETUPSETUPSETUP1",
            "aws_secret_access_key": "setup",
        }
        async with session.create_client("s3", **creds) as s3:
            await s3.create_bucket(Bucket="guarded")
        async with session.create_client("iam", **creds) as iam:
            await iam.create_user(UserName="powerless")
            key = (await iam.create_access_key(UserName="powerless"))["AccessKey"]
        return AuthServer(server.url, "guarded", key["AccessKeyId"], key["SecretAccessKey"])

    try:
        yield asyncio.run(set_up())
    finally:
        server.stop()


async def test_unknown_access_key_is_a_store_error(auth_server: AuthServer) -> None:
    store = store_for(f"s3://{auth_server.bucket}", auth_server.url)
    with pytest.raises(StoreError, match="access denied") as info:
        async with store:
            pass
    assert info.value.status == 403
    assert_redacted(info.value)


async def test_wrong_secret_is_a_store_error(
    auth_server: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", auth_server.powerless_key_id)
    with pytest.raises(StoreError, match="access denied") as info:
        async with store_for(f"s3://{auth_server.bucket}", auth_server.url):
            pass
    assert info.value.status == 403
    assert_redacted(info.value)
    assert auth_server.powerless_key_id not in str(info.value)


async def test_access_denied_is_a_store_error(
    auth_server: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", auth_server.powerless_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", auth_server.powerless_secret)
    with pytest.raises(StoreError, match="access denied") as info:
        async with store_for(f"s3://{auth_server.bucket}", auth_server.url):
            pass
    err = info.value
    assert (err.operation, err.status) == ("HeadBucket", 403)
    for text in (str(err), repr(vars(err))):
        assert auth_server.powerless_secret not in text
        assert auth_server.powerless_key_id not in text
    assert err.__cause__ is None and err.__context__ is None
