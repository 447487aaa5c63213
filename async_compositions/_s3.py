"""An S3 bucket (or an S3-compatible store: MinIO, R2, moto) as an archive destination.

Media is uploaded straight from the download stream: a multipart upload whose parts are
filled from the incoming chunks and sent as each fills, so at most one part (plus the
chunk in hand) is held in memory and nothing is spooled to disk. Each part carries its
SHA-256, which S3 checks on arrival; the object's composite ``ChecksumSHA256`` is what
``commit`` and ``stat`` report, read back with a HEAD, so a rerun can tell the object is
the one an earlier run stored. Objects smaller than a part are sent as one PutObject.

Credentials, region, retries and the endpoint come from aiobotocore's own resolution (the
``AWS_*`` environment variables, the shared config and credentials files, instance or
container roles); ``endpoint_url=`` overrides the endpoint (botocore also honours
``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import mimetypes
import re
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self, TypeVar, cast
from urllib.parse import urlsplit

import aiohttp
import attrs

try:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )
    from botocore.exceptions import (
        ConnectionError as BotoConnectionError,
    )
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "s3:// destinations need aiobotocore: pip install 'async-compositions[s3]'"
    ) from exc

from ._log import logger, redact_text, redact_url
from ._stores import StoredObject
from .errors import StoreError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from types_aiobotocore_s3.client import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef, HeadObjectOutputTypeDef

__all__ = ["DEFAULT_PART_SIZE", "MAX_PARTS", "MIN_PART_SIZE", "S3Store", "S3Writer"]

#: The size of each uploaded part, and so about the most a writer holds in memory.
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: S3's smallest part (all but the last part of an upload must be at least this big).
MIN_PART_SIZE = 5 * 1024 * 1024
#: S3's most parts in one upload: with 8 MiB parts, objects up to 78 GiB.
MAX_PARTS = 10_000

_T = TypeVar("_T")

# Failures to reach the endpoint or to get an answer from it (after botocore's retries).
_NETWORK_ERRORS = (BotoConnectionError, HTTPClientError, aiohttp.ClientError, OSError)

# Access key ids (long-term AKIA…, temporary ASIA…) that an error text might quote.
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{12,}\b")
# The ETag of an object completed from N parts ends in "-N".
_MULTIPART_ETAG = re.compile(r'^"?[0-9A-Fa-f]+-(\d+)"?$')
# Service error codes that mean the credentials, not the request, are at fault.
_CREDENTIAL_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AuthorizationHeaderMalformed",
    }
)


def _redact(text: str) -> str:
    return _ACCESS_KEY_ID.sub("***", redact_text(text))


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@attrs.frozen(slots=True)
class _Failure:
    """What went wrong in one S3 call, as redacted text: no SDK object is kept."""

    detail: str
    #: The service's error code ("NoSuchBucket", or "403" for a HEAD, which has no body).
    code: str = ""
    status: int | None = None
    #: "service" (S3 answered with an error), "network", "credentials" or "other".
    kind: str = "other"

    @classmethod
    def of_client_error(cls, exc: ClientError) -> _Failure:
        response: Any = exc.response
        error = response.get("Error") or {}
        meta = response.get("ResponseMetadata") or {}
        code = str(error.get("Code") or "")
        message = str(error.get("Message") or "")
        status = meta.get("HTTPStatusCode")
        status = status if isinstance(status, int) else None
        request_id = str(meta.get("RequestId") or "")
        detail = code or "error"
        if status is not None and code != str(status):
            detail += f" (HTTP {status})"
        if message and message != code:
            detail += f": {message}"
        if request_id:
            detail += f" (request id {request_id})"
        return cls(_redact(detail), code, status, "service")

    @classmethod
    def of_exception(cls, exc: BaseException) -> _Failure:
        text = str(exc)
        detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            kind = "credentials"
        elif isinstance(exc, _NETWORK_ERRORS):
            kind = "network"
        else:
            kind = "other"
        return cls(_redact(detail), kind=kind)

    @property
    def not_found(self) -> bool:
        return self.status == 404 or self.code in ("NoSuchKey", "NoSuchBucket", "NoSuchUpload")


async def _attempt(call: Callable[[], Awaitable[_T]]) -> _T | _Failure:
    """Run one SDK call; a failure comes back as a redacted ``_Failure``, never raised.

    Returning from the ``except`` clause is what keeps the SDK's exception (whose
    attributes may hold the request) out of any ``StoreError`` raised afterwards, which
    then has neither ``__cause__`` nor ``__context__``.
    """
    try:
        return await call()
    except ClientError as exc:
        return _Failure.of_client_error(exc)
    except (BotoCoreError, aiohttp.ClientError, OSError, ValueError) as exc:
        return _Failure.of_exception(exc)


class _PartBody(io.RawIOBase):
    """A seekable, read-only file over a part's buffer: sent without copying it.

    aiohttp warns about (and blocks the loop on) large ``bytes`` bodies; a file is read in
    small chunks instead, and botocore rewinds it to resend a part on a retry.
    """

    def __init__(self, data: bytearray) -> None:
        super().__init__()
        self._view = memoryview(data)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        # RawIOBase.read would fill a temporary bytearray and copy it into bytes: slice
        # straight into the bytes instead (one allocation of the size asked for).
        end = len(self._view) if size is None or size < 0 else self._pos + size
        data = bytes(self._view[self._pos : end])
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        n = max(0, min(len(target), len(self._view) - self._pos))
        target[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def __len__(self) -> int:
        return len(self._view)

    def release(self) -> None:
        """Let go of the buffer, even if the HTTP stack keeps this object a while longer."""
        with contextlib.suppress(BufferError):
            self._view.release()
        self._view = memoryview(b"")
        self._pos = 0


class S3Store:
    """Archive media under ``s3://bucket/prefix``; use with ``async with``.

    Opening the store creates the aiobotocore client (in the running loop) and checks the
    bucket with a HeadBucket, so a missing bucket or rejected credentials fail before
    anything is downloaded. The credentials need ``s3:ListBucket`` (HeadBucket, and a
    404 rather than a 403 for a missing key), ``s3:GetObject`` (HeadObject),
    ``s3:PutObject`` and ``s3:AbortMultipartUpload``.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        session: AioSession | None = None,
        client_config: AioConfig | None = None,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 destination needs a bucket name")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        #: The endpoint given, or None for botocore's own (AWS, or AWS_ENDPOINT_URL[_S3]).
        self.endpoint_url = endpoint_url
        self.part_size = part_size
        self.description = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._session = session
        self._client_config = client_config
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._client: S3Client | None = None
        # Multipart uploads started and not yet completed or aborted (upload id: object
        # key): any left when the store closes, a writer's failed abort say, are aborted.
        self._uploads: dict[str, str] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        session: AioSession | None = None,
        client_config: AioConfig | None = None,
    ) -> S3Store:
        """The store ``s3://bucket`` or ``s3://bucket/prefix`` names."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3://bucket/prefix URL: {redact_url(url)!r}")
        if parts.query or parts.fragment or "@" in parts.netloc or ":" in parts.netloc:
            raise ValueError(f"an s3:// URL names a bucket and a prefix only: {redact_url(url)!r}")
        return cls(
            parts.netloc,
            parts.path,
            endpoint_url=endpoint_url,
            part_size=part_size,
            session=session,
            client_config=client_config,
        )

    def __repr__(self) -> str:
        return f"S3Store({self.description!r})"

    # -- opening and closing --------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._exit_stack is not None:
            raise RuntimeError(f"{self!r} is already open")
        stack = contextlib.AsyncExitStack()
        try:
            session = self._session if self._session is not None else AioSession()
            client = await _attempt(
                lambda: stack.enter_async_context(
                    session.create_client(
                        "s3", endpoint_url=self.endpoint_url, config=self._client_config
                    )
                )
            )
            if isinstance(client, _Failure):
                raise self._error("open", None, client)
            checked = await _attempt(lambda: client.head_bucket(Bucket=self.bucket))
            if isinstance(checked, _Failure):
                raise self._error("HeadBucket", None, checked)
        except BaseException:
            await stack.aclose()
            raise
        self._exit_stack, self._client = stack, client
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._exit_stack = self._exit_stack, None
        if stack is None:
            return
        try:
            for upload_id, object_key in list(self._uploads.items()):
                await self._abort_upload(object_key, upload_id)
        finally:
            self._client = None
            await stack.aclose()

    @property
    def client(self) -> S3Client:
        """The open aiobotocore S3 client."""
        if self._client is None:
            raise RuntimeError(f"{self!r} is not open: use it with 'async with'")
        return self._client

    # -- the Store protocol ---------------------------------------------------------------

    def object_key(self, key: str) -> str:
        """The S3 object key for a store key: ``prefix/key``."""
        segments = key.split("/")
        if not key or any(s in ("", ".", "..") for s in segments):
            raise ValueError(f"not a relative key of '/'-separated names: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def url(self, key: str) -> str:
        """``s3://bucket/prefix/key``."""
        return f"s3://{self.bucket}/{self.object_key(key)}"

    async def stat(self, key: str) -> StoredObject | None:
        """Size and composite ``ChecksumSHA256`` from a HeadObject, or None if missing."""
        head = await self._head(key)
        if head is None:
            return None
        return StoredObject(head["ContentLength"], None, _checksum_of(head))

    def writer(self, key: str) -> S3Writer:
        self.client  # noqa: B018 - fail now, not at the first write, if the store is not open
        return S3Writer(self, key)

    # -- helpers --------------------------------------------------------------------------

    async def _head(self, key: str) -> HeadObjectOutputTypeDef | None:
        object_key = self.object_key(key)
        s3 = self.client
        head = await _attempt(
            lambda: s3.head_object(Bucket=self.bucket, Key=object_key, ChecksumMode="ENABLED")
        )
        if isinstance(head, _Failure):
            if head.status == 404:
                return None
            raise self._error("HeadObject", key, head)
        return head

    async def _abort_upload(self, object_key: str, upload_id: str) -> bool:
        """Abort a multipart upload; on failure log it, and keep it to retry at close."""
        s3 = self.client
        aborted = await _attempt(
            lambda: s3.abort_multipart_upload(
                Bucket=self.bucket, Key=object_key, UploadId=upload_id
            )
        )
        if isinstance(aborted, _Failure) and not aborted.not_found:
            logger.warning(
                "could not abort the multipart upload %s of s3://%s/%s (its parts stay "
                "billed until aborted; an AbortIncompleteMultipartUpload lifecycle rule "
                "removes them): %s",
                upload_id,
                self.bucket,
                object_key,
                aborted.detail,
            )
            return False
        self._uploads.pop(upload_id, None)
        return True

    def _error(self, operation: str, key: str | None, failure: _Failure) -> StoreError:
        where = self.url(key) if key is not None else self.description
        if failure.kind == "credentials":
            what = (
                "no usable AWS credentials were found (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or run with an instance or task role)"
            )
        elif failure.kind == "network":
            what = "the S3 endpoint could not be reached or did not answer"
        elif failure.code == "NoSuchBucket" or (operation == "HeadBucket" and failure.not_found):
            what = f"bucket {self.bucket!r} does not exist"
        elif failure.code in _CREDENTIAL_CODES:
            what = "the credentials were rejected"
        elif failure.status == 403 or failure.code == "AccessDenied":
            what = "access denied (the credentials were rejected or lack the permission)"
        else:
            what = "the request failed"
        message = f"{operation} for {where}: {what}: {failure.detail}"
        return StoreError(
            message,
            key=key,
            operation=operation,
            code=failure.code,
            status=failure.status,
            cause=failure.detail,
        )


