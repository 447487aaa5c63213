"""archive(): stream the listing, copy each composition's media durably, then (maybe) delete.

The order of a composition's steps is what keeps media safe: download into a temporary
object, verify the byte count against Content-Length and the composition's own size, make
it durable (fsync, rename, fsync the directory; or complete the multipart upload), record
it as archived in the manifest, and only then, if asked, delete it at the provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import string
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs

from ._download import DEFAULT_CHUNK_SIZE, download_media
from ._manifest import ARCHIVED, DELETED, DELETING, Manifest, ManifestRow
from ._stores import DirectoryStore, Store
from ._transport import Transport
from .archive import (
    ArchiveEvent,
    ArchiveFailure,
    ArchiveFinished,
    ArchiveReport,
    ArchiveStarted,
    CompositionArchived,
    CompositionDeleted,
    CompositionFailed,
    CompositionLeftAlone,
    CompositionSkipped,
    TransferProgress,
    TransferStarted,
)
from .errors import APIConnectionError, CompositionsError, DownloadError, NotFoundError
from .status import CompositionStatus

__all__ = [
    "DEFAULT_NAME",
    "MANIFEST_NAME",
    "ArchivePlan",
    "CompositionFacts",
    "NameTemplate",
    "run_archive",
]

DEFAULT_NAME = "{id}{ext}"
#: The manifest's file name inside a directory destination, per provider.
MANIFEST_NAME = ".async-compositions-{provider}.sqlite3"
_FIELDS = frozenset({"id", "ext", "date_created", "room", "session", "provider"})

Progress = Callable[[ArchiveEvent], object]


@attrs.frozen(slots=True)
class CompositionFacts:
    """What the archive needs of a composition, whichever provider it comes from."""

    id: str
    status: CompositionStatus | None
    provider: str
    format: str | None
    date_created: datetime | None
    room: str | None
    session: str | None
    #: Acceptable byte counts as (expected, tolerance) pairs; empty when the provider
    #: states no size. Telnyx gives megabytes with a few decimals, so there is slack.
    sizes: tuple[tuple[int, int], ...] = ()
    size: int | None = None

    def size_matches(self, nbytes: int) -> bool:
        """Whether ``nbytes`` is the composition's size, as far as its precision allows."""
        return not self.sizes or any(abs(nbytes - want) <= slack for want, slack in self.sizes)


class NameTemplate:
    """Where a composition goes under the destination: ``{id}{ext}`` by default.

    Fields: ``id``, ``ext`` (``.mp4``), ``date_created`` (an aware UTC datetime, so
    ``{date_created:%Y/%m/%d}`` works), ``room``, ``session`` and ``provider``. ``/``
    separates directories; the name must contain ``{id}`` so two compositions never share
    a file, and may not climb out of the destination.
    """

    def __init__(self, template: object) -> None:
        if not isinstance(template, str):
            raise TypeError(f"name must be a str template, not {type(template).__name__}")
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
        except ValueError as exc:
            raise ValueError(f"name {template!r} is not a valid template ({exc})") from None
        unknown = {f.split(".")[0].split("[")[0] for f in fields} - _FIELDS
        if unknown:
            raise ValueError(
                f"name {template!r} uses unknown fields {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_FIELDS))}"
            )
        if "id" not in fields:
            raise ValueError(f"name {template!r} must contain {{id}}, so names never collide")
        self.template = template
        sample = CompositionFacts(
            id="x",
            status=None,
            provider="twilio",
            format="mp4",
            date_created=datetime(2024, 1, 2, tzinfo=UTC),
            room="r",
            session="s",
        )
        self.render(sample)  # a template that cannot render fails now, not per composition

    def render(self, facts: CompositionFacts) -> str:
        """The key of a composition, checked to stay inside the destination."""
        values = {
            "id": facts.id,
            "ext": f".{facts.format}" if facts.format else ".media",
            "date_created": facts.date_created or datetime(1970, 1, 1, tzinfo=UTC),
            "room": facts.room or "unknown-room",
            "session": facts.session or "unknown-session",
            "provider": facts.provider,
        }
        try:
            key = self.template.format(**values)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise ValueError(f"name {self.template!r} does not render ({exc})") from None
        parts = key.split("/")
        if key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"name {self.template!r} gave {key!r}, which leaves the destination")
        return key


