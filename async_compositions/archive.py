"""What ``compositions.archive()`` reports: the final ArchiveReport and its progress events."""

from __future__ import annotations

from typing import TypeAlias

import attrs

__all__ = [
    "ArchiveEvent",
    "ArchiveFailure",
    "ArchiveFinished",
    "ArchiveReport",
    "ArchiveStarted",
    "CompositionArchived",
    "CompositionDeleted",
    "CompositionFailed",
    "CompositionLeftAlone",
    "CompositionSkipped",
    "TransferProgress",
    "TransferStarted",
]


@attrs.frozen(slots=True)
class ArchiveFailure:
    """One composition the run could not archive (or delete), and why."""

    id: str
    #: Where it failed: "download", "verify", "store" or "delete".
    stage: str
    #: The error's text (never a credential).
    message: str
    error: BaseException = attrs.field(eq=False, repr=False)


@attrs.frozen(slots=True, kw_only=True)
class ArchiveReport:
    """What one run did. With ``dry_run`` the lists say what a real run would do."""

    destination: str
    manifest: str | None
    dry_run: bool = False
    #: Copied, verified and made durable by this run.
    archived: tuple[str, ...] = ()
    #: Already archived by an earlier run and still present with the recorded size.
    skipped: tuple[str, ...] = ()
    #: Deleted at the provider by this run (every one of them archived first).
    deleted: tuple[str, ...] = ()
    #: Listed but not completed yet: left for a later run.
    left_alone: tuple[str, ...] = ()
    failed: tuple[ArchiveFailure, ...] = ()
    #: Media bytes moved by this run.
    bytes: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed


@attrs.frozen(slots=True)
class ArchiveStarted:
    """The run began: where it archives to, and where its manifest is."""

    destination: str
    manifest: str | None
    dry_run: bool


@attrs.frozen(slots=True)
class TransferStarted:
    """A composition's media started downloading to ``key``."""

    id: str
    key: str
    #: The composition's own size in bytes, when the provider states it.
    size: int | None


@attrs.frozen(slots=True)
class TransferProgress:
    """Bytes of one composition's media received so far."""

    id: str
    done: int
    total: int | None


@attrs.frozen(slots=True)
class CompositionArchived:
    """A copy is durable and verified (and recorded in the manifest)."""

    id: str
    key: str
    size: int
    sha256: str


@attrs.frozen(slots=True)
class CompositionSkipped:
    """Already archived and still verified; nothing was downloaded."""

    id: str
    key: str


@attrs.frozen(slots=True)
class CompositionDeleted:
    """Deleted at the provider, after its copy was verified."""

    id: str


@attrs.frozen(slots=True)
class CompositionLeftAlone:
    """Not completed yet, so not archived."""

    id: str
    status: str | None


@attrs.frozen(slots=True)
class CompositionFailed:
    """This composition failed; the run goes on with the others."""

    failure: ArchiveFailure


@attrs.frozen(slots=True)
class ArchiveFinished:
    """The run ended; ``report`` is what ``archive()`` returns."""

    report: ArchiveReport


ArchiveEvent: TypeAlias = (
    ArchiveStarted
    | TransferStarted
    | TransferProgress
    | CompositionArchived
    | CompositionSkipped
    | CompositionDeleted
    | CompositionLeftAlone
    | CompositionFailed
    | ArchiveFinished
)
