"""The emulator's state: both providers' compositions and their processing lifecycle."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "COMPLETED",
    "DELETED",
    "ENQUEUED",
    "FAILED",
    "PROCESSING",
    "Store",
    "TelnyxComposition",
    "Transition",
    "TwilioComposition",
    "telnyx_time",
    "twilio_time",
]

ENQUEUED = "enqueued"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
DELETED = "deleted"
_ACTIVE = (ENQUEUED, PROCESSING)

# Namespace for deriving a stable room id from a Telnyx session id.
_ROOMS = uuid.UUID("6f1c1b1e-2a53-4c55-9d0e-6a1f0d1c2b3a")


def twilio_time(value: datetime | None) -> str | None:
    """Twilio's ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def telnyx_time(value: datetime | None) -> str | None:
    """Telnyx's ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds)."""
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True)
class TwilioComposition:
    """A Twilio composition as the emulator keeps it."""

    sid: str
    account_sid: str
    room_sid: str
    date_created: datetime
    audio_sources: list[str]
    audio_sources_excluded: list[str]
    video_layout: dict[str, Any]
    resolution: str
    format: str
    trim: bool
    status_callback: str | None
    status_callback_method: str
    media_size: int
    media_duration: int
    status: str = ENQUEUED
    date_completed: datetime | None = None
    date_deleted: datetime | None = None

    @property
    def id(self) -> str:
        """The SID."""
        return self.sid

    @property
    def media_key(self) -> str:
        """What the media bytes are derived from."""
        return f"twilio:{self.sid}"

    @property
    def failure_keys(self) -> tuple[str, ...]:
        """Ids a caller may mark as failing to make this composition fail."""
        return (self.room_sid, self.sid)

    @property
    def size(self) -> int:
        """Bytes of the media: 0 until completed (and after deletion, as Twilio keeps it)."""
        return self.media_size if self.date_completed is not None else 0

    @property
    def duration(self) -> int:
        """Seconds of media: 0 until completed."""
        return self.media_duration if self.date_completed is not None else 0

    @property
    def bitrate(self) -> int:
        """Average bit rate in kbps (rounded up): 0 until completed."""
        if self.date_completed is None or not self.media_duration:
            return 0
        return -(-self.media_size * 8 // (self.media_duration * 1000))


@dataclass(slots=True)
class TelnyxComposition:
    """A Telnyx room composition as the emulator keeps it."""

    id: str
    room_id: str
    session_id: str
    user_id: str
    format: str
    resolution: str
    video_layout: dict[str, Any]
    webhook_event_url: str | None
    webhook_event_failover_url: str | None
    webhook_timeout_secs: int | None
    created_at: datetime
    media_size: int
    media_duration: int
    status: str = ENQUEUED
    updated_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    completed_at: datetime | None = None
    # When the download_url handed out last expires (Unix seconds; 0: none handed out).
    url_expires: int = 0

    @property
    def media_key(self) -> str:
        """What the media bytes are derived from."""
        return f"telnyx:{self.id}"

    @property
    def failure_keys(self) -> tuple[str, ...]:
        """Ids a caller may mark as failing to make this composition fail."""
        return (self.session_id, self.room_id, self.id)

    @property
    def size_mb(self) -> float | None:
        """Decimal megabytes of the media, once completed."""
        return self.media_size / 1_000_000 if self.completed_at is not None else None

    @property
    def duration_secs(self) -> int | None:
        """Seconds of media, once completed."""
        return self.media_duration if self.completed_at is not None else None


Composition = TwilioComposition | TelnyxComposition


@dataclass(frozen=True, slots=True)
class Transition:
    """One lifecycle step of one composition."""

    provider: Literal["twilio", "telnyx"]
    record: Composition
    old: str
    new: str


@dataclass(slots=True)
class Store:
    """Every composition, keyed by id, plus the ids callers marked to fail."""

    rng: random.Random
    account_sid: str
    user_id: str
    media_size: int
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    twilio: dict[str, TwilioComposition] = field(default_factory=dict)
    telnyx: dict[str, TelnyxComposition] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)

    # -- ids -------------------------------------------------------------------------------

    def new_sid(self, prefix: str) -> str:
        """A Twilio-style SID: prefix and 32 lowercase hex digits."""
        return f"{prefix}{self.rng.getrandbits(128):032x}"

    def new_uuid(self) -> str:
        """A version-4 UUID drawn from the emulator's random generator."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_duration(self) -> int:
        """A plausible media duration in seconds."""
        return self.rng.randint(10, 600)

    @staticmethod
    def room_for_session(session_id: str) -> str:
        """The room a session belongs to (stable: one session, one room)."""
        return str(uuid.uuid5(_ROOMS, session_id.lower()))

    # -- records ---------------------------------------------------------------------------

    def find(self, id: str) -> Composition | None:
        """A composition of either provider by id."""
        return self.twilio.get(id) or self.telnyx.get(id)

    def twilio_listing(self) -> list[TwilioComposition]:
        """Twilio compositions, newest first (SID breaks ties)."""
        return sorted(self.twilio.values(), key=lambda r: (r.date_created, r.sid), reverse=True)

    def telnyx_listing(self) -> list[TelnyxComposition]:
        """Telnyx compositions, newest first (id breaks ties)."""
        return sorted(self.telnyx.values(), key=lambda r: (r.created_at, r.id), reverse=True)

    def active(self, ids: Iterable[str] | None = None) -> list[Composition]:
        """Compositions still enqueued or processing (all, or those with these ids)."""
        records: list[Composition] = [*self.twilio.values(), *self.telnyx.values()]
        if ids is not None:
            wanted = set(ids)
            records = [r for r in records if r.id in wanted]
        return [r for r in records if r.status in _ACTIVE]

    # -- lifecycle -------------------------------------------------------------------------

    def step(self, record: Composition) -> Transition | None:
        """Move ``record`` one step: enqueued -> processing -> completed (or failed)."""
        old = record.status
        if old == ENQUEUED:
            new = PROCESSING
        elif old == PROCESSING:
            new = FAILED if self.failing.intersection(record.failure_keys) else COMPLETED
        else:
            return None
        self._enter(record, new)
        provider: Literal["twilio", "telnyx"] = (
            "twilio" if isinstance(record, TwilioComposition) else "telnyx"
        )
        return Transition(provider, record, old, new)

    def _enter(self, record: Composition, status: str) -> None:
        now = self.clock()
        record.status = status
        if isinstance(record, TwilioComposition):
            if status == COMPLETED:
                record.date_completed = now
            return
        record.updated_at = now
        if status == PROCESSING:
            record.started_at = now
        elif status in (COMPLETED, FAILED):
            record.ended_at = now
            if status == COMPLETED:
                record.completed_at = now

    def settle(self, record: Composition, status: str, when: datetime) -> None:
        """Put a seeded record straight into ``status`` as of ``when``."""
        if status == ENQUEUED:
            return
        if isinstance(record, TwilioComposition):
            record.status = status
            if status in (COMPLETED, DELETED):
                record.date_completed = when
            if status == DELETED:
                record.date_deleted = when
            return
        record.status = status
        record.updated_at = when
        record.started_at = when
        if status in (COMPLETED, FAILED):
            record.ended_at = when
        if status == COMPLETED:
            record.completed_at = when