@attrs.frozen(slots=True, kw_only=True)
class ArchivePlan:
    """Everything a run needs, checked before anything is sent."""

    store: Store
    manifest_path: Path | None
    provider: str
    name: NameTemplate
    concurrency: int
    delete_after: bool
    dry_run: bool
    progress: Progress | None
    chunk_size: int = DEFAULT_CHUNK_SIZE


class _Tally:
    """What the run has done so far; becomes the report."""

    def __init__(self) -> None:
        self.archived: list[str] = []
        self.skipped: list[str] = []
        self.deleted: list[str] = []
        self.left_alone: list[str] = []
        self.failed: list[ArchiveFailure] = []
        self.bytes = 0


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _completely(step: Coroutine[Any, Any, None]) -> None:
    """Run a short bookkeeping step to its end even if the run is stopped meanwhile.

    A manifest write already handed to its thread completes anyway; finishing the step
    keeps the report (and what the CLI prints on Ctrl-C) in line with the manifest.
    """
    task = asyncio.ensure_future(step)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


# What a composition's steps may fail with, short of the run itself being stopped.
_FAILURES = (CompositionsError, OSError, ValueError)


class _Run:
    """One archive run over one listing."""

    def __init__(
        self,
        *,
        plan: ArchivePlan,
        manifest: Manifest | None,
        transport: Transport,
        facts: Callable[[Any], CompositionFacts],
        media_url: Callable[[str], Awaitable[Any]],
        delete: Callable[[str], Awaitable[None]],
        fetch: Callable[[str], Awaitable[Any]],
        media_timeout: aiohttp.ClientTimeout,
    ) -> None:
        self.plan = plan
        self.fetch = fetch
        self.manifest = manifest
        self.transport = transport
        self.facts = facts
        self.media_url = media_url
        self.delete = delete
        self.media_timeout = media_timeout
        self.tally = _Tally()

    async def emit(self, event: ArchiveEvent) -> None:
        progress = self.plan.progress
        if progress is not None:
            result = progress(event)
            if inspect.isawaitable(result):
                await result

    async def fail(self, id: str, stage: str, error: BaseException, key: str | None) -> None:
        failure = ArchiveFailure(id, stage, _describe(error), error)
        self.tally.failed.append(failure)
        if self.manifest is not None and key is not None and stage != "delete":
            await self.manifest.failed(id, key, failure.message)
        await self.emit(CompositionFailed(failure))

    # -- one composition ------------------------------------------------------------------

    async def one(self, model: Any) -> None:
        facts = self.facts(model)
        id = facts.id
        if facts.status is not CompositionStatus.COMPLETED:
            self.tally.left_alone.append(id)
            await self.emit(CompositionLeftAlone(id, facts.status.value if facts.status else None))
            return
        try:
            key = self.plan.name.render(facts)
        except ValueError as exc:
            await self.fail(id, "store", exc, None)
            return
        row = None if self.manifest is None else await self.manifest.get(id)
        if row is not None and row.state in (ARCHIVED, DELETING, DELETED):
            try:
                kept = await self.still_there(row)
            except _FAILURES as exc:
                await self.fail(id, "verify", exc, None)
                return
            if kept:
                self.tally.skipped.append(id)
                await self.emit(CompositionSkipped(id, row.key))
                if self.plan.delete_after and row.state in (ARCHIVED, DELETING):
                    if self.plan.dry_run:
                        self.tally.deleted.append(id)
                    else:
                        await self.remove(row)
                return
        if self.plan.dry_run:
            self.tally.archived.append(id)
            if self.plan.delete_after:
                self.tally.deleted.append(id)
            return
        archived = await self.copy(facts, key)
        if archived is not None and self.plan.delete_after:
            await self.remove(archived)

    async def still_there(self, row: ManifestRow) -> bool:
        """An earlier run's copy is where it recorded it, the same size (and checksum)."""
        stored = await self.plan.store.stat(row.key)
        if stored is None or stored.size != row.size:
            return False
        return not (row.checksum and stored.checksum and row.checksum != stored.checksum)

    async def copy(self, facts: CompositionFacts, key: str) -> ManifestRow | None:
        """Download, verify, make durable and record one composition; None if it failed."""
        assert self.manifest is not None
        id = facts.id
        store = self.plan.store
        if isinstance(store, DirectoryStore):
            await store.remove_leftovers(key)  # a run killed mid-copy left a temporary file
        await self.manifest.downloading(id, key)
        await self.emit(TransferStarted(id, key, facts.size))
        writer = store.writer(key)
        stage = "download"
        try:
            url = await self.media_url(id)
            transfer = await download_media(
                self.transport,
                url,
                writer,
                progress=self.progress_of(id),
                chunk_size=self.plan.chunk_size,
                timeout=self.media_timeout,
                renew=lambda: self.media_url(id),
            )
            stage = "verify"
            if not facts.size_matches(transfer.size):
                raise DownloadError(
                    f"{transfer.size} bytes arrived, but composition {id} is "
                    f"{facts.size} bytes (the media is not the one the provider describes)",
                    expected=facts.size,
                    received=transfer.size,
                )
            stage = "store"
            stored = await writer.commit()
        except _FAILURES as exc:
            await writer.abort()
            await self.fail(id, stage, exc, key)
            return None
        except BaseException:
            # Stopped (cancelled, Ctrl-C): leave nothing half-written; the manifest keeps
            # the row as "downloading", which a rerun starts again.
            await asyncio.shield(writer.abort())
            raise
        row = ManifestRow(id, ARCHIVED, key, stored.size, stored.sha256, stored.checksum)

        async def record() -> None:
            await self.manifest.archived(  # type: ignore[union-attr]
                id, key, size=stored.size, sha256=stored.sha256, checksum=stored.checksum
            )
            self.tally.archived.append(id)
            self.tally.bytes += stored.size
            await self.emit(CompositionArchived(id, key, stored.size, stored.sha256 or ""))

        await _completely(record())
        return row

    async def remove(self, row: ManifestRow) -> None:
        """Delete at the provider, only with a durable, verified copy recorded."""
        assert self.manifest is not None
        try:
            if not await self.still_there(row):
                raise DownloadError(
                    f"the copy of {row.id} at {row.key} is missing or changed; not deleting"
                )
            # Recorded first: a run killed with the DELETE in flight leaves "deleting",
            # which the next run settles (see settle_interrupted_deletes).
            await self.manifest.deleting(row)
            # Already gone at the provider (NotFoundError): the copy is what remains.
            with contextlib.suppress(NotFoundError):
                await self.delete(row.id)
        except _FAILURES as exc:
            # The copy is safe; the next run tries the delete again. A DELETE that may
            # have reached the provider stays "deleting", for the next run to settle.
            if not (isinstance(exc, APIConnectionError) and exc.may_have_been_processed):
                await _completely(self.manifest.undeleting(row))
            await self.manifest.note(row.id, f"delete failed: {_describe(exc)}")
            await self.fail(row.id, "delete", exc, row.key)
            return

        async def record() -> None:
            await self.manifest.deleted(row)  # type: ignore[union-attr]
            self.tally.deleted.append(row.id)
            await self.emit(CompositionDeleted(row.id))

        await _completely(record())

    async def settle_interrupted_deletes(self) -> None:
        """Rows an earlier run left as "deleting": was the composition deleted or not?

        A deleted composition is no longer listed, so the listing would never revisit
        them; ask the provider about each one instead (there are at most a few).
        """
        if self.manifest is None or self.plan.dry_run:
            return
        for row in await self.manifest.in_state(DELETING):
            try:
                model = await self.fetch(row.id)
            except NotFoundError:
                model = None
            except _FAILURES:
                continue  # left as it is; the next run asks again
            status = None if model is None else self.facts(model).status
            if model is None or status is CompositionStatus.DELETED:
                await _completely(self.manifest.deleted(row))
            elif not self.plan.delete_after:
                await _completely(self.manifest.undeleting(row))
            # else: still there, and the listing will reach it and delete it again.

    def progress_of(self, id: str) -> Callable[[int, int | None], Awaitable[None]] | None:
        if self.plan.progress is None:
            return None

        async def report(done: int, total: int | None) -> None:
            await self.emit(TransferProgress(id, done, total))

        return report

    # -- the whole run --------------------------------------------------------------------

    async def run(self, listing: AsyncIterator[Any]) -> ArchiveReport:
        plan = self.plan
        manifest = None if plan.manifest_path is None else str(plan.manifest_path)
        await self.emit(ArchiveStarted(plan.store.description, manifest, plan.dry_run))
        await self.settle_interrupted_deletes()
        # A bounded queue between the listing and the workers: memory does not grow with the
        # number of compositions, and the listing prefetches while downloads run.
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=plan.concurrency)
        done = object()

        async def work() -> None:
            while (model := await queue.get()) is not done:
                await self.one(model)

        workers = [asyncio.create_task(work()) for _ in range(plan.concurrency)]
        try:
            async with contextlib.aclosing(listing) as items:  # type: ignore[type-var]
                async for model in items:
                    await queue.put(model)
            for _ in workers:
                await queue.put(done)
            await asyncio.gather(*workers)
        except BaseException:
            # The listing failed, or the run was stopped: stop every download in flight
            # (each removes its temporary object) before the error goes on.
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        tally = self.tally
        report = ArchiveReport(
            destination=plan.store.description,
            manifest=manifest,
            dry_run=plan.dry_run,
            archived=tuple(tally.archived),
            skipped=tuple(tally.skipped),
            deleted=tuple(tally.deleted),
            left_alone=tuple(tally.left_alone),
            failed=tuple(tally.failed),
            bytes=tally.bytes,
        )
        await self.emit(ArchiveFinished(report))
        return report