def _checksum_of(head: HeadObjectOutputTypeDef) -> str | None:
    """The object's ``ChecksumSHA256`` as S3 documents it: ``base64`` or ``base64-N``.

    A multipart object's checksum is a checksum of its parts' checksums, which S3 shows
    with the part count appended; some S3-compatible servers (moto) omit the count on a
    HEAD, so it is restored from the ETag, which ends in the same ``-N``.
    """
    checksum = head.get("ChecksumSHA256")
    if not checksum:
        return None
    if "-" not in checksum and head.get("ChecksumType") != "FULL_OBJECT":
        match = _MULTIPART_ETAG.match(head.get("ETag", ""))
        if match:
            checksum = f"{checksum}-{match.group(1)}"
    return checksum


class S3Writer:
    """One object being uploaded; nothing is visible under its key until ``commit``.

    Chunks are copied into a part buffer of ``part_size`` bytes; a full part is hashed
    (in a worker thread) and uploaded before ``write`` returns, which holds the download
    back meanwhile, and then let go. The multipart upload is created with the first full
    part, so an object smaller than a part is a single PutObject. After a failed ``write``
    or ``commit`` only ``restart`` or ``abort`` may follow.
    """

    def __init__(self, store: S3Store, key: str) -> None:
        self.store = store
        self.key = key
        self.object_key = store.object_key(key)
        self._content_type = mimetypes.guess_type(key)[0]
        self._closed = False
        self._reset()

    def _reset(self) -> None:
        self._buffer: bytearray | None = None  # the part being filled, part_size long
        self._filled = 0
        self._hash = hashlib.sha256()  # of the parts handed to S3 so far
        self._size = 0
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._part_digests: list[bytes] = []
        self._broken = False

    @property
    def buffered(self) -> int:
        """Bytes held in memory, waiting to be uploaded (never more than ``part_size``)."""
        return self._filled

    @property
    def size(self) -> int:
        """Bytes written since the start (or the last ``restart``)."""
        return self._size

    @property
    def upload_id(self) -> str | None:
        """The multipart upload in progress, if one was started."""
        return self._upload_id

    async def write(self, data: bytes) -> None:
        self._check_usable()
        view = memoryview(data).cast("B")
        self._size += len(view)
        part_size = self.store.part_size
        while view:
            if self._buffer is None:
                self._buffer = bytearray(part_size)
                self._filled = 0
            n = min(len(view), part_size - self._filled)
            self._buffer[self._filled : self._filled + n] = view[:n]
            self._filled += n
            view = view[n:]
            if self._filled == part_size:
                await self._upload_part()

    async def restart(self) -> None:
        """Abort the multipart upload (if any) and start again from nothing."""
        if self._closed:
            raise StoreError(f"the writer for {self.store.url(self.key)} is closed", key=self.key)
        upload_id = self._upload_id
        self._reset()
        if upload_id is not None:
            # A failure is logged and retried when the store closes; the new upload is
            # independent of the old one, so the transfer can go on.
            await self.store._abort_upload(self.object_key, upload_id)

    async def commit(self) -> StoredObject:
        """Upload the last part, complete the upload, and verify the object with a HEAD."""
        self._check_usable()
        if self._upload_id is None:
            operation, expected = "PutObject", await self._put()
        else:
            if self._filled:
                await self._upload_part()
            operation, expected = "CompleteMultipartUpload", await self._complete()
        stored = await self.store.stat(self.key)
        where = self.store.url(self.key)
        if stored is None or stored.size != self._size:
            found = "nothing" if stored is None else f"{stored.size} bytes"
            raise StoreError(
                f"{operation} for {where} succeeded, but a HEAD finds {found}, "
                f"not the {self._size} bytes written",
                key=self.key,
                operation="HeadObject",
            )
        if stored.checksum is not None and stored.checksum != expected:
            raise StoreError(
                f"{operation} for {where} succeeded, but S3 reports ChecksumSHA256 "
                f"{stored.checksum}, not {expected} as computed from the bytes written",
                key=self.key,
                operation="HeadObject",
                code="ChecksumMismatch",
            )
        self._closed = True
        return StoredObject(self._size, self._hash.hexdigest(), stored.checksum)

    async def abort(self) -> None:
        """Abort the multipart upload so no parts remain; S3 failures are not raised.

        The caller is usually handling another error already: a failed abort is logged
        with the upload id, and retried when the store closes.
        """
        if self._closed:
            return
        self._closed = True
        upload_id = self._upload_id
        self._buffer = None
        self._filled = 0
        self._upload_id = None
        if upload_id is not None:
            await self.store._abort_upload(self.object_key, upload_id)

    # -- helpers --------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._closed:
            raise StoreError(f"the writer for {self.store.url(self.key)} is closed", key=self.key)
        if self._broken:
            raise StoreError(
                f"an earlier upload for {self.store.url(self.key)} failed: restart() or "
                "abort() the writer",
                key=self.key,
            )

    def _take_buffer(self) -> bytearray:
        """The filled part of the buffer, trimmed in place (no copy); the buffer is let go."""
        data = self._buffer if self._buffer is not None else bytearray()
        del data[self._filled :]
        self._buffer = None
        self._filled = 0
        return data

    async def _digest(self, data: bytearray) -> bytes:
        """Add a part to the object's hash and return the part's own SHA-256.

        hashlib releases the GIL on large inputs: hashing in a thread keeps the event
        loop (the downloads) running meanwhile.
        """
        whole = self._hash

        def digest() -> bytes:
            whole.update(data)
            return hashlib.sha256(data).digest()

        return await asyncio.to_thread(digest)

    def _extra(self) -> dict[str, Any]:
        return {"ContentType": self._content_type} if self._content_type else {}

    async def _put(self) -> str:
        """Send the whole (small or empty) object as one PutObject; its ChecksumSHA256."""
        self._broken = True  # until the object is stored
        data = self._take_buffer()
        await self._digest(data)
        checksum = _b64(self._hash.digest())
        body = _PartBody(data)
        del data
        s3 = self.store.client
        try:
            done = await _attempt(
                lambda: s3.put_object(
                    Bucket=self.store.bucket,
                    Key=self.object_key,
                    Body=cast("IO[bytes]", body),
                    ContentLength=len(body),
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=checksum,
                    **self._extra(),
                )
            )
        finally:
            body.release()
        if isinstance(done, _Failure):
            raise self.store._error("PutObject", self.key, done)
        return checksum

    async def _complete(self) -> str:
        """Complete the multipart upload; its composite ChecksumSHA256 (``base64-N``)."""
        self._broken = True  # until the object is stored
        s3 = self.store.client
        upload_id = self._upload_id
        assert upload_id is not None
        parts = self._parts
        done = await _attempt(
            lambda: s3.complete_multipart_upload(
                Bucket=self.store.bucket,
                Key=self.object_key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        )
        if isinstance(done, _Failure):
            raise self.store._error("CompleteMultipartUpload", self.key, done)
        self.store._uploads.pop(upload_id, None)
        self._upload_id = None
        composite = hashlib.sha256(b"".join(self._part_digests)).digest()
        return f"{_b64(composite)}-{len(parts)}"

    async def _upload_part(self) -> None:
        s3 = self.store.client
        number = len(self._parts) + 1
        self._broken = True  # until the part is stored
        if number > MAX_PARTS:
            raise StoreError(
                f"{self.store.url(self.key)} would need more than {MAX_PARTS} parts of "
                f"{self.store.part_size} bytes: use a larger part_size",
                key=self.key,
                operation="UploadPart",
            )
        if self._upload_id is None:
            created = await _attempt(
                lambda: s3.create_multipart_upload(
                    Bucket=self.store.bucket,
                    Key=self.object_key,
                    ChecksumAlgorithm="SHA256",
                    **self._extra(),
                )
            )
            if isinstance(created, _Failure):
                raise self.store._error("CreateMultipartUpload", self.key, created)
            self._upload_id = created["UploadId"]
            self.store._uploads[self._upload_id] = self.object_key
        upload_id = self._upload_id
        data = self._take_buffer()
        checksum = _b64(await self._digest(data))
        body = _PartBody(data)
        del data  # only the body refers to the part now; released once it is sent
        try:
            uploaded = await _attempt(
                lambda: s3.upload_part(
                    Bucket=self.store.bucket,
                    Key=self.object_key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=cast("IO[bytes]", body),
                    ContentLength=len(body),
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=checksum,
                )
            )
        finally:
            body.release()
        if isinstance(uploaded, _Failure):
            raise self.store._error("UploadPart", self.key, uploaded)
        self._parts.append(
            {"PartNumber": number, "ETag": uploaded["ETag"], "ChecksumSHA256": checksum}
        )
        self._part_digests.append(base64.b64decode(checksum))
        self._broken = False
