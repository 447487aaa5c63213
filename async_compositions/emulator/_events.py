"""The webhook payloads a lifecycle step produces, per provider."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ._store import COMPLETED, FAILED, PROCESSING, TelnyxComposition, TwilioComposition

__all__ = ["telnyx_completed_event", "twilio_callbacks"]

TELNYX_COMPLETED = "video.room.composition.completed"


def twilio_callbacks(
    record: TwilioComposition, status: str
) -> list[tuple[str, list[tuple[str, str]]]]:
    """``(StatusCallbackEvent, form fields)`` for each callback entering ``status`` sends."""
    events: list[tuple[str, list[tuple[str, str]]]] = []
    if status == PROCESSING:
        events.append(("composition-started", []))
    elif status == COMPLETED:
        events.append(
            ("composition-progress", [("PercentageDone", "100"), ("SecondsRemaining", "0")])
        )
        available = [
            ("MediaUri", f"/v1/Compositions/{record.sid}/Media"),
            ("Duration", str(record.duration)),
            ("Size", str(record.size)),
        ]
        events.append(("composition-available", available))
    elif status == FAILED:
        failed = [
            ("FailedOperation", "media_processing"),
            ("ErrorMessage", "Internal failure while processing media composition"),
        ]
        events.append(("composition-failed", failed))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    common = [
        ("AccountSid", record.account_sid),
        ("RoomSid", record.room_sid),
        ("CompositionSid", record.sid),
        ("CompositionUri", f"/v1/Compositions/{record.sid}"),
    ]
    return [
        (event, [*common, ("StatusCallbackEvent", event), ("Timestamp", stamp), *extra])
        for event, extra in events
    ]


def telnyx_completed_event(
    record: TelnyxComposition, event_id: str, download_url: str | None
) -> dict[str, Any]:
    """The ``data`` of a ``video.room.composition.completed`` webhook."""
    return {
        "record_type": "event",
        "event_type": TELNYX_COMPLETED,
        "id": event_id,
        # The format of the documented example (a space, not a "T").
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%fZ"),
        "payload": {
            "composition_id": record.id,
            "download_url": download_url,
            "duration_secs": record.duration_secs,
            "format": record.format,
            "resolution": record.resolution,
            "room_id": record.room_id,
            "session_id": record.session_id,
            "size_mb": record.size_mb,
        },
    }