async def run_archive(
    plan: ArchivePlan,
    *,
    listing: Callable[[], AsyncIterator[Any]],
    transport: Transport,
    facts: Callable[[Any], CompositionFacts],
    media_url: Callable[[str], Awaitable[Any]],
    delete: Callable[[str], Awaitable[None]],
    fetch: Callable[[str], Awaitable[Any]],
    media_timeout: aiohttp.ClientTimeout,
) -> ArchiveReport:
    """Open the store and the manifest, then archive everything the listing yields."""
    async with plan.store:
        manifest = None
        if plan.manifest_path is not None:
            manifest = Manifest(
                plan.manifest_path,
                provider=plan.provider,
                destination=plan.store.description,
                readonly=plan.dry_run,
            )
        run = _Run(
            plan=plan,
            manifest=manifest,
            transport=transport,
            facts=facts,
            media_url=media_url,
            delete=delete,
            fetch=fetch,
            media_timeout=media_timeout,
        )
        if manifest is None:
            return await run.run(listing())
        async with manifest:
            return await run.run(listing())


def manifest_path(dest_store: Store, manifest: object, provider: str) -> Path:
    """Where the manifest lives: as given, else inside a directory destination."""
    if manifest is not None:
        if not isinstance(manifest, str | os.PathLike):
            raise TypeError(f"manifest must be a path, not {type(manifest).__name__}")
        return Path(manifest)
    if isinstance(dest_store, DirectoryStore):
        return dest_store.root / MANIFEST_NAME.format(provider=provider)
    raise ValueError("an s3:// destination needs manifest= (a local path for the SQLite manifest)")


def check_filters_status(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The listing's filters, ``status`` defaulting to completed."""
    chosen = dict(filters)
    chosen.setdefault("status", "completed")
    return chosen
