"""Where an archive puts media: a directory on disk, or an S3 bucket (``_s3``)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, Self

import attrs

__all__ = [
    "DirectoryStore",
    "Store",
    "StoredObject",
    "Writer",
    "file_writer",
    "fsync_directory",
    "open_store",
]


@attrs.frozen(slots=True)
class StoredObject:
    """What a store holds under a key: its size, and the checksum it can vouch for."""

    size: int
    #: Hex SHA-256 of the whole object, where the store keeps one (None otherwise).
    sha256: str | None = None
    #: The store's own checksum, opaque (S3's ``ChecksumSHA256``, say), None if none.
    checksum: str | None = None


class Writer(Protocol):
    """One object being written; nothing is visible under its key until ``commit``."""

    async def write(self, data: bytes) -> None:
        """Append a chunk."""
        ...

    async def restart(self) -> None:
        """Discard everything written so far (the media host restarted the transfer)."""
        ...

    async def commit(self) -> StoredObject:
        """Make the object durable and visible under its key; return what is stored."""
        ...

    async def abort(self) -> None:
        """Leave nothing behind: no temporary file, no unfinished upload."""
        ...


class Store(Protocol):
    """A destination for archived media, used with ``async with``."""

    #: How the store is shown to people (``/srv/archive``, ``s3://bucket/prefix``).
    description: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def stat(self, key: str) -> StoredObject | None:
        """What is stored under ``key``, or None."""
        ...

    def writer(self, key: str) -> Writer:
        """A writer for ``key`` (a relative path with ``/`` separators)."""
        ...


def fsync_directory(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (and Windows) cannot fsync a directory
    finally:
        os.close(fd)


class _FileWriter:
    """Writes to a hidden temporary file beside the final path; commit is durable."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.part")
        self._file: BinaryIO | None = None
        self._size = 0
        self._hash = hashlib.sha256()

    async def write(self, data: bytes) -> None:
        # Written on the loop: a chunk lands in the page cache in microseconds, and a read
        # that waits for a thread would let aiohttp drop the data already received when the
        # connection breaks. The slow part, the sync, runs in a thread at commit.
        if self._file is None:
            self._file = self._open()
        self._file.write(data)
        self._hash.update(data)
        self._size += len(data)

    def _open(self) -> BinaryIO:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        return self.tmp.open("wb")

    async def restart(self) -> None:
        if self._file is not None:
            self._truncate()
        self._size = 0
        self._hash = hashlib.sha256()

    def _truncate(self) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()

    async def commit(self) -> StoredObject:
        if self._file is None:
            self._file = self._open()  # an empty file is a file too
        await asyncio.to_thread(self._durable_rename)
        return StoredObject(self._size, self._hash.hexdigest())

    def _durable_rename(self) -> None:
        file = self._file
        assert file is not None
        file.flush()
        os.fsync(file.fileno())
        file.close()
        os.replace(self.tmp, self.final)
        fsync_directory(self.final.parent)

    async def abort(self) -> None:
        file, self._file = self._file, None
        await asyncio.to_thread(self._remove, file)

    def _remove(self, file: BinaryIO | None) -> None:
        if file is not None:
            file.close()
        self.tmp.unlink(missing_ok=True)


def file_writer(path: Path) -> Writer:
    """A writer for one file: a hidden temporary file beside it, renamed when complete."""
    return _FileWriter(path)


class DirectoryStore:
    """Media files under a local directory, written durably (fsync, rename, fsync dir)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    async def __aenter__(self) -> Self:
        if not await asyncio.to_thread(self.root.is_dir):
            raise FileNotFoundError(f"archive directory does not exist: {self.root}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def path(self, key: str) -> Path:
        """The file a key names."""
        return self.root.joinpath(*key.split("/"))

    async def stat(self, key: str) -> StoredObject | None:
        try:
            size = (await asyncio.to_thread(self.path(key).stat)).st_size
        except FileNotFoundError:
            return None
        return StoredObject(size)

    def writer(self, key: str) -> Writer:
        return _FileWriter(self.path(key))

    async def remove_leftovers(self, key: str) -> None:
        """Delete temporary files an interrupted run left beside ``key``."""
        final = self.path(key)

        def remove() -> None:
            if final.parent.is_dir():
                for stale in final.parent.glob(f".{final.name}.*.part"):
                    stale.unlink(missing_ok=True)

        await asyncio.to_thread(remove)


def open_store(dest: str | os.PathLike[str], *, s3_endpoint_url: str | None = None) -> Store:
    """The store a destination names: ``s3://bucket/prefix``, or a directory path."""
    if isinstance(dest, str) and dest.startswith("s3://"):
        from ._s3 import S3Store  # aiobotocore is an extra: loaded only for s3:// destinations

        store: Store = S3Store.from_url(dest, endpoint_url=s3_endpoint_url)
        return store
    if isinstance(dest, str | os.PathLike):
        return DirectoryStore(Path(dest))
    raise TypeError(
        f"dest must be a directory path or 's3://bucket/prefix', not {type(dest).__name__}"
    )
