"""The archive's manifest: one SQLite row per composition, one transaction per step.

The manifest never claims more than is true on disk or at the provider: a row becomes
``archived`` only after the copy is durable and verified, and ``deleted`` only after the
provider confirmed the delete. Killed at any moment, the file is consistent (WAL mode,
``synchronous=FULL``: each step is on disk when its call returns).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import attrs

if TYPE_CHECKING:  # sqlite3 loads when an archive opens its manifest, not with the client
    import sqlite3

__all__ = [
    "ARCHIVED",
    "DELETED",
    "DELETING",
    "DOWNLOADING",
    "FAILED",
    "Manifest",
    "ManifestRow",
]

T = TypeVar("T")

DOWNLOADING = "downloading"  # started; the copy is not complete (a rerun starts it again)
ARCHIVED = "archived"  # the copy is durable and verified
DELETING = "deleting"  # archived; a DELETE was sent and its answer is not recorded yet
DELETED = "deleted"  # archived, then deleted at the provider
FAILED = "failed"  # the last attempt failed; a rerun tries again

# The columns of a ManifestRow, in its order.
_SELECT_ROWS = "SELECT id, state, key, size, sha256, checksum, error FROM compositions"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS compositions (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL
        CHECK (state IN ('downloading', 'archived', 'deleting', 'deleted', 'failed')),
    key TEXT NOT NULL,
    size INTEGER,
    sha256 TEXT,
    checksum TEXT,
    error TEXT,
    updated_at TEXT NOT NULL
);
"""
_VERSION = "1"


@attrs.frozen(slots=True)
class ManifestRow:
    """What the manifest knows of one composition."""

    id: str
    state: str
    key: str
    size: int | None = None
    sha256: str | None = None
    checksum: str | None = None
    error: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat()


class Manifest:
    """The SQLite manifest of one archive destination, used with ``async with``.

    Every call runs on one worker thread of its own, so the event loop never waits on a
    disk sync, and the connection is only ever used from that thread.
    """

    def __init__(self, path: Path, *, provider: str, destination: str, readonly: bool = False):
        self.path = path
        self._provider = provider
        self._destination = destination
        self._readonly = readonly
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            raise RuntimeError("the manifest is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def __aenter__(self) -> Self:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="manifest")
        try:
            await self._run(self._open)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._close)
        finally:
            executor.shutdown(wait=False)

    # -- on the manifest's thread --------------------------------------------------------

    def _open(self) -> None:
        import sqlite3

        if self._readonly:
            if not self.path.exists():
                return  # a dry run against a destination never archived: nothing recorded
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
        # __aexit__ never runs when opening fails (a read-only destination, another
        # archive's manifest), so the connection is closed here or not at all.
        try:
            if not self._readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
            self._check_meta()
        except BaseException:
            self._close()
            raise

    def _check_meta(self) -> None:
        db = self._db
        assert db is not None
        wanted = {"version": _VERSION, "provider": self._provider}
        have = dict(db.execute("SELECT name, value FROM meta").fetchall())
        for name, value in wanted.items():
            if name in have and have[name] != value:
                raise ValueError(
                    f"the manifest {self.path} belongs to another archive "
                    f"({name} {have[name]!r}, not {value!r})"
                )
        if not self._readonly:
            with _transaction(db):
                for name, value in {**wanted, "destination": self._destination}.items():
                    db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (name, value))

    def _close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()

    def _get(self, id: str) -> ManifestRow | None:
        if self._db is None:
            return None
        row = self._db.execute(
            f"{_SELECT_ROWS} WHERE id = ?",
            (id,),
        ).fetchone()
        return None if row is None else ManifestRow(*row)

    def _write(self, id: str, state: str, key: str, **fields: Any) -> None:
        db = self._db
        assert db is not None and not self._readonly
        with _transaction(db):
            db.execute(
                "INSERT INTO compositions (id, state, key, size, sha256, checksum, error, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "state = excluded.state, key = excluded.key, size = excluded.size, "
                "sha256 = excluded.sha256, checksum = excluded.checksum, "
                "error = excluded.error, updated_at = excluded.updated_at",
                (
                    id,
                    state,
                    key,
                    fields.get("size"),
                    fields.get("sha256"),
                    fields.get("checksum"),
                    fields.get("error"),
                    _now(),
                ),
            )

    def _note(self, id: str, error: str | None) -> None:
        db = self._db
        assert db is not None and not self._readonly
        with _transaction(db):
            db.execute(
                "UPDATE compositions SET error = ?, updated_at = ? WHERE id = ?",
                (error, _now(), id),
            )

    def _count(self) -> dict[str, int]:
        if self._db is None:
            return {}
        return dict(self._db.execute("SELECT state, COUNT(*) FROM compositions GROUP BY state"))

    # -- from the event loop -------------------------------------------------------------

    async def get(self, id: str) -> ManifestRow | None:
        """The row of composition ``id``, if any."""
        return await self._run(self._get, id)  # type: ignore[no-any-return]

    async def downloading(self, id: str, key: str) -> None:
        """A copy of ``id`` to ``key`` has started (not yet complete)."""
        await self._run(self._write, id, DOWNLOADING, key)

    async def archived(
        self, id: str, key: str, *, size: int, sha256: str | None, checksum: str | None
    ) -> None:
        """The copy of ``id`` is durable and verified."""
        await self._run(
            lambda: self._write(id, ARCHIVED, key, size=size, sha256=sha256, checksum=checksum)
        )

    async def deleting(self, row: ManifestRow) -> None:
        """A DELETE of an archived composition is about to be sent."""
        await self._set_state(row, DELETING)

    async def deleted(self, row: ManifestRow) -> None:
        """The provider confirmed the delete of an archived composition."""
        await self._set_state(row, DELETED)

    async def undeleting(self, row: ManifestRow) -> None:
        """A DELETE did not happen after all: the composition is archived, not deleted."""
        await self._set_state(row, ARCHIVED)

    async def _set_state(self, row: ManifestRow, state: str) -> None:
        fields = {"size": row.size, "sha256": row.sha256, "checksum": row.checksum}
        await self._run(lambda: self._write(row.id, state, row.key, **fields))

    async def in_state(self, state: str) -> list[ManifestRow]:
        """Every row in ``state`` (the few a run killed mid-delete left as "deleting")."""
        return await self._run(self._in_state, state)  # type: ignore[no-any-return]

    def _in_state(self, state: str) -> list[ManifestRow]:
        if self._db is None:
            return []
        found = self._db.execute(
            f"{_SELECT_ROWS} WHERE state = ?",
            (state,),
        ).fetchall()
        return [ManifestRow(*row) for row in found]

    async def failed(self, id: str, key: str, error: str) -> None:
        """The copy of ``id`` failed; a rerun tries again."""
        await self._run(lambda: self._write(id, FAILED, key, error=error))

    async def note(self, id: str, error: str | None) -> None:
        """Record (or clear) an error on a row without changing its state (a failed delete)."""
        await self._run(self._note, id, error)

    async def counts(self) -> dict[str, int]:
        """How many compositions are in each state."""
        return await self._run(self._count)  # type: ignore[no-any-return]


class _transaction:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK), on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
